// Package daemon is stsd's supervisor: one refresher per profile, the
// control API on a unix socket, and the daemon's lifecycle.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stsd/stsd/cache"
	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/clock"
	"github.com/stsd/stsd/internal/stsclient"
)

// Options configure a Supervisor. Zero values mean defaults.
type Options struct {
	Config *config.Config // required
	Store  *cache.Store   // nil: no disk cache
	Socket string         // control socket path; required by Run
	Logger *slog.Logger   // default: discard
	Clock  clock.Clock    // default clock.Real
	Rand   func() float64 // uniform [0,1); default math/rand/v2
	// HTTPClient sends STS requests (tests: the stand-in's transport).
	HTTPClient aws.HTTPClient
	// NewFetcher overrides how each profile reaches STS (tests).
	NewFetcher func(cfg *config.Config, p *config.Profile) Fetcher
	Version    string
	// WaitTimeout bounds how long a request waits for a first fetch;
	// default 15s.
	WaitTimeout time.Duration
	// ShutdownTimeout bounds in-flight requests at stop; default 5s.
	ShutdownTimeout time.Duration
}

// Supervisor runs every profile's refresher and the control API.
type Supervisor struct {
	o          Options
	uid        int
	started    time.Time
	refreshers map[string]*Refresher
	metrics    *Metrics
	ep         *localEndpoints // IMDS and ECS servers; set by Serve
}

// New builds a Supervisor for o.Config. It starts nothing.
func New(o Options) (*Supervisor, error) {
	if o.Config == nil {
		return nil, errors.New("daemon: no config")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.Real
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = 15 * time.Second
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 5 * time.Second
	}
	if o.NewFetcher == nil {
		so := stsclient.Options{HTTPClient: o.HTTPClient, Now: o.Clock.Now}
		if o.Store != nil {
			so.Identities = o.Store
		}
		o.NewFetcher = func(cfg *config.Config, p *config.Profile) Fetcher {
			return stsclient.New(cfg, p, so)
		}
	}
	s := &Supervisor{o: o, uid: os.Getuid(), refreshers: map[string]*Refresher{}}
	serials := map[string]*serialGuard{}
	for _, name := range o.Config.ProfileNames() {
		p := o.Config.Profiles[name]
		r := newRefresher(o.Config, p, o.NewFetcher(o.Config, p), &s.o)
		if p.MFASerial != "" {
			if serials[p.MFASerial] == nil {
				serials[p.MFASerial] = &serialGuard{}
			}
			r.serial = serials[p.MFASerial]
		}
		s.refreshers[name] = r
	}
	s.metrics = newMetrics(s)
	for _, r := range s.refreshers {
		r.metrics = s.metrics
	}
	return s, nil
}

// Metrics returns the daemon's metrics (endpoints count their requests).
func (s *Supervisor) Metrics() *Metrics { return s.metrics }

// Refresher returns the named profile's refresher, or nil.
func (s *Supervisor) Refresher(name string) *Refresher { return s.refreshers[name] }

// Run listens on the control socket, runs the refreshers, and serves until
// ctx ends; then it lets in-flight requests finish (bounded), stops every
// goroutine it started and removes the socket.
func (s *Supervisor) Run(ctx context.Context) error {
	ln, err := listenSocket(s.o.Socket, s.o.Config.SocketGroup)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on a listener the caller made.
func (s *Supervisor) Serve(ctx context.Context, ln net.Listener) error {
	s.started = s.o.Clock.Now()
	ep, err := s.listenEndpoints()
	if err != nil {
		ln.Close()
		return err
	}
	s.ep = ep
	// Everything started below stops with ctx, also when the control
	// server fails first.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      s.o.WaitTimeout + 10*time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ConnContext:       withPeer,
		ErrorLog:          slog.NewLogLogger(s.o.Logger.Handler(), slog.LevelDebug),
	}
	var wg sync.WaitGroup
	for _, r := range s.refreshers {
		wg.Go(func() { r.Run(ctx) })
	}
	s.o.Logger.Info("listening", "event", "started", "socket", s.o.Socket, "profiles", len(s.refreshers))
	serveErr := make(chan error, 1)
	wg.Go(func() { serveErr <- srv.Serve(ln) })
	// The endpoints stop with ctx; wg.Wait below joins them.
	ep.serve(ctx, &wg, s)

	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.o.ShutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil {
		srv.Close()
	}
	stop()
	wg.Wait()
	s.o.Logger.Info("stopped", "event", "stopped")
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	return nil
}

// Status reports every profile.
func (s *Supervisor) Status() *Status {
	st := &Status{
		Version: s.o.Version, PID: os.Getpid(), Config: s.o.Config.Path,
		Socket: s.o.Socket, Started: s.started.UTC(),
	}
	for _, name := range s.o.Config.ProfileNames() {
		ps := s.refreshers[name].Status()
		ps.Endpoints = s.endpoints(s.o.Config.Profiles[name])
		st.Profiles = append(st.Profiles, ps)
	}
	return st
}

func (s *Supervisor) endpoints(p *config.Profile) []string {
	out := []string{"credential_process"}
	if s.ep != nil { // serving: the bound addresses
		return append(out, s.endpointAddrs(p)...)
	}
	if p.IMDSListen != "" {
		out = append(out, "imds "+p.IMDSListen)
	}
	if s.o.Config.ECS != nil {
		out = append(out, "ecs "+s.o.Config.ECS.Listen)
	}
	return out
}

// ErrUnknownProfile is returned for a profile this daemon does not serve.
var ErrUnknownProfile = errors.New("unknown profile")

// Credentials returns profile's current valid credentials for an endpoint
// (IMDS, ECS, broker). Like every reader it never starts a fetch: it waits
// (bounded by ctx and WaitTimeout) only while a first fetch is under way.
// Errors: ErrUnknownProfile, ErrNeedsMFA, or one wrapping ErrUnavailable.
func (s *Supervisor) Credentials(ctx context.Context, profile string) (cache.Credentials, error) {
	r := s.refreshers[profile]
	if r == nil {
		return cache.Credentials{}, fmt.Errorf("%w %q", ErrUnknownProfile, profile)
	}
	ctx, cancel := context.WithTimeout(ctx, s.o.WaitTimeout)
	defer cancel()
	snap, err := r.Credentials(ctx)
	if err != nil {
		return cache.Credentials{}, err
	}
	return *snap.creds, nil
}
