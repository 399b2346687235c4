package imds

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"github.com/stsd/stsd/internal/httpserve"
	"github.com/stsd/stsd/internal/peercred"
	"github.com/stsd/stsd/internal/wire"
)

// Paths of the instance metadata service stsd answers; Go v2, botocore and
// JS read credentials from the legacy security-credentials paths only, the
// other SDKs try security-credentials-extended first.
const (
	pathToken       = "/latest/api/token"
	pathMetaData    = "/latest/meta-data/"
	pathIAM         = "/latest/meta-data/iam/"
	pathCreds       = "/latest/meta-data/iam/security-credentials"
	pathCredsExt    = "/latest/meta-data/iam/security-credentials-extended"
	pathIAMInfo     = "/latest/meta-data/iam/info"
	pathPlacement   = "/latest/meta-data/placement/"
	pathRegion      = "/latest/meta-data/placement/region"
	pathAZ          = "/latest/meta-data/placement/availability-zone"
	pathInstanceID  = "/latest/meta-data/instance-id"
	pathIdentityDoc = "/latest/dynamic/instance-identity/document"
)

// contentIMDS is what the instance metadata service labels every answer
// with, JSON documents included.
const contentIMDS = "text/plain"

// ec2Handler is one profile's IMDSv2 endpoint.
type ec2Handler struct {
	src        Source
	p          Profile
	o          Options
	key        *tokenKey
	started    time.Time
	instanceID string
	profileID  string

	bodies httpserve.Bodies // rendered credential documents

	mu       sync.Mutex // guards the fields that follow
	lastKey  string     // access key id last handed out
	lastSeen time.Time  // when it was first handed out (LastUpdated)
}

// NewIMDS returns profile p's EC2-IMDSv2-compatible handler: token PUT,
// the IAM credential paths (legacy and extended), iam/info, placement,
// instance-id and the instance identity document, behind the local
// endpoints' security checks in their fixed order (httpserve). Tokens are signed with a key drawn now,
// so each handler (each daemon start) has its own.
func NewIMDS(src Source, p Profile, o Options) http.Handler {
	return newEC2Handler(src, p, o).served()
}

// served is the endpoint as NewIMDS serves it: the checks, then the fast
// path, then the router.
func (h *ec2Handler) served() http.Handler { return h.chain(h.auth(h.fast(h.router()))) }

// newEC2Handler is NewIMDS's handler state: the profile, its token key
// and its stable ids.
func newEC2Handler(src Source, p Profile, o Options) *ec2Handler {
	o = o.withDefaults()
	p = p.WithDefaults()
	rnd := o.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	key, err := newTokenKey(rnd)
	if err != nil {
		panic("imds: token key: " + err.Error()) // crypto/rand never fails; an injected Rand must not
	}
	seed := sha256.Sum256([]byte("stsd\x00" + o.Hostname + "\x00" + p.Name))
	return &ec2Handler{
		src: src, p: p, o: o, key: key, started: o.Now(),
		// An instance id is "i-" and 17 hex digits; stable per host and
		// profile so tools that key on it see one instance.
		instanceID: "i-" + hex.EncodeToString(seed[:9])[:17],
		profileID:  "AIPA" + base32.StdEncoding.EncodeToString(seed[9:])[:17],
	}
}

// chain puts the checks in front of inner, in order: proxy headers →
// Host → caller → inner (auth: the token, then the handlers); the access
// log sees every answer.
func (h *ec2Handler) chain(inner http.Handler) http.Handler {
	rule := h.p.Rule()
	fixed := func(*http.Request) peercred.Rule { return rule }
	o := h.o
	return httpserve.AccessLog(httpserve.Log{Logger: o.AccessLogger.With("profile", h.p.Name), Now: o.Now, Endpoint: "imds", OnRequest: o.OnRequest},
		httpserve.RejectProxyHeaders(httpserve.CheckHost(
			peercred.Check{Log: o.Logger, UID: o.PeerUID, Container: o.ContainerPeer, Rule: fixed, Deny: deny}.Require(inner))))
}

// router is every path the endpoint answers, behind the checks: the one
// router all profiles' endpoints share, given this handler in the
// request's context.
func (h *ec2Handler) router() http.Handler {
	rt := sharedRouter()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), handlerKey{}, h)))
	})
}

// handlerKey is the request context key of the ec2Handler a shared route
// answers for.
type handlerKey struct{}

var sharedRouter = sync.OnceValue(newRouter)

// newRouter routes the paths of the instance metadata service to the
// ec2Handler in the request's context.
func newRouter() *mux.Router {
	r := mux.NewRouter()
	// No path cleaning: mux would redirect "/a/../b" to "/b"; a traversal
	// gets a plain 404 instead.
	r.SkipClean(true)
	r.NotFoundHandler = http.HandlerFunc(httpserve.NotFound)
	r.MethodNotAllowedHandler = http.HandlerFunc(httpserve.MethodNotAllowed)
	on := func(f func(*ec2Handler, http.ResponseWriter, *http.Request)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { f(r.Context().Value(handlerKey{}).(*ec2Handler), w, r) }
	}
	text := func(body func(*ec2Handler) string) http.HandlerFunc {
		return on(func(h *ec2Handler, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", contentIMDS)
			w.Write([]byte(body(h)))
		})
	}
	fixed := func(body string) http.HandlerFunc { return text(func(*ec2Handler) string { return body }) }
	// Paths are compared as strings (mux would compile each template into
	// a regular expression, some 6 KB of live heap per route); mux still
	// routes, and answers 405 to a known path's other methods.
	route := func(path string, f http.HandlerFunc, methods ...string) {
		exact := func(req *http.Request, _ *mux.RouteMatch) bool { return req.URL.Path == path }
		r.NewRoute().MatcherFunc(exact).Methods(methods...).HandlerFunc(f)
	}
	get := func(path string, f http.HandlerFunc) { route(path, f, http.MethodGet, http.MethodHead) }
	route(pathToken, on((*ec2Handler).token), http.MethodPut)
	get(pathMetaData, fixed("iam/\ninstance-id\nplacement/"))
	get(pathIAM, fixed("info\nsecurity-credentials/"))
	// botocore uses the role list body verbatim as the next path segment:
	// exactly the profile name, no trailing newline.
	roles := text(func(h *ec2Handler) string { return h.p.Name })
	for _, base := range []string{pathCreds, pathCredsExt} {
		get(base, roles)
		get(base+"/", roles)
	}
	// A role's credentials: base/ and one path segment, its name.
	named := func(base string, extended bool) {
		prefix := base + "/"
		one := func(req *http.Request, _ *mux.RouteMatch) bool {
			name, ok := strings.CutPrefix(req.URL.Path, prefix)
			return ok && name != "" && !strings.Contains(name, "/")
		}
		r.NewRoute().MatcherFunc(one).Methods(http.MethodGet, http.MethodHead).HandlerFunc(
			on(func(h *ec2Handler, w http.ResponseWriter, r *http.Request) {
				h.credentials(w, r, strings.TrimPrefix(r.URL.Path, prefix), extended, h.o.Now())
			}))
	}
	named(pathCreds, false)
	named(pathCredsExt, true)
	get(pathIAMInfo, on((*ec2Handler).iamInfo))
	get(pathPlacement, fixed("availability-zone\nregion"))
	get(pathRegion, text(func(h *ec2Handler) string { return h.p.Region }))
	get(pathAZ, text(func(h *ec2Handler) string { return h.p.Region + "a" }))
	get(pathInstanceID, text(func(h *ec2Handler) string { return h.instanceID }))
	get(pathIdentityDoc, on((*ec2Handler).identityDocument))
	return r
}

// authed is a handler behind auth, given the clock reading the token was
// checked with.
type authed func(w http.ResponseWriter, r *http.Request, now time.Time)

// auth requires a valid token on everything but the token PUT itself
// (which goes to next at the zero time). With imds_v1 a request without a
// token passes; one with an invalid token is still refused, as on EC2.
func (h *ec2Handler) auth(next authed) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == pathToken {
			next(w, r, time.Time{})
			return
		}
		now := h.o.Now()
		tok, present := r.Header[tokenHeader]
		switch {
		case !present && h.o.IMDSV1:
		case !present:
			httpserve.WriteError(w, http.StatusUnauthorized, httpserve.CodeUnauthorized, "an IMDSv2 token is required: PUT "+pathToken+" first")
			return
		case len(tok) != 1 || !h.key.valid(h.p.Name, tok[0], now):
			httpserve.WriteError(w, http.StatusUnauthorized, httpserve.CodeUnauthorized, "the IMDSv2 token is invalid or expired")
			return
		}
		next(w, r, now)
	})
}

// fast answers the credential GETs SDKs repeat (this profile's legacy and
// extended paths) with the token's clock reading and without the router,
// which would walk its routes and add a request and a context per request
// (the shared router finds this handler in the context); everything else
// goes to routed. Its answers are the router's.
func (h *ec2Handler) fast(routed http.Handler) authed {
	legacy, extended := pathCreds+"/"+h.p.Name, pathCredsExt+"/"+h.p.Name
	return func(w http.ResponseWriter, r *http.Request, now time.Time) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			switch r.URL.Path {
			case legacy:
				h.credentials(w, r, h.p.Name, false, now)
				return
			case extended:
				h.credentials(w, r, h.p.Name, true, now)
				return
			}
		}
		routed.ServeHTTP(w, r)
	}
}

// token answers PUT /latest/api/token: the body is the token, and the TTL
// header is echoed (Go v2 treats the token as failed without it).
func (h *ec2Handler) token(w http.ResponseWriter, r *http.Request) {
	ttl, err := parseTTL(r.Header.Values(ttlHeader))
	if err != nil {
		httpserve.WriteError(w, http.StatusBadRequest, httpserve.CodeBadRequest, err.Error())
		return
	}
	tok := h.key.mint(h.p.Name, h.o.Now().Add(time.Duration(ttl)*time.Second))
	hd := w.Header()
	hd.Set("Content-Type", contentIMDS)
	hd.Set("Cache-Control", "no-store")
	hd.Set(ttlHeader, strconv.Itoa(ttl))
	w.Write([]byte(tok))
}

// current returns credentials valid at now or later and when they were
// checked, or answers 503: never expired ones.
func (h *ec2Handler) current(w http.ResponseWriter, r *http.Request, now time.Time) (wire.Credentials, time.Time, bool) {
	return httpserve.Credentials(w, r, h.src, h.p.Name, now)
}

// credentials answers the credential document of role name (only this
// profile's exists), extended with AccountId or not, checked at now or
// later.
func (h *ec2Handler) credentials(w http.ResponseWriter, r *http.Request, name string, extended bool, now time.Time) {
	if name != h.p.Name {
		httpserve.NotFound(w, r)
		return
	}
	c, at, ok := h.current(w, r, now)
	if !ok {
		return
	}
	variant := "legacy"
	if extended {
		variant = "extended"
	}
	h.bodies.Get(variant, contentIMDS, c, func() []byte { return ec2Credentials(c, h.lastUpdated(c.AccessKeyID), extended) }).Write(w, at)
}

// lastUpdated is when this handler first handed out key id akid.
func (h *ec2Handler) lastUpdated(akid string) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	if akid != h.lastKey {
		h.lastKey, h.lastSeen = akid, h.o.Now()
	}
	return h.lastSeen
}

func (h *ec2Handler) iamInfo(w http.ResponseWriter, r *http.Request) {
	c, _, ok := h.current(w, r, h.o.Now())
	if !ok {
		return
	}
	kv := []string{"Code", `"Success"`, "LastUpdated", jsonString(wire.Stamp(h.lastUpdated(c.AccessKeyID)))}
	if c.AccountID != "" {
		kv = append(kv, "InstanceProfileArn", jsonString("arn:aws:iam::"+c.AccountID+":instance-profile/"+h.p.Name))
	}
	kv = append(kv, "InstanceProfileId", jsonString(h.profileID))
	w.Header().Set("Content-Type", contentIMDS)
	w.Write(ec2Doc(kv...))
}

// identityDocument answers the document Go v2 reads "region" from
// (config.WithEC2IMDSRegion). The account comes from the credentials when
// they name one; the document is served without it otherwise.
func (h *ec2Handler) identityDocument(w http.ResponseWriter, r *http.Request) {
	account := ""
	if c, _, err := h.src.CredentialsAt(r.Context(), h.p.Name, h.o.Now()); err == nil {
		account = c.AccountID
	}
	doc := ec2Doc(
		"accountId", jsonString(account),
		"availabilityZone", jsonString(h.p.Region+"a"),
		"instanceId", jsonString(h.instanceID),
		"pendingTime", jsonString(wire.Stamp(h.started)),
		"privateIp", `"127.0.0.1"`,
		"region", jsonString(h.p.Region),
		"version", `"2017-09-30"`,
	)
	w.Header().Set("Content-Type", contentIMDS)
	w.Write(doc)
}
