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
	src      Source
	profiles map[string]Profile
	tokens   *Tokens
	o        Options
	bodies   httpserve.Bodies // rendered documents, by profile
}

// NewECS returns the ECS-compatible handler: GET /v1/credentials/{profile}
// with "Authorization: <token>", where the token is the profile's own
// (token_dir) or an exec token scoped to it. 401 without a token, 403 with
// a wrong one or another profile's.
func New(src Source, profiles []Profile, tokens *Tokens, o Options) http.Handler {
	o = o.withDefaults()
	h := &ecsHandler{src: src, profiles: map[string]Profile{}, tokens: tokens, o: o}
	for _, p := range profiles {
		h.profiles[p.Name] = p.WithDefaults()
	}
	r := mux.NewRouter()
	r.SkipClean(true) // a traversal is a 404, not a redirect
	r.NotFoundHandler = http.HandlerFunc(httpserve.NotFound)
	r.MethodNotAllowedHandler = http.HandlerFunc(httpserve.MethodNotAllowed)
	// The caller and token checks need the profile from the path, so they
	// run inside the route; the order is still proxy headers → Host →
	// caller → token → handler.
	r.Handle(Path("{profile}"), peercred.Check{Log: o.Logger, UID: o.PeerUID, Container: o.ContainerPeer, Rule: h.rule, Deny: deny}.Require(h.auth(http.HandlerFunc(h.credentials)))).
		Methods(http.MethodGet, http.MethodHead)
	return httpserve.AccessLog(httpserve.Log{Logger: o.Logger, Now: o.Now, Endpoint: "ecs", OnRequest: o.OnRequest},
		httpserve.RejectProxyHeaders(httpserve.CheckHost(r)))
}

// rule is who may read the path's profile; an unknown one gets the
// defaults (only this process's user passes the caller check), so other
// users learn nothing about which profiles exist.
func (h *ecsHandler) rule(r *http.Request) peercred.Rule {
	name := mux.Vars(r)["profile"]
	p, ok := h.profiles[name]
	if !ok {
		p = Profile{Name: name}.WithDefaults()
	}
	return p.Rule()
}

func (h *ecsHandler) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := mux.Vars(r)["profile"]
		vals := r.Header.Values("Authorization")
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
			return
		case h.profiles[name].Name == "":
			httpserve.WriteError(w, http.StatusNotFound, httpserve.CodeUnknownProfile, "this endpoint does not serve profile "+strconv.Quote(name))
			return
		case err != nil:
			h.o.Logger.Warn("token refused", "event", "token_refused", "endpoint", "ecs", "profile", name, "remote", r.RemoteAddr)
			httpserve.WriteError(w, http.StatusForbidden, httpserve.CodeForbidden, "the token is not valid for profile "+strconv.Quote(name))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (h *ecsHandler) credentials(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["profile"]
	c, ok := httpserve.Credentials(w, r, h.src, name, h.o.Now)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", httpserve.ContentJSON)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(h.bodies.Get(name, c, func() []byte { return wire.ContainerDocument(c) }))
}

// Source hands out a profile's current valid credentials.
type Source = httpserve.Source

// Profile is a profile the endpoint serves, and who may read it.
type Profile = httpserve.Profile

// Options configure New and StartEphemeral. Zero values mean defaults.
type Options struct {
	Logger *slog.Logger     // default: discard
	Now    func() time.Time // default time.Now
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
