package daemon

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/imds"
)

// startBroker serves [broker], when the config has one, on wg until ctx
// ends. The certificate is loaded and the address bound before it
// returns: a broker that cannot start fails the daemon's start. Broker
// settings change only on restart (restartOnly).
func (s *Supervisor) startBroker(ctx context.Context, wg *sync.WaitGroup) error {
	cfg := s.cur().cfg
	if cfg.Broker == nil {
		return nil
	}
	br, err := imds.NewBroker(s, brokerOptions(cfg, imds.Options{
		Logger: s.o.Logger, Now: s.o.Clock.Now, ShutdownTimeout: s.o.ShutdownTimeout,
		OnRequest: func(endpoint string, status int) {
			s.metrics.EndpointRequest.Inc(endpoint, strconv.Itoa(status))
		},
	}))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Broker.Listen)
	if err != nil {
		return fmt.Errorf("broker listen: %w", err)
	}
	s.setServing(func() { s.brokerAddr = ln.Addr().String() })
	s.o.Logger.Info("broker listening", "event", "broker_started", "addr", ln.Addr().String(), "clients", len(cfg.Broker.Clients))
	wg.Go(func() {
		if err := br.Serve(ctx, ln); err != nil {
			s.o.Logger.Error("broker failed", "event", "broker_failed", "err", err)
		}
	})
	return nil
}

// brokerOptions is what the imds broker needs from cfg.
func brokerOptions(cfg *config.Config, o imds.Options) imds.BrokerOptions {
	b := cfg.Broker
	bo := imds.BrokerOptions{
		Options:  o,
		CertFile: b.TLSCertFile, KeyFile: b.TLSKeyFile, ClientCAFile: b.ClientCAFile,
		Rate: b.Rate, MaxConnections: b.MaxConnections, TrustedProxies: b.TrustedProxies,
	}
	served := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(b.Clients)) {
		c := b.Clients[name]
		bo.Clients = append(bo.Clients, imds.BrokerClient{
			Name: c.Name, TokenSHA256: c.TokenSHA256, Profiles: c.Profiles, AllowedCIDRs: c.AllowedCIDRs,
		})
		for _, p := range c.Profiles {
			served[p] = true
		}
	}
	for _, name := range cfg.ProfileNames() {
		if p := cfg.Profiles[name]; served[name] {
			bo.Profiles = append(bo.Profiles, imds.BrokerProfile{Name: name, FederationName: p.FederationName})
		}
	}
	return bo
}
