package daemon

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/ecs"
	"github.com/stsd/stsd/imds"
	"github.com/stsd/stsd/internal/httpserve"
	"github.com/stsd/stsd/internal/linklocal"
	"github.com/stsd/stsd/internal/peercred"
)

// localEndpoints are the local credential servers: one IMDS listener per
// profile with imds_listen, the ECS listener when [ecs] is set, and the
// container listener with [ecs] container_listen. A reload reconciles them
// with the new config: a listener whose address is unchanged stays bound
// and gets a new handler; others close or open. Listeners on link-local
// addresses (169.254.169.254, 169.254.170.2) are opened through ll, which
// puts the address on lo and removes it when the listener closes.
type localEndpoints struct {
	s  *Supervisor
	ll *linklocal.Manager
	// mu guards the fields that follow (reconcile writes, readers look up).
	mu        sync.Mutex
	imds      map[string]*liveServer // by profile
	ecs       *liveServer            // nil without [ecs]
	tokens    *ecs.Tokens            // nil without [ecs]
	ecsBase   string                 // "http://127.0.0.1:PORT" as bound
	container *liveServer            // nil without container_listen
	ids       *ecs.IDs               // container ids; nil without container_listen
	idsPath   string
}

// liveServer is one running endpoint whose handler can be swapped.
type liveServer struct {
	listen string // the configured address
	ln     net.Listener
	h      atomic.Pointer[http.Handler]
	stop   func() // cancels the server and waits for it
}

func (l *liveServer) ServeHTTP(w http.ResponseWriter, r *http.Request) { (*l.h.Load()).ServeHTTP(w, r) }

func (l *liveServer) set(h http.Handler) { l.h.Store(&h) }

// endpointProfile is what the local endpoints need to know about p.
func endpointProfile(p *config.Profile) httpserve.Profile {
	return httpserve.Profile{Name: p.Name, Region: p.Region, AllowedUIDs: p.AllowedUIDs, AnyLocalUser: p.IMDSAnyLocalUser,
		ContainerCIDRs: p.ContainerCIDRs}
}

// brokerOnly: a profile whose federated name uses {client} is minted per
// broker client and served by the broker only.
func brokerOnly(p *config.Profile) bool { return strings.Contains(p.FederationName, "{client}") }

func newLocalEndpoints(s *Supervisor) *localEndpoints {
	return &localEndpoints{s: s, imds: map[string]*liveServer{}, ll: linklocal.New(linklocal.Options{Logger: s.o.Logger})}
}

// listen binds addr: through ll when it is a link-local address (probing
// for a real instance metadata service first when probe is set), else on
// loopback as usual.
func (ep *localEndpoints) listen(ctx context.Context, addr string, probe bool) (net.Listener, error) {
	if ap, err := netip.ParseAddrPort(addr); err == nil && linklocal.Known(ap.Addr()) {
		return ep.ll.Listen(ctx, linklocal.Bind{Addr: ap, Probe: probe})
	}
	return net.Listen("tcp", addr)
}

func (ep *localEndpoints) imdsOptions(p *config.Profile) imds.Options {
	s := ep.s
	return imds.Options{Logger: s.o.Logger, AccessLogger: s.o.AccessLogger, Now: s.o.Clock.Now, OnRequest: s.countRequest, IMDSV1: p.IMDSV1}
}

func (ep *localEndpoints) ecsOptions() ecs.Options {
	s := ep.s
	return ecs.Options{Logger: s.o.Logger, AccessLogger: s.o.AccessLogger, Now: s.o.Clock.Now, OnRequest: s.countRequest}
}

// binding is what a reconcile bound before changing anything.
type binding struct {
	imds        map[string]net.Listener // new or moved IMDS listeners, by profile
	ecs         net.Listener            // a new or moved ECS listener
	container   net.Listener            // a new or moved container listener
	tokens      *ecs.Tokens
	ids         *ecs.IDs
	idsPath     string
	ecsProfiles []ecs.Profile
}

func (b *binding) close() {
	for _, ln := range b.imds {
		ln.Close()
	}
	for _, ln := range []net.Listener{b.ecs, b.container} {
		if ln != nil {
			ln.Close()
		}
	}
}

// reconcile makes the running endpoints match cfg. Every new listener is
// bound first: if one cannot be, nothing changes and the error says which.
// New servers run in g.
func (ep *localEndpoints) reconcile(g *runGroup, cfg *config.Config) error {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	b, err := ep.bind(g.ctx, cfg)
	if err != nil {
		b.close()
		return err
	}
	ep.retire(cfg, b)
	ep.start(g, cfg, b)
	ep.sweep(cfg)
	return nil
}

// sweep removes crashed daemons' link-local leftovers cfg does not use
// and nothing listens on.
func (ep *localEndpoints) sweep(cfg *config.Config) {
	var keep []netip.Addr
	for _, l := range cfg.LinkLocalListeners() {
		keep = append(keep, l.Addr.Addr())
	}
	listening := peercred.Listeners()
	ep.ll.Sweep(keep, func(a netip.Addr) bool {
		return slices.ContainsFunc(listening, func(ap netip.AddrPort) bool { return ap.Addr() == a })
	})
}

// bind binds what is new, or moved to another address, and loads the ECS
// token files.
func (ep *localEndpoints) bind(ctx context.Context, cfg *config.Config) (*binding, error) {
	b := &binding{imds: map[string]net.Listener{}}
	for _, name := range cfg.ProfileNames() {
		p := cfg.Profiles[name]
		if p.IMDSListen == "" {
			continue
		}
		if old := ep.imds[name]; old != nil && old.listen == p.IMDSListen {
			continue
		}
		ln, err := ep.listen(ctx, p.IMDSListen, !p.ReplaceInstanceMetadata)
		if err != nil {
			return b, fmt.Errorf("imds_listen of profile %q: %w", name, err)
		}
		b.imds[name] = ln
	}
	e := cfg.ECS
	if e == nil {
		return b, nil
	}
	var names []string
	for _, name := range cfg.ProfileNames() {
		if p := cfg.Profiles[name]; !brokerOnly(p) {
			b.ecsProfiles = append(b.ecsProfiles, endpointProfile(p))
			names = append(names, name)
		}
	}
	// Exec tokens survive a reload: keep the set, (re)read the files.
	b.tokens = ep.tokens
	if b.tokens == nil {
		b.tokens = ecs.NewTokens(ep.s.o.Clock.Now)
	}
	if err := b.tokens.LoadDir(e.TokenDir, names); err != nil {
		return b, err
	}
	if ep.ecs == nil || ep.ecs.listen != e.Listen {
		ln, err := net.Listen("tcp", e.Listen)
		if err != nil {
			return b, fmt.Errorf("ecs listen: %w", err)
		}
		b.ecs = ln
	}
	return b, ep.bindContainer(ctx, e, b)
}

// bindContainer opens the container ids and binds container_listen when
// they are new or moved.
func (ep *localEndpoints) bindContainer(ctx context.Context, e *config.ECS, b *binding) error {
	if e.ContainerListen == "" {
		return nil
	}
	b.idsPath = filepath.Join(e.TokenDir, ecs.IDsFile)
	b.ids = ep.ids
	if b.ids == nil || ep.idsPath != b.idsPath {
		ids, err := ecs.OpenIDs(b.idsPath, ep.s.o.Clock.Now)
		if err != nil {
			return err
		}
		b.ids = ids
	}
	if ep.container == nil || ep.container.listen != e.ContainerListen {
		ln, err := ep.listen(ctx, e.ContainerListen, false)
		if err != nil {
			return fmt.Errorf("ecs container_listen: %w", err)
		}
		b.container = ln
	}
	return nil
}

// retire stops what cfg drops or moves, and gives what stays cfg's
// handler.
func (ep *localEndpoints) retire(cfg *config.Config, b *binding) {
	for name, l := range ep.imds {
		p := cfg.Profiles[name]
		if p == nil || p.IMDSListen != l.listen {
			l.stop()
			delete(ep.imds, name)
			continue
		}
		l.set(imds.NewIMDS(ep.s, endpointProfile(p), ep.imdsOptions(p)))
	}
	if ep.ecs != nil && (cfg.ECS == nil || cfg.ECS.Listen != ep.ecs.listen) {
		ep.ecs.stop()
		ep.ecs, ep.ecsBase = nil, ""
	}
	if ep.ecs != nil {
		ep.ecs.set(ecs.New(ep.s, b.ecsProfiles, b.tokens, ep.ecsOptions()))
	}
	ep.tokens = b.tokens
	if ep.container != nil && (cfg.ECS == nil || cfg.ECS.ContainerListen != ep.container.listen) {
		ep.container.stop()
		ep.container = nil
	}
	if ep.container != nil {
		ep.container.set(ecs.NewContainer(ep.s, b.ecsProfiles, b.ids, ep.ecsOptions()))
	}
	ep.ids, ep.idsPath = b.ids, b.idsPath
}

// start serves the listeners bind made.
func (ep *localEndpoints) start(g *runGroup, cfg *config.Config, b *binding) {
	for name, ln := range b.imds {
		p := cfg.Profiles[name]
		ep.imds[name] = ep.serve(g, "imds "+name, p.IMDSListen, ln, imds.NewIMDS(ep.s, endpointProfile(p), ep.imdsOptions(p)))
	}
	if b.ecs != nil {
		ep.ecs = ep.serve(g, "ecs", cfg.ECS.Listen, b.ecs, ecs.New(ep.s, b.ecsProfiles, b.tokens, ep.ecsOptions()))
		ep.ecsBase = "http://" + b.ecs.Addr().String()
	}
	if b.container != nil {
		ep.container = ep.serve(g, "ecs-container", cfg.ECS.ContainerListen, b.container, ecs.NewContainer(ep.s, b.ecsProfiles, b.ids, ep.ecsOptions()))
	}
}

// serve runs one endpoint in g until g stops or it is stopped.
func (ep *localEndpoints) serve(g *runGroup, name, listen string, ln net.Listener, h http.Handler) *liveServer {
	l := &liveServer{listen: listen, ln: ln}
	l.set(h)
	sctx, cancel := context.WithCancel(g.ctx)
	done := make(chan struct{})
	l.stop = func() { cancel(); <-done }
	log := ep.s.o.Logger
	log.Info("endpoint listening", "event", "endpoint_started", "endpoint", name, "addr", ln.Addr().String())
	o := httpserve.Options{Logger: log, ShutdownTimeout: ep.s.o.ShutdownTimeout, ConnContext: peercred.ConnContext}
	started := g.Go(func(context.Context) {
		defer close(done)
		if err := httpserve.Serve(sctx, ln, l, o); err != nil {
			log.Error("endpoint failed", "event", "endpoint_failed", "endpoint", name, "err", err)
		}
	})
	if !started {
		ln.Close()
		close(done)
	}
	return l
}

// ecsInfo returns the ECS token set and base URL ("" without [ecs]).
func (ep *localEndpoints) ecsInfo() (*ecs.Tokens, string) {
	if ep == nil {
		return nil, ""
	}
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.ecs == nil {
		return nil, ""
	}
	return ep.tokens, ep.ecsBase
}

// addrs lists the bound endpoint addresses serving p, for status.
func (ep *localEndpoints) addrs(p *config.Profile) []string {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	var out []string
	if l := ep.imds[p.Name]; l != nil {
		out = append(out, "imds "+l.ln.Addr().String())
	}
	if ep.ecs != nil && !brokerOnly(p) {
		out = append(out, "ecs "+ep.ecs.ln.Addr().String())
	}
	if ep.container != nil && !brokerOnly(p) {
		out = append(out, "ecs-container "+ep.container.ln.Addr().String())
	}
	return out
}

// containerIDs returns the container ids, or nil without container_listen.
func (ep *localEndpoints) containerIDs() *ecs.IDs {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.container == nil {
		return nil
	}
	return ep.ids
}
