package imds

import (
	"errors"
	"net/http"

	"github.com/gorilla/mux"
)

// ECSPath is where the ECS endpoint serves profile p:
// AWS_CONTAINER_CREDENTIALS_FULL_URI = http://127.0.0.1:PORT + ECSPath(p).
func ECSPath(profile string) string { return "/v1/credentials/" + profile }

// ecsHandler is the ECS-container-credentials-compatible endpoint.
type ecsHandler struct {
	src      Source
	profiles map[string]Profile
	tokens   *Tokens
	o        Options
	bodies   bodies // rendered documents, by profile
}

// NewECS returns the ECS-compatible handler: GET /v1/credentials/{profile}
// with "Authorization: <token>", where the token is the profile's own
// (token_dir) or an exec token scoped to it. 401 without a token, 403 with
// a wrong one or another profile's.
func NewECS(src Source, profiles []Profile, tokens *Tokens, o Options) http.Handler {
	o = o.withDefaults()
	h := &ecsHandler{src: src, profiles: map[string]Profile{}, tokens: tokens, o: o}
	for _, p := range profiles {
		h.profiles[p.Name] = p.withDefaults()
	}
	r := mux.NewRouter()
	r.SkipClean(true) // a traversal is a 404, not a redirect
	r.NotFoundHandler = http.HandlerFunc(notFound)
	r.MethodNotAllowedHandler = http.HandlerFunc(methodNotAllowed)
	// callerCheck and auth need the profile from the path, so they run
	// inside the route; the order is still rejectXFF → checkHost →
	// callerCheck → auth → handler.
	r.Handle(ECSPath("{profile}"), callerCheck(o, h.profile, h.auth(http.HandlerFunc(h.credentials)))).
		Methods(http.MethodGet, http.MethodHead)
	return accessLog(o, o.Logger, "ecs", rejectXFF(checkHost(r)))
}

// profile is the path's profile; an unknown one gets the defaults (only
// this process's user passes the caller check), so other users learn
// nothing about which profiles exist.
func (h *ecsHandler) profile(r *http.Request) Profile {
	name := mux.Vars(r)["profile"]
	if p, ok := h.profiles[name]; ok {
		return p
	}
	return Profile{Name: name}.withDefaults()
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
			writeError(w, http.StatusUnauthorized, codeUnauthorized, "an Authorization header with the profile's token is required")
			return
		case h.profiles[name].Name == "":
			writeError(w, http.StatusNotFound, codeUnknownProfile, "this endpoint does not serve profile "+quote(name))
			return
		case err != nil:
			h.o.Logger.Warn("token refused", "event", "token_refused", "endpoint", "ecs", "profile", name, "remote", r.RemoteAddr)
			writeError(w, http.StatusForbidden, codeForbidden, "the token is not valid for profile "+quote(name))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (h *ecsHandler) credentials(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["profile"]
	c, ok := current(w, r, h.src, name, h.o.Now)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", contentJSON)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(h.bodies.get(name, c, func() []byte { return ecsCredentials(c) }))
}
