// Package daemon is stsd's supervisor: one refresher per profile, the
// control API on a unix socket, and the daemon's lifecycle.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stsd/stsd/broker"
	"github.com/stsd/stsd/cache"
	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/clock"
	"github.com/stsd/stsd/internal/httpserve"
	"github.com/stsd/stsd/internal/mfa"
	"github.com/stsd/stsd/internal/stsclient"
	"github.com/stsd/stsd/internal/wire"
	"github.com/stsd/stsd/keys"
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
	NewFetcher func(cfg *config.Config, p *config.Profile) stsclient.Fetcher
	Version    string
	// WaitTimeout bounds how long a request waits for a first fetch;
	// default 15s.
	WaitTimeout time.Duration
	// ShutdownTimeout bounds in-flight requests at stop; default 5s.
	ShutdownTimeout time.Duration
	// ExecBodyTimeout bounds how long an exec-token request may take to
	// send its (empty) body; default 5s.
	ExecBodyTimeout time.Duration
	// Load re-reads the config for a reload (SIGHUP, POST /v1/reload, a
	// watched file changing); nil disables reloads and the file watch.
	Load func() (*config.Config, error)
	// WatchDebounce gathers a save's file events; default 300ms.
	WatchDebounce time.Duration
	// Passphrase unlocks the file keyring, asked once for the daemon's
	// life (reloads keep it); nil: keys' default sources.
	Passphrase *keys.Passphrase
	// KeyCloud is what key rotations call AWS with (tests); default an
	// stsclient.Cloud over HTTPClient.
	KeyCloud keys.Cloud
	// KeysDir holds key metadata and rotation journals; default the
	// layout's state dir + "/keys".
	KeysDir string
	// ReadyDir, when set, is where Serve keeps each profile's ready-made
	// credential_process document for the daemon's own user
	// (paths.Layout.ReadyDir: user layout only); "" keeps none.
	ReadyDir string
	// AccessLogger gets the IMDS and ECS endpoints' one line per request
	// (a batched writer: httpserve.LogBuffer); default Logger.
	AccessLogger *slog.Logger
}

// Supervisor runs every profile's refresher, the local endpoints and the
// control API, and applies config reloads.
type Supervisor struct {
	o       Options
	uid     int
	metrics *Metrics
	ep      *localEndpoints // IMDS and ECS servers (started by Serve)

	// servingMu guards the fields that follow, set by Serve as it binds.
	servingMu   sync.Mutex
	started     time.Time
	metricsAddr string         // the bound metrics_listen address
	brokerAddr  string         // the bound [broker] address
	broker      *broker.Server // the running broker, nil without one

	view     atomic.Pointer[view]     // what every reader sees; replaced whole by reloads
	group    atomic.Pointer[runGroup] // set while Serve runs
	reloadCh chan reloadRequest       // served by Serve's manager goroutine
	// pairs refreshes the broker's (client, profile) pairs.
	pairs *pairScheduler
	// clientsMu guards the fields that follow: refreshers minting a
	// profile for one broker client, made on first use, and what the
	// pairs of one profile share.
	clientsMu    sync.RWMutex
	clients      map[pairKey]*Refresher
	pairProfiles map[string]*pairProfile
	// reloadMu guards the fields that follow.
	reloadMu   sync.Mutex
	reloadErr  string    // last failed reload, for status ("" after a good one)
	reloadedAt time.Time // last successful reload

	keys keyState // long-term key stores and the rotation schedule

	readyFiles atomic.Pointer[readyStore] // set while Serve runs with a ReadyDir
	// apisMu guards the fields that follow: the STS API clients the
	// profiles of apisCfg share.
	apisMu  sync.Mutex
	apisCfg *config.Config
	apis    *stsclient.APIs
}

// stsAPIs is the set of STS API clients cfg's profiles share (a reload
// starts a new one: the shared files may have changed with it).
func (s *Supervisor) stsAPIs(cfg *config.Config) *stsclient.APIs {
	s.apisMu.Lock()
	defer s.apisMu.Unlock()
	if s.apisCfg != cfg {
		s.apisCfg, s.apis = cfg, stsclient.NewAPIs()
	}
	return s.apis
}

// view is one consistent generation of config and refreshers.
type view struct {
	cfg        *config.Config
	refreshers map[string]*Refresher
}

func (s *Supervisor) cur() *view { return s.view.Load() }

// names are the profiles this daemon serves locally, sorted (profiles
// minted per broker client have no refresher of their own).
func (v *view) names() []string { return slices.Sorted(maps.Keys(v.refreshers)) }

// New builds a Supervisor for o.Config. It starts nothing.
func New(o Options) (*Supervisor, error) {
	if o.Config == nil {
		return nil, errors.New("daemon: no config")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.AccessLogger == nil {
		o.AccessLogger = o.Logger
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
	if o.ExecBodyTimeout <= 0 {
		o.ExecBodyTimeout = 5 * time.Second
	}
	if o.WatchDebounce <= 0 {
		o.WatchDebounce = defaultDebounce
	}
	if o.Passphrase == nil {
		o.Passphrase = &keys.Passphrase{Command: o.Config.Keyring.PassphraseCommand}
	}
	s := &Supervisor{o: o, uid: os.Getuid(), reloadCh: make(chan reloadRequest),
		pairs:   newPairScheduler(o.Clock),
		clients: map[pairKey]*Refresher{}, pairProfiles: map[string]*pairProfile{},
		keys: keyState{kick: make(chan struct{}, 1)}}
	if o.NewFetcher == nil {
		so := stsclient.Options{HTTPClient: o.HTTPClient, Now: o.Clock.Now}
		if o.Store != nil {
			so.Identities = o.Store
		}
		s.o.NewFetcher = func(cfg *config.Config, p *config.Profile) stsclient.Fetcher {
			so := so
			so.Keys = s.keyStores(cfg) // a rotated key is read at the next refresh
			so.APIs = s.stsAPIs(cfg)
			return stsclient.New(cfg, p, so)
		}
	}
	s.metrics = newMetrics(s)
	s.ep = newLocalEndpoints(s)
	s.view.Store(&view{cfg: o.Config, refreshers: s.buildRefreshers(o.Config, nil)})
	return s, nil
}

// buildRefreshers makes a refresher per profile of cfg, reusing those of
// keep whose profile is unchanged; profiles sharing an MFA device share
// one serial guard, and role profiles are linked to their via_profile.
func (s *Supervisor) buildRefreshers(cfg *config.Config, keep map[string]*Refresher) map[string]*Refresher {
	out := map[string]*Refresher{}
	serials := map[string]*mfa.Guard{}
	for name, r := range keep {
		if r.serial != nil {
			serials[r.profile.MFASerial] = r.serial
		}
		out[name] = r
	}
	for _, name := range cfg.ProfileNames() {
		p := cfg.Profiles[name]
		if out[name] != nil || brokerOnly(p) {
			// A {client} profile is minted per broker client only.
			continue
		}
		sp := refresherSpec{cfg: cfg, profile: p, fetcher: s.o.NewFetcher(cfg, p), metrics: s.metrics}
		if p.MFASerial != "" {
			if serials[p.MFASerial] == nil {
				serials[p.MFASerial] = mfa.NewGuard()
			}
			sp.serial = serials[p.MFASerial]
		}
		r := newRefresher(sp, &s.o)
		r.published = func(sn *snapshot) { s.readyPublished(r, sn) }
		out[name] = r
	}
	// A role profile with via_profile reads its parent's snapshots. Kept
	// refreshers already point at their (kept) parents: reload keeps a
	// child only together with its parent.
	for name, r := range out {
		if keep[name] == nil && r.profile.ViaProfile != "" {
			r.parent = out[r.profile.ViaProfile]
		}
	}
	return out
}

// releaseStartupMemory returns the heap the first fetches used (SDK
// config, TLS roots) to the OS once they are done: the runtime would keep
// it for minutes, and an idle per-host daemon should stay small (make bench:
// ~20 → ~16 MiB RSS with 10 profiles). Wall-clock on purpose: this is about
// memory, not the refresh schedule.
func releaseStartupMemory(ctx context.Context) {
	t := time.NewTimer(15 * time.Second)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
		debug.FreeOSMemory()
	}
}

// ReleaseMemory runs a GC and returns every free page to the OS (`stsd
// run` does it on SIGUSR1), then logs the heap (its spans in use, and the
// live objects in them) and the goroutine stacks left: RSS after it is
// what the daemon holds, without the garbage and free pages of its last
// busy moment.
func ReleaseMemory(log *slog.Logger) {
	runtime.GC() // the first cycle moves sync.Pool contents aside; the next frees them
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	log.Info("unused memory returned to the OS", "event", "memory_released", "heap_bytes", m.HeapInuse,
		"heap_live_bytes", m.HeapAlloc, "stack_bytes", m.StackInuse)
}

// setServing records what Serve bound, for Status.
func (s *Supervisor) setServing(f func()) {
	s.servingMu.Lock()
	defer s.servingMu.Unlock()
	f()
}

// Metrics returns the daemon's metrics (endpoints count their requests).
func (s *Supervisor) Metrics() *Metrics { return s.metrics }

// Config returns the config in force.
func (s *Supervisor) Config() *config.Config { return s.cur().cfg }

// Refresher returns the named profile's refresher, or nil.
func (s *Supervisor) Refresher(name string) *Refresher { return s.cur().refreshers[name] }

// Run listens on the control socket, runs the refreshers, and serves until
// ctx ends; then it lets in-flight requests finish (bounded), stops every
// goroutine it started and removes the socket.
func (s *Supervisor) Run(ctx context.Context) error {
	ln, err := listenSocket(s.o.Socket, s.cur().cfg.SocketGroup)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on a listener the caller made.
func (s *Supervisor) Serve(ctx context.Context, ln net.Listener) error {
	s.setServing(func() { s.started = s.o.Clock.Now() })
	// Everything started below runs in g and stops with it, also when the
	// control server fails first.
	g := newRunGroup(ctx)
	s.group.Store(g)
	defer s.group.Store(nil)
	s.readyFiles.Store(openReadyFiles(s.o.ReadyDir, s.o.Logger, s.o.Clock.Now))
	defer func() { s.readyFiles.Swap(nil).close() }()
	if err := s.start(g); err != nil {
		ln.Close()
		g.stop()
		return err
	}
	srv := httpserve.NewServer(g.ctx, s.Handler(), httpserve.Options{Logger: s.o.Logger, ConnContext: withPeer,
		Limits: httpserve.Limits{ReadHeader: 5 * time.Second, Read: 10 * time.Second, Write: s.o.WaitTimeout + 10*time.Second,
			Idle: time.Minute, MaxHeaderBytes: 16 << 10}})
	s.o.Logger.Info("listening", "event", "started", "socket", s.o.Socket, "profiles", len(s.cur().refreshers))
	err := httpserve.Run(g.ctx, srv, ln, s.o.ShutdownTimeout)
	g.stop()
	s.o.Logger.Info("stopped", "event", "stopped")
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	return nil
}

// start brings up, in g, the endpoints, metrics_listen, the broker, the
// refreshers and the manager. Every listener is bound before it returns.
func (s *Supervisor) start(g *runGroup) error {
	cfg := s.cur().cfg
	if err := s.ep.reconcile(g, cfg); err != nil {
		return err
	}
	if addr := cfg.MetricsListen; addr != "" {
		mln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("metrics_listen: %w", err)
		}
		s.setServing(func() { s.metricsAddr = mln.Addr().String() })
		s.o.Logger.Info("metrics listening", "event", "metrics_started", "addr", mln.Addr().String())
		g.Go(func(ctx context.Context) {
			if err := httpserve.Serve(ctx, mln, s.healthHandler(), httpserve.Options{Logger: s.o.Logger, ShutdownTimeout: s.o.ShutdownTimeout}); err != nil {
				s.o.Logger.Error("metrics endpoint failed", "event", "metrics_failed", "err", err)
			}
		})
	}
	if err := s.startBroker(g); err != nil {
		return err
	}
	for _, r := range s.cur().refreshers {
		r.start(g)
	}
	g.Go(func(context.Context) { s.manage(g) })
	g.Go(s.rotateKeys)
	g.Go(releaseStartupMemory)
	return nil
}

// Status reports every profile.
func (s *Supervisor) Status() *Status {
	v := s.cur()
	st := &Status{
		Version: s.o.Version, PID: os.Getpid(), Config: v.cfg.Path,
		Socket: s.o.Socket,
	}
	s.servingMu.Lock()
	st.Started, st.Metrics, st.Broker = s.started.UTC(), s.metricsAddr, s.brokerAddr
	s.servingMu.Unlock()
	s.reloadMu.Lock()
	st.ReloadError = s.reloadErr
	if !s.reloadedAt.IsZero() {
		t := s.reloadedAt.UTC()
		st.Reloaded = &t
	}
	s.reloadMu.Unlock()
	for _, name := range v.names() {
		ps := v.refreshers[name].Status()
		ps.Endpoints = s.endpoints(v.cfg, v.cfg.Profiles[name])
		st.Profiles = append(st.Profiles, ps)
	}
	st.Clients = s.clientStatus()
	st.Keys = s.keyInfos(context.Background())
	return st
}

// ClientCredentials returns profile's credentials as minted for one broker
// client (its own federated name and cache entry), with the federated
// user's ARN. Only what the config in force grants is minted: the client
// exists, lists the profile, and the profile is a federation profile. The
// pair is scheduled on first use; like every reader this never fetches
// itself.
func (s *Supervisor) ClientCredentials(ctx context.Context, profile, client string) (broker.Minted, error) {
	r, err := s.clientRefresher(profile, client)
	if err != nil {
		return broker.Minted{}, err
	}
	snap := r.snap.Load()
	if !snap.valid(s.o.Clock.Now()) { // not the common case: wait for a first fetch
		ctx, cancel := context.WithTimeout(ctx, s.o.WaitTimeout)
		defer cancel()
		if snap, err = r.Credentials(ctx); err != nil {
			return broker.Minted{}, err
		}
	}
	return broker.Minted{Credentials: *snap.creds, ARN: snap.arn, Document: snap.doc}, nil
}
func (s *Supervisor) endpoints(cfg *config.Config, p *config.Profile) []string {
	out := []string{"credential_process"}
	if a := s.ep.addrs(p); len(a) > 0 { // serving: the bound addresses
		return append(out, a...)
	}
	if p.IMDSListen != "" {
		out = append(out, "imds "+p.IMDSListen)
	}
	if cfg.ECS != nil {
		out = append(out, "ecs "+cfg.ECS.Listen)
		if cfg.ECS.ContainerListen != "" {
			out = append(out, "ecs-container "+cfg.ECS.ContainerListen)
		}
	}
	return out
}

// ErrUnknownProfile is returned for a profile this daemon does not serve.
var ErrUnknownProfile = errors.New("unknown profile")

// Credentials returns profile's current valid credentials. Like every
// reader it never starts a fetch: it waits (bounded by ctx and
// WaitTimeout) only while a first fetch is under way. Errors:
// ErrUnknownProfile, mfa.ErrNeeded, or one wrapping ErrUnavailable.
func (s *Supervisor) Credentials(ctx context.Context, profile string) (wire.Credentials, error) {
	c, _, err := s.CredentialsAt(ctx, profile, s.o.Clock.Now())
	return c, err
}

// CredentialsAt is Credentials for an endpoint (httpserve.Source) that
// read the clock at now: credentials valid at now are handed out with
// now, and ones it had to wait for with the clock read once they came,
// so an answer needs one clock reading, not one here and one there.
func (s *Supervisor) CredentialsAt(ctx context.Context, profile string, now time.Time) (wire.Credentials, time.Time, error) {
	r := s.cur().refreshers[profile]
	if r == nil {
		return wire.Credentials{}, time.Time{}, fmt.Errorf("%w %q", ErrUnknownProfile, profile)
	}
	if snap := r.snap.Load(); snap.valid(now) {
		return *snap.creds, now, nil // the common case: no timer, no wait
	}
	ctx, cancel := context.WithTimeout(ctx, s.o.WaitTimeout)
	defer cancel()
	snap, err := r.Credentials(ctx)
	if err != nil {
		return wire.Credentials{}, time.Time{}, err
	}
	return *snap.creds, s.o.Clock.Now(), nil
}
