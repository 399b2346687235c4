// Package ecs is the ECS-container-credentials-compatible endpoint: GET
// /v1/credentials/{profile} with the profile's token (its token file, or
// one scoped to an exec'd command), and the private endpoint `stsd exec`
// serves itself when no daemon does.
package ecs

import (
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/stsd/stsd/internal/httpserve"
	"github.com/stsd/stsd/internal/peercred"
	"github.com/stsd/stsd/internal/wire"
)

// Path is where the ECS endpoint serves profile p:
// AWS_CONTAINER_CREDENTIALS_FULL_URI = http://127.0.0.1:PORT + Path(p).
func Path(profile string) string { return "/v1/credentials/" + profile }

// ecsHandler is the ECS-container-credentials-compatible endpoint.
type ecsHandler struct {
	src     Source
	rules   map[string]peercred.Rule // who may read each profile served, by name
	unknown peercred.Rule            // who may ask for a profile not served
	tokens  *Tokens
	o       Options
	check   peercred.Check
	bodies  httpserve.Bodies // rendered documents, by profile
}

// pathPrefix is Path without the profile.
const pathPrefix = "/v1/credentials/"

// NewECS returns the ECS-compatible handler: GET /v1/credentials/{profile}
// with "Authorization: <token>", where the token is the profile's own
// (token_dir) or an exec token scoped to it. 401 without a token, 403 with
// a wrong one or another profile's.
func New(src Source, profiles []Profile, tokens *Tokens, o Options) http.Handler {
	return newECS(src, profiles, tokens, o).served()
}

// served is the endpoint as New serves it: the checks, then the fast
// path, then the router.
func (h *ecsHandler) served() http.Handler { return h.chain(h.fast(h.router())) }

// newECS is New's handler state: the profiles, who may read each, and
// the caller check.
func newECS(src Source, profiles []Profile, tokens *Tokens, o Options) *ecsHandler {
	o = o.withDefaults()
	// A profile not served gets the defaults (only this process's user
	// passes the caller check), so other users learn nothing about which
	// profiles exist.
	h := &ecsHandler{src: src, rules: map[string]peercred.Rule{}, unknown: Profile{}.WithDefaults().Rule(), tokens: tokens, o: o}
	for _, p := range profiles {
		p = p.WithDefaults()
		h.rules[p.Name] = p.Rule()
	}
	h.check = peercred.Check{Log: o.Logger, UID: o.PeerUID, Container: o.ContainerPeer, Deny: deny}
	return h
}

// router is the endpoint's one route, with the 404 and 405 answers.
func (h *ecsHandler) router() *mux.Router {
	r := mux.NewRouter()
	r.SkipClean(true) // a traversal is a 404, not a redirect
	r.NotFoundHandler = http.HandlerFunc(httpserve.NotFound)
	r.MethodNotAllowedHandler = http.HandlerFunc(httpserve.MethodNotAllowed)
	r.HandleFunc(Path("{profile}"), func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, mux.Vars(r)["profile"]) }).
		Methods(http.MethodGet, http.MethodHead)
	return r
}

// chain puts the checks that need no profile in front of inner: proxy
// headers → Host; serve adds caller → token. The access log sees every
// answer.
func (h *ecsHandler) chain(inner http.Handler) http.Handler {
	o := h.o
	return httpserve.AccessLog(httpserve.Log{Logger: o.AccessLogger, Now: o.Now, Endpoint: "ecs", OnRequest: o.OnRequest},
		httpserve.RejectProxyHeaders(httpserve.CheckHost(inner)))
}

// fast answers GET and HEAD /v1/credentials/{profile} (the one route; a
// profile is a path segment, as the router's {profile} is) without the
// router, which would match it with a regular expression and a context
// per request; everything else (other methods and paths, and their 404
// and 405) goes to routed. Both call serve.
func (h *ecsHandler) fast(routed http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			if name, ok := strings.CutPrefix(r.URL.Path, pathPrefix); ok && name != "" && !strings.Contains(name, "/") {
				h.serve(w, r, name)
				return
			}
		}
		routed.ServeHTTP(w, r)
	})
}

// serve answers profile name's credentials after the checks that need the
// profile, in order: caller, then token.
func (h *ecsHandler) serve(w http.ResponseWriter, r *http.Request, name string) {
	rule, known := h.rules[name] // one lookup: who may read it, and whether it is served
	if !known {
		rule = h.unknown
		rule.Profile = name
	}
	if h.check.Allow(w, r, rule) && h.authorized(w, r, name, known) {
		h.credentials(w, r, name)
	}
}

// authorized reports whether r carries a token for profile name (known:
// one the endpoint serves); when not, it has answered 401, 404 (a token
// but an unknown profile) or 403.
func (h *ecsHandler) authorized(w http.ResponseWriter, r *http.Request, name string, known bool) bool {
	vals := r.Header["Authorization"]
	err := ErrNoToken
	switch len(vals) {
	case 0:
	case 1:
		err = h.tokens.Check(name, vals[0])
	default: // which one would count? neither
		err = ErrWrongToken
	}
	switch {
	case errors.Is(err, ErrNoToken):
		httpserve.WriteError(w, http.StatusUnauthorized, httpserve.CodeUnauthorized, "an Authorization header with the profile's token is required")
		return false
	case !known:
		httpserve.WriteError(w, http.StatusNotFound, httpserve.CodeUnknownProfile, "this endpoint does not serve profile "+strconv.Quote(name))
		return false
	case err != nil:
		h.o.Logger.Warn("token refused", "event", "token_refused", "endpoint", "ecs", "profile", name, "remote", r.RemoteAddr)
		httpserve.WriteError(w, http.StatusForbidden, httpserve.CodeForbidden, "the token is not valid for profile "+strconv.Quote(name))
		return false
	}
	return true
}

func (h *ecsHandler) credentials(w http.ResponseWriter, r *http.Request, name string) {
	c, at, ok := httpserve.Credentials(w, r, h.src, name, h.o.Now())
	if !ok {
		return
	}
	h.bodies.Get(name, httpserve.ContentJSON, c, func() []byte { return wire.ContainerDocument(c) }).Write(w, at)
}

// Source hands out a profile's current valid credentials.
type Source = httpserve.Source

// Profile is a profile the endpoint serves, and who may read it.
type Profile = httpserve.Profile

// Options configure New and StartEphemeral. Zero values mean defaults.
type Options struct {
	Logger *slog.Logger // default: discard
	// AccessLogger gets the one line per request (the daemon's batched
	// writer); default Logger. Refusals and audit lines go to Logger.
	AccessLogger *slog.Logger
	Now          func() time.Time // default time.Now
	// PeerUID returns the uid at the other end of the request's TCP
	// connection; default peercred.TCPUID where the OS can tell.
	PeerUID func(*http.Request) (int, error)
	// ContainerPeer tells a caller from another network namespace (a
	// container) on a link-local listener; default peercred.ContainerPeer.
	ContainerPeer func(*http.Request) (netip.Addr, bool)
	// OnRequest, if set, is told "ecs" and the status of every request.
	OnRequest func(endpoint string, status int)
	// ShutdownTimeout bounds in-flight requests when an ephemeral endpoint
	// closes; default 5s.
	ShutdownTimeout time.Duration
}

func (o Options) withDefaults() Options {
	o.Logger, o.Now = httpserve.Logger(o.Logger), httpserve.Clock(o.Now)
	if o.AccessLogger == nil {
		o.AccessLogger = o.Logger
	}
	if o.PeerUID == nil && peercred.Supported {
		o.PeerUID = peercred.TCPUID
	}
	if o.ContainerPeer == nil {
		o.ContainerPeer = peercred.ContainerPeer
	}
	return o
}

// deny is the caller check's refusal.
func deny(w http.ResponseWriter, profile string) {
	httpserve.WriteError(w, http.StatusForbidden, httpserve.CodeForbidden,
		"this caller may not read profile "+strconv.Quote(profile)+": add its uid to the profile's allowed_uids (a container: its address to container_cidrs)")
}
