package daemon

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"

	"github.com/stsd/stsd/broker"
	"github.com/stsd/stsd/config"
)

// startBroker serves [broker], when the config has one, in g. The certificate is loaded and the address bound before it
// returns: a broker that cannot start fails the daemon's start. Its
// clients follow every reload (applyBrokerClients); its other settings
// change only on restart (restartOnly).
func (s *Supervisor) startBroker(g *runGroup) error {
	cfg := s.cur().cfg
	if cfg.Broker == nil {
		return nil
	}
	br, err := broker.New(s, brokerOptions(cfg, broker.Options{
		Logger: s.o.Logger, Now: s.o.Clock.Now, ShutdownTimeout: s.o.ShutdownTimeout,
		OnRequest: s.countRequest,
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
	g.Go(func(context.Context) { s.pairs.run(g) })
	g.Go(func(ctx context.Context) {
		if err := br.Serve(ctx, ln); err != nil {
			s.o.Logger.Error("broker failed", "event", "broker_failed", "err", err)
		}
	})
	return nil
}

// brokerOptions adds cfg's broker settings to o.
func brokerOptions(cfg *config.Config, o broker.Options) broker.Options {
	b := cfg.Broker
	o.CertFile, o.KeyFile, o.ClientCAFile = b.TLSCertFile, b.TLSKeyFile, b.ClientCAFile
	o.Rate, o.MaxConnections, o.MaxConnectionsPerAddress = b.Rate, b.MaxConnections, b.MaxConnectionsPerAddress
	o.TrustedProxies, o.Clients = b.TrustedProxies, brokerClients(cfg)
	return o
}

// brokerClients is cfg's client table for the broker (none without
// [broker]: every token is refused).
func brokerClients(cfg *config.Config) []broker.Client {
	if cfg.Broker == nil {
		return nil
	}
	var out []broker.Client
	for _, name := range slices.Sorted(maps.Keys(cfg.Broker.Clients)) {
		c := cfg.Broker.Clients[name]
		out = append(out, broker.Client{
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
