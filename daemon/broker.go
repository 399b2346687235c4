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
// returns: a broker that cannot start fails the daemon's start. Its
// clients follow every reload (applyBrokerClients); its other settings
// change only on restart (restartOnly).
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
	s.setServing(func() { s.brokerAddr, s.broker = ln.Addr().String(), br })
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
	return imds.BrokerOptions{
		Options:  o,
		CertFile: b.TLSCertFile, KeyFile: b.TLSKeyFile, ClientCAFile: b.ClientCAFile,
		Rate: b.Rate, MaxConnections: b.MaxConnections, MaxConnectionsPerAddress: b.MaxConnectionsPerAddress,
		TrustedProxies: b.TrustedProxies, Clients: brokerClients(cfg),
	}
}

// brokerClients is cfg's client table for the broker (none without
// [broker]: every token is refused).
func brokerClients(cfg *config.Config) []imds.BrokerClient {
	if cfg.Broker == nil {
		return nil
	}
	var out []imds.BrokerClient
	for _, name := range slices.Sorted(maps.Keys(cfg.Broker.Clients)) {
		c := cfg.Broker.Clients[name]
		out = append(out, imds.BrokerClient{
			Name: c.Name, TokenSHA256: c.TokenSHA256, Profiles: c.Profiles,
			AllowedCIDRs: c.AllowedCIDRs, CertSHA256: c.CertSHA256,
		})
	}
	return out
}

// applyBrokerClients gives the running broker cfg's client table: added,
// rotated and removed clients, their profiles and CIDRs take effect
// before the reload returns.
func (s *Supervisor) applyBrokerClients(cfg *config.Config) error {
	s.servingMu.Lock()
	br := s.broker
	s.servingMu.Unlock()
	if br == nil {
		return nil
	}
	return br.SetClients(brokerClients(cfg))
}

// brokerGrants reports whether cfg lets client read profile through the
// broker: the client exists, lists the profile, and the profile is a
// federation profile.
func brokerGrants(cfg *config.Config, profile, client string) bool {
	if cfg.Broker == nil {
		return false
	}
	c, p := cfg.Broker.Clients[client], cfg.Profiles[profile]
	return c != nil && p != nil && p.Mode == config.ModeFederation && slices.Contains(c.Profiles, profile)
}
