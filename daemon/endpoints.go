package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/imds"
	"github.com/stsd/stsd/internal/wire"
)

// execTokenTTL bounds an exec token: the exec-token request renews it
// while its connection stays open, so a token outlives a vanished `stsd
// exec` by at most this long.
const execTokenTTL = time.Minute

// maxExecBody bounds an exec-token request's body, which should be empty.
const maxExecBody = 1 << 10

// localEndpoints are the local credential servers: one IMDS listener per
// profile with imds_listen, and the ECS listener when [ecs] is set. A
// reload reconciles them with the new config: a listener whose address is
// unchanged stays bound and gets a new handler; others close or open.
type localEndpoints struct {
	s *Supervisor
	// mu guards the fields that follow (reconcile writes, readers look up).
	mu      sync.Mutex
	imds    map[string]*liveServer // by profile
	ecs     *liveServer            // nil without [ecs]
	tokens  *imds.Tokens           // nil without [ecs]
	ecsBase string                 // "http://127.0.0.1:PORT" as bound
}

// liveServer is one running endpoint whose handler can be swapped.
type liveServer struct {
	name   string // "imds dev", "ecs"
	listen string // the configured address
	ln     net.Listener
	h      atomic.Pointer[http.Handler]
	stop   func() // cancels the server and waits for it
}

func (l *liveServer) ServeHTTP(w http.ResponseWriter, r *http.Request) { (*l.h.Load()).ServeHTTP(w, r) }

func (l *liveServer) set(h http.Handler) { l.h.Store(&h) }

// imdsProfile is what the imds package needs to know about p.
func imdsProfile(p *config.Profile) imds.Profile {
	return imds.Profile{
		Name: p.Name, Region: p.Region, AllowedUIDs: p.AllowedUIDs,
		AnyLocalUser: p.IMDSAnyLocalUser, IMDSV1: p.IMDSV1,
	}
}

// brokerOnly: a profile whose federated name uses {client} is minted per
// broker client and served by the broker only.
func brokerOnly(p *config.Profile) bool { return strings.Contains(p.FederationName, "{client}") }

func newLocalEndpoints(s *Supervisor) *localEndpoints {
	return &localEndpoints{s: s, imds: map[string]*liveServer{}}
}

func (ep *localEndpoints) options() imds.Options {
	s := ep.s
	return imds.Options{Logger: s.o.Logger, Now: s.o.Clock.Now, ShutdownTimeout: s.o.ShutdownTimeout,
		OnRequest: func(endpoint string, status int) {
			s.metrics.EndpointRequest.Inc(endpoint, strconv.Itoa(status))
		}}
}

// reconcile makes the running endpoints match cfg. Every new listener is
// bound first: if one cannot be, nothing changes and the error says which.
// New servers run on wg until ctx ends.
func (ep *localEndpoints) reconcile(ctx context.Context, wg *sync.WaitGroup, cfg *config.Config) (err error) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	o := ep.options()

	// 1. Bind what is new, or moved to another address.
	fresh := map[string]net.Listener{}
	defer func() {
		if err != nil {
			for _, ln := range fresh {
				ln.Close()
			}
		}
	}()
	bind := func(key, name, addr string) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fresh[key] = ln
		return nil
	}
	for _, name := range cfg.ProfileNames() {
		p := cfg.Profiles[name]
		if p.IMDSListen == "" {
			continue
		}
		if old := ep.imds[name]; old != nil && old.listen == p.IMDSListen {
			continue
		}
		if err := bind("imds "+name, fmt.Sprintf("imds_listen of profile %q", name), p.IMDSListen); err != nil {
			return err
		}
	}
	var tokens *imds.Tokens
	var ecsProfiles []imds.Profile
	if e := cfg.ECS; e != nil {
		var names []string
		for _, name := range cfg.ProfileNames() {
			if p := cfg.Profiles[name]; !brokerOnly(p) {
				ecsProfiles = append(ecsProfiles, imdsProfile(p))
				names = append(names, name)
			}
		}
		// Exec tokens survive a reload: keep the set, (re)read the files.
		tokens = ep.tokens
		if tokens == nil {
			tokens = imds.NewTokens(ep.s.o.Clock.Now)
		}
		if err := tokens.LoadDir(e.TokenDir, names); err != nil {
			return err
		}
		if ep.ecs == nil || ep.ecs.listen != e.Listen {
			if err := bind("ecs", "ecs listen", e.Listen); err != nil {
				return err
			}
		}
	}

	// 2. Stop what is gone or moved; swap handlers of what stays.
	for name, l := range ep.imds {
		p := cfg.Profiles[name]
		if p == nil || p.IMDSListen != l.listen {
			l.stop()
			delete(ep.imds, name)
			continue
		}
		l.set(imds.NewIMDS(ep.s, imdsProfile(p), o))
	}
	if ep.ecs != nil && (cfg.ECS == nil || cfg.ECS.Listen != ep.ecs.listen) {
		ep.ecs.stop()
		ep.ecs, ep.ecsBase = nil, ""
	}
	if ep.ecs != nil {
		ep.ecs.set(imds.NewECS(ep.s, ecsProfiles, tokens, o))
	}
	ep.tokens = tokens

	// 3. Start the new ones.
	start := func(name, listen string, ln net.Listener, h http.Handler) *liveServer {
		l := &liveServer{name: name, listen: listen, ln: ln}
		l.set(h)
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		l.stop = func() { cancel(); <-done }
		ep.s.o.Logger.Info("endpoint listening", "event", "endpoint_started", "endpoint", name, "addr", ln.Addr().String())
		wg.Go(func() {
			defer close(done)
			if err := imds.Serve(sctx, ln, l, o); err != nil {
				ep.s.o.Logger.Error("endpoint failed", "event", "endpoint_failed", "endpoint", name, "err", err)
			}
		})
		return l
	}
	for key, ln := range fresh {
		if key == "ecs" {
			ep.ecs = start("ecs", cfg.ECS.Listen, ln, imds.NewECS(ep.s, ecsProfiles, tokens, o))
			ep.ecsBase = "http://" + ln.Addr().String()
			continue
		}
		name := strings.TrimPrefix(key, "imds ")
		p := cfg.Profiles[name]
		ep.imds[name] = start(key, p.IMDSListen, ln, imds.NewIMDS(ep.s, imdsProfile(p), o))
	}
	return nil
}

// ecsInfo returns the ECS token set and base URL ("" without [ecs]).
func (ep *localEndpoints) ecsInfo() (*imds.Tokens, string) {
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
	return out
}

// execTokenReply is the first (and only) line POST /v1/exec-token/{p}
// writes before it holds the connection open.
type execTokenReply struct {
	Token      string    `json:"token"`
	URL        string    `json:"url"` // AWS_CONTAINER_CREDENTIALS_FULL_URI
	Region     string    `json:"region"`
	Expiration time.Time `json:"expiration"` // of the current credentials
}

// handleExecToken mints an ECS token scoped to the profile, writes it, and
// holds the connection: the token is renewed while the connection stays
// open and revoked as soon as it closes (the exec'd command ended) or the
// daemon stops; if renewals stop, it lapses after execTokenTTL.
func (s *Supervisor) handleExecToken(w http.ResponseWriter, r *http.Request, ref *Refresher) {
	// The server notices a closed connection, which revokes the token,
	// only once the body is read to its end: read it first, bounded, so
	// a body that never ends cannot hold a token open forever.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(s.o.ExecBodyTimeout)) // I/O deadlines are wall-clock
	if n, err := io.Copy(io.Discard, io.LimitReader(r.Body, maxExecBody+1)); err != nil || n > maxExecBody {
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusRequestTimeout, wire.CodeBadBody, "the request body did not arrive whole in time; POST /v1/exec-token takes no body")
		return
	}
	tokens, ecsBase := s.ep.ecsInfo()
	if tokens == nil {
		writeError(w, http.StatusConflict, wire.CodeNoECS, "this daemon has no [ecs] endpoint: stsd exec serves one itself")
		return
	}
	p := ref.profile
	if brokerOnly(p) {
		writeError(w, http.StatusNotFound, wire.CodeUnknownProfile, "profile "+quote(p.Name)+" is served by the broker only")
		return
	}
	creds, err := s.Credentials(r.Context(), p.Name)
	if err != nil {
		s.writeUnavailable(w, ref, err)
		return
	}
	tok := tokens.Issue(p.Name, execTokenTTL)
	defer tok.Revoke()
	// The request lives as long as the command: no read or write deadline.
	rc.SetReadDeadline(time.Time{})
	rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(execTokenReply{
		Token: tok.Token, URL: ecsBase + imds.ECSPath(p.Name),
		Region: p.Region, Expiration: creds.Expiration.UTC(),
	})
	if err := rc.Flush(); err != nil {
		return
	}
	log := s.o.Logger.With("profile", p.Name, "uid", peer(r))
	log.Info("exec token issued", "event", "exec_token_issued")
	defer log.Info("exec token revoked", "event", "exec_token_revoked")
	for {
		t := s.o.Clock.NewTimer(execTokenTTL / 3)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C():
			tok.Renew(execTokenTTL)
		}
	}
}
