package imds

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/stsd/stsd/cache"
	"github.com/stsd/stsd/internal/redact"
)

// ClientSource hands out a profile's credentials as minted for one broker
// client (its own federated user and cache entry). Like Source it never
// returns expired credentials and its errors hold no secret.
// *daemon.Supervisor is the daemon's ClientSource.
type ClientSource interface {
	ClientCredentials(ctx context.Context, profile, client string) (cache.Credentials, error)
}

// BrokerClient is one [broker.clients.NAME].
type BrokerClient struct {
	Name         string
	TokenSHA256  string // hex SHA-256 of the client's token
	Profiles     []string
	AllowedCIDRs []netip.Prefix // empty: any address
}

// BrokerProfile is a profile the broker serves.
type BrokerProfile struct {
	Name string
	// FederationName is the profile's federated user name, "{client}"
	// standing for the client's name (for the audit line's ARN).
	FederationName string
}

// BrokerOptions configure NewBroker. Zero values mean defaults.
type BrokerOptions struct {
	Options // logger, clock, OnRequest ("broker"), ShutdownTimeout

	CertFile, KeyFile string // PEM; re-read whenever they change
	ClientCAFile      string // "": no client certificates
	Clients           []BrokerClient
	Profiles          []BrokerProfile
	// Rate is each client's request rate (token bucket, burst 2 × Rate
	// but at least 1); default 10 a second.
	Rate float64
	// MaxConnections bounds open connections; default 1024.
	MaxConnections int
	// TrustedProxies may send PROXY protocol headers.
	TrustedProxies []netip.Prefix
	// AuthFailures is how many refused authentications (no token, a wrong
	// one, a client outside its allowed_cidrs) an address may make in a
	// row before its requests get 429; one is forgiven every
	// AuthFailureDecay. Defaults 10 and 6s (10 a minute).
	AuthFailures     int
	AuthFailureDecay time.Duration
}

func (o BrokerOptions) withDefaults() BrokerOptions {
	o.Options = o.Options.withDefaults()
	if o.Rate <= 0 {
		o.Rate = 10
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = 1024
	}
	if o.AuthFailures <= 0 {
		o.AuthFailures = 10
	}
	if o.AuthFailureDecay <= 0 {
		o.AuthFailureDecay = 6 * time.Second
	}
	return o
}

// Broker is the HTTPS broker: the ECS-compatible credentials endpoint for
// named clients on other hosts.
type Broker struct {
	o   BrokerOptions
	h   *brokerHandler
	tls *tls.Config
}

// NewBroker checks o and loads the certificate (and client CA); it fails
// if they do not load. It listens on nothing: see Serve.
func NewBroker(src ClientSource, o BrokerOptions) (*Broker, error) {
	o = o.withDefaults()
	h, err := newBrokerHandler(src, o)
	if err != nil {
		return nil, err
	}
	tc, err := brokerTLS(o.CertFile, o.KeyFile, o.ClientCAFile, o.Logger)
	if err != nil {
		return nil, err
	}
	return &Broker{o: o, h: h, tls: tc}, nil
}

// Handler is the broker's HTTP handler, without TLS or connection limits
// (tests drive it with httptest).
func (b *Broker) Handler() http.Handler { return b.h }

// Broker server limits. A credential GET may wait for a first fetch (the
// daemon bounds that at 15 s), hence the write timeout; everything a
// client sends fits in a few hundred bytes.
const (
	brokerReadHeaderTimeout = 5 * time.Second // also bounds the TLS handshake
	brokerReadTimeout       = 10 * time.Second
	brokerWriteTimeout      = 30 * time.Second
	brokerIdleTimeout       = time.Minute
	brokerMaxHeaderBytes    = 8 << 10
	brokerMaxStreams        = 32 // concurrent HTTP/2 requests per connection
)

// Serve serves HTTPS on ln until ctx ends, then lets in-flight requests
// finish (bounded by ShutdownTimeout) and returns. It closes ln.
func (b *Broker) Serve(ctx context.Context, ln net.Listener) error {
	bl := &brokerListener{
		Listener: ln,
		max:      int64(b.o.MaxConnections),
		overflow: int64(max(16, b.o.MaxConnections/4)),
		trusted:  b.o.TrustedProxies,
		onRefuse: b.h.refusedConn,
	}
	srv := &http.Server{
		Handler:           b.h,
		ReadHeaderTimeout: brokerReadHeaderTimeout,
		ReadTimeout:       brokerReadTimeout,
		WriteTimeout:      brokerWriteTimeout,
		IdleTimeout:       brokerIdleTimeout,
		MaxHeaderBytes:    brokerMaxHeaderBytes,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: brokerMaxStreams, MaxReceiveBufferPerStream: 64 << 10},
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ConnContext:       brokerConnContext,
		ErrorLog:          slog.NewLogLogger(b.o.Logger.Handler(), slog.LevelDebug),
	}
	if err := runServer(ctx, srv, tls.NewListener(bl, b.tls), b.o.ShutdownTimeout); err != nil {
		return fmt.Errorf("broker on %s: %w", ln.Addr(), err)
	}
	return nil
}

// brokerClient is a client with its token hash decoded.
type brokerClient struct {
	BrokerClient
	profiles map[string]bool
}

type brokerHandler struct {
	src      ClientSource
	o        BrokerOptions
	log      *slog.Logger
	byHash   map[[sha256.Size]byte]*brokerClient
	fedNames map[string]string // profile → federated name template
	rate     *limiter[string]
	fails    *limiter[netip.Prefix]
}

// maxFailureAddrs bounds the failure table (about 100 bytes an entry).
const maxFailureAddrs = 1 << 16

func newBrokerHandler(src ClientSource, o BrokerOptions) (*brokerHandler, error) {
	h := &brokerHandler{
		src: src, o: o, log: o.Logger,
		byHash:   map[[sha256.Size]byte]*brokerClient{},
		fedNames: map[string]string{},
		rate:     newLimiter[string](o.Rate, max(1, 2*o.Rate), len(o.Clients)+1),
		fails: newLimiter[netip.Prefix](1/o.AuthFailureDecay.Seconds(), float64(o.AuthFailures),
			maxFailureAddrs),
	}
	for _, c := range o.Clients {
		b, err := hex.DecodeString(c.TokenSHA256)
		if err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("broker client %q: token_sha256 is not a hex SHA-256", c.Name)
		}
		bc := &brokerClient{BrokerClient: c, profiles: map[string]bool{}}
		for _, p := range c.Profiles {
			bc.profiles[p] = true
		}
		h.byHash[[sha256.Size]byte(b)] = bc
	}
	for _, p := range o.Profiles {
		h.fedNames[p.Name] = p.FederationName
	}
	return h, nil
}

// audit is what the audit line of one request says.
type audit struct {
	client, profile, reason string
	remote                  string
	creds                   cache.Credentials // zero unless issued
	err                     error
}

// ServeHTTP answers GET /v1/credentials/{profile}. The checks run in this
// order, each able to end the request:
//
//  1. connection over max_connections → 503 + Retry-After
//  2. path and method → 404 / 405
//  3. address slowed down after repeated auth failures → 429 + Retry-After
//  4. token (SHA-256 looked up among the clients' hashes) → 401 / 403
//  5. the client's allowed_cidrs → 403 (the same body as a wrong token)
//  6. the client's rate → 429 + Retry-After
//  7. the profile among the client's → 403 (the same body whether or not
//     the profile exists)
//  8. credentials → 200, or 503 + Retry-After
//
// 3-5 count as auth failures of the address. Every request ends in one
// audit line.
func (h *brokerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Server", serverName)
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	sw := &statusWriter{ResponseWriter: w}
	a := &audit{remote: r.RemoteAddr}
	h.serve(sw, r, a)
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	if h.o.OnRequest != nil {
		h.o.OnRequest("broker", sw.status)
	}
	h.audit(a, sw.status)
}

func (h *brokerHandler) serve(w http.ResponseWriter, r *http.Request, a *audit) {
	now := h.o.Now()
	if c := brokerConnOf(r.Context()); c != nil && c.overflow {
		a.reason = "connection_limit"
		w.Header().Set("Connection", "close")
		refuse(w, http.StatusServiceUnavailable, time.Second, codeUnavailable, "the broker is at its connection limit; retry later")
		return
	}
	profile, ok := strings.CutPrefix(r.URL.Path, "/v1/credentials/")
	if !ok || profile == "" || strings.Contains(profile, "/") {
		a.reason = "not_found"
		notFound(w, r)
		return
	}
	a.profile = profile
	if r.Method != http.MethodGet {
		a.reason = "method"
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, codeMethod, "use GET")
		return
	}
	addr := remoteAddr(r)
	key := failureKey(addr)
	if ok, retry := h.fails.check(key, now); !ok {
		a.reason = "auth_failures"
		refuse(w, http.StatusTooManyRequests, retry, "TooManyRequests", "too many failed authentications from this address; retry later")
		return
	}
	fail := func(status int, reason, code, msg string) {
		a.reason = reason
		h.fails.take(key, now)
		writeError(w, status, code, msg)
	}
	vals := r.Header.Values("Authorization")
	if len(vals) == 0 {
		fail(http.StatusUnauthorized, "no_token", codeUnauthorized, "an Authorization header with the client's token is required")
		return
	}
	const denied = "the token is not valid for this broker, or not from this address"
	var c *brokerClient
	if len(vals) == 1 {
		c = h.byHash[sha256.Sum256([]byte(vals[0]))]
	}
	if c == nil { // unknown, or several headers (which one would count?)
		fail(http.StatusForbidden, "wrong_token", codeForbidden, denied)
		return
	}
	a.client = c.Name
	if len(c.AllowedCIDRs) > 0 && !containsAddr(c.AllowedCIDRs, addr) {
		fail(http.StatusForbidden, "outside_allowed_cidrs", codeForbidden, denied)
		return
	}
	if ok, retry := h.rate.take(c.Name, now); !ok {
		a.reason = "rate_limited"
		refuse(w, http.StatusTooManyRequests, retry, "TooManyRequests", "this client's request rate is over the broker's limit; retry later")
		return
	}
	if !c.profiles[profile] {
		a.reason = "profile_not_allowed"
		writeError(w, http.StatusForbidden, codeForbidden, "this client may not read that profile")
		return
	}
	creds, err := h.src.ClientCredentials(r.Context(), profile, c.Name)
	if err == nil && !now.Before(creds.Expiration) {
		err = errExpired
	}
	if err != nil {
		// The reason stays in the audit line: an STS message can name the
		// IAM user, which is none of a remote client's business.
		a.reason, a.err = "unavailable", err
		refuse(w, http.StatusServiceUnavailable, 5*time.Second, codeUnavailable, "no valid credentials for profile "+quote(profile)+" right now; retry later")
		return
	}
	a.creds = creds
	w.Header().Set("Content-Type", contentJSON)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(ecsCredentials(creds))
}

// refuse is writeError with a Retry-After.
func refuse(w http.ResponseWriter, status int, retry time.Duration, code, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter(retry)))
	writeError(w, status, code, msg)
}

// remoteAddr is the request's client address (after PROXY protocol).
func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// audit writes the one audit line of a request: time (slog's), client,
// remote address, profile, and for an issuance the federated user's ARN
// and the key id (ASIA…WXYZ). Never a token or secret.
func (h *brokerHandler) audit(a *audit, status int) {
	args := []any{"client", a.client, "remote", a.remote, "profile", a.profile, "status", status}
	if status == http.StatusOK {
		args = append(args, "event", "broker_issued", "arn", h.arn(a), "akid", redact.KeyID(a.creds.AccessKeyID),
			"expires", a.creds.Expiration.UTC().Format(time.RFC3339))
		h.log.Info("credentials issued", args...)
		return
	}
	args = append(args, "event", "broker_refused", "reason", a.reason)
	if a.err != nil {
		args = append(args, "err", a.err)
	}
	h.log.Warn("request refused", args...)
}

// refusedConn audits a connection refused before any request.
func (h *brokerHandler) refusedConn(remote, reason string) {
	h.log.Warn("connection refused", "client", "", "remote", remote, "profile", "", "event", "broker_refused", "reason", reason)
}

// arn is the federated user's ARN: GetFederationToken's
// arn:aws:sts::ACCOUNT:federated-user/NAME, NAME being the profile's name
// with {client} expanded.
func (h *brokerHandler) arn(a *audit) string {
	name, ok := h.fedNames[a.profile]
	if !ok || a.creds.AccountID == "" {
		return ""
	}
	return "arn:aws:sts::" + a.creds.AccountID + ":federated-user/" + strings.ReplaceAll(name, "{client}", a.client)
}
