// Package broker is the HTTPS broker: the ECS-compatible credentials
// endpoint for named clients on other hosts, each with its own token,
// profiles, addresses, rate and federated identity, behind TLS (reloaded
// on change), PROXY protocol from trusted load balancers, and connection
// and failure limits. It is stsd's one listener that may leave loopback.
package broker

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stsd/stsd/internal/httpserve"
	"github.com/stsd/stsd/internal/redact"
	"github.com/stsd/stsd/internal/wire"
)

// Source hands out a profile's credentials as minted for one broker
// client (its own federated user and cache entry). It never returns
// expired credentials and its errors hold no secret. *daemon.Supervisor
// is the daemon's Source.
type Source interface {
	ClientCredentials(ctx context.Context, profile, client string) (Minted, error)
}

// Minted is what a Source hands out: the credentials and the ARN of
// the identity STS minted them for. The broker serves only federated-user
// credentials and names that ARN in its audit line.
type Minted struct {
	Credentials wire.Credentials
	ARN         string
	// Document, when set, is wire.ContainerDocument(Credentials), made
	// once by the Source: the broker writes it as it is.
	Document string
}

// NewToken is a new random client token (130 bits, base32: no CR/LF, safe
// in a header) and its SHA-256 in hex, the only form the config keeps.
func NewToken() (token, hash string) {
	token = rand.Text()
	sum := sha256.Sum256([]byte(token))
	return token, hex.EncodeToString(sum[:])
}

// Client is one [broker.clients.NAME].
type Client struct {
	Name         string
	TokenSHA256  string // hex SHA-256 of the client's token
	Profiles     []string
	AllowedCIDRs []netip.Prefix // empty: any address
	// CertSHA256 is the hex SHA-256 of the client certificate (DER) the
	// token is tied to; "" accepts any certificate the client CA signed.
	CertSHA256 string
}

// Options configure New. Zero values mean defaults.
type Options struct {
	Logger *slog.Logger     // default: discard
	Now    func() time.Time // default time.Now
	// OnRequest, if set, is told "broker" and the status of every request
	// (metrics).
	OnRequest func(endpoint string, status int)
	// ShutdownTimeout bounds in-flight requests when Serve stops; default 5s.
	ShutdownTimeout time.Duration

	CertFile, KeyFile string // PEM; re-read whenever they change
	ClientCAFile      string // "": no client certificates
	// Clients is the client table at start; SetClients replaces it.
	Clients []Client
	// Rate is each client's request rate (token bucket, burst 2 × Rate
	// but at least 1); default 10 a second.
	Rate float64
	// MaxConnections bounds open connections; default 1024.
	MaxConnections int
	// MaxConnectionsPerAddress bounds one client address's (an IPv6
	// /64's) open connections; default 64.
	MaxConnectionsPerAddress int
	// TrustedProxies may send PROXY protocol headers.
	TrustedProxies []netip.Prefix
	// AuthFailures is how many refused authentications (no token, a wrong
	// one, a client outside its allowed_cidrs) an address may make in a
	// row before its requests get 429; one is forgiven every
	// AuthFailureDecay. Defaults 10 and 6s (10 a minute).
	AuthFailures     int
	AuthFailureDecay time.Duration
}

func (o Options) withDefaults() Options {
	o.Logger, o.Now = httpserve.Logger(o.Logger), httpserve.Clock(o.Now)
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 5 * time.Second
	}
	if o.Rate <= 0 {
		o.Rate = 10
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = 1024
	}
	if o.MaxConnectionsPerAddress <= 0 {
		o.MaxConnectionsPerAddress = 64
	}
	if o.AuthFailures <= 0 {
		o.AuthFailures = 10
	}
	if o.AuthFailureDecay <= 0 {
		o.AuthFailureDecay = 6 * time.Second
	}
	return o
}

// Server is the HTTPS broker.
type Server struct {
	o   Options
	h   *handler
	tls *tls.Config
}

// New checks o and loads the certificate (and client CA); it fails if
// they do not load. It listens on nothing: see Serve.
func New(src Source, o Options) (*Server, error) {
	o = o.withDefaults()
	h, err := newHandler(src, o)
	if err != nil {
		return nil, err
	}
	tc, err := brokerTLS(o.CertFile, o.KeyFile, o.ClientCAFile, o.Logger)
	if err != nil {
		return nil, err
	}
	return &Server{o: o, h: h, tls: tc}, nil
}

// Handler is the broker's HTTP handler, without TLS or connection limits
// (tests drive it with httptest).
func (b *Server) Handler() http.Handler { return b.h }

// SetClients replaces the client table: from its return on, every request
// is checked against clients only, so a removed or rotated token is
// refused. On error the table is unchanged.
func (b *Server) SetClients(clients []Client) error {
	t, err := newClientTable(clients)
	if err != nil {
		return err
	}
	b.h.clients.Store(t)
	return nil
}

// limits are the local endpoints': a credential GET may wait for a first
// fetch, and everything a client sends fits in a few hundred bytes. The
// header timeout also bounds the TLS handshake.
var limits = httpserve.LocalLimits

// maxStreams bounds concurrent HTTP/2 requests per connection.
const maxStreams = 32

// Serve serves HTTPS on ln until ctx ends, then lets in-flight requests
// finish (bounded by ShutdownTimeout) and returns. It closes ln.
func (b *Server) Serve(ctx context.Context, ln net.Listener) error {
	bl := &listener{
		Listener: ln,
		max:      int64(b.o.MaxConnections),
		overflow: int64(max(16, b.o.MaxConnections/4)),
		perAddr:  b.o.MaxConnectionsPerAddress,
		trusted:  b.o.TrustedProxies,
		onRefuse: b.h.refusedConn,
		byAddr:   map[netip.Prefix]int{},
	}
	srv := httpserve.NewServer(ctx, b.h, httpserve.Options{Logger: b.o.Logger, Limits: limits, ConnContext: connContext})
	srv.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: maxStreams, MaxReceiveBufferPerStream: 64 << 10}
	if err := httpserve.Run(ctx, srv, tls.NewListener(bl, b.tls), b.o.ShutdownTimeout); err != nil {
		return fmt.Errorf("broker on %s: %w", ln.Addr(), err)
	}
	return nil
}

// client is a Client with its token and certificate hashes decoded.
type client struct {
	Client
	profiles map[string]bool
	cert     []byte // SHA-256 of the pinned certificate, nil for any
}

// clientTable is one generation of the client table, by token hash.
type clientTable struct {
	byHash map[[sha256.Size]byte]*client
}

func newClientTable(clients []Client) (*clientTable, error) {
	t := &clientTable{byHash: map[[sha256.Size]byte]*client{}}
	for _, c := range clients {
		b, err := hex.DecodeString(c.TokenSHA256)
		if err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("broker client %q: token_sha256 is not a hex SHA-256", c.Name)
		}
		bc := &client{Client: c, profiles: map[string]bool{}}
		if c.CertSHA256 != "" {
			if bc.cert, err = hex.DecodeString(c.CertSHA256); err != nil || len(bc.cert) != sha256.Size {
				return nil, fmt.Errorf("broker client %q: client_cert_sha256 is not a hex SHA-256", c.Name)
			}
		}
		for _, p := range c.Profiles {
			bc.profiles[p] = true
		}
		t.byHash[[sha256.Size]byte(b)] = bc
	}
	return t, nil
}

type handler struct {
	src     Source
	o       Options
	log     *slog.Logger
	clients atomic.Pointer[clientTable] // replaced whole by SetClients
	rate    *limiter[string]
	fails   *limiter[netip.Prefix]
}

// maxFailureAddrs bounds the failure table (about 100 bytes an entry).
const maxFailureAddrs = 1 << 16

// maxRateClients bounds the rate table: clients come and go with reloads,
// and full buckets are dropped first.
const maxRateClients = 1 << 14

func newHandler(src Source, o Options) (*handler, error) {
	h := &handler{
		src: src, o: o, log: o.Logger,
		rate: newLimiter[string](o.Rate, max(1, 2*o.Rate), maxRateClients),
		fails: newLimiter[netip.Prefix](1/o.AuthFailureDecay.Seconds(), float64(o.AuthFailures),
			maxFailureAddrs),
	}
	t, err := newClientTable(o.Clients)
	if err != nil {
		return nil, err
	}
	h.clients.Store(t)
	return h, nil
}

// audit is what the audit line of one request says.
type audit struct {
	client, profile, reason string
	remote                  string
	// arn, akid (redacted) and expires of what was issued
	arn, akid string
	expires   time.Time
	err       error
}

// exchange is one request's state: its status and its audit line (one
// allocation per request).
type exchange struct {
	sw httpserve.StatusWriter
	a  audit
}

// ServeHTTP answers GET /v1/credentials/{profile}. The checks run in this
// order, each able to end the request:
//
//  1. connection over max_connections → 503 + Retry-After
//  2. path and method → 404 / 405
//  3. address slowed down after repeated auth failures → 429 + Retry-After
//  4. token (SHA-256 looked up in the live client table) → 401 / 403
//  5. the client certificate the token is tied to → 403 (the same body as
//     a wrong token)
//  6. the client's allowed_cidrs → 403 (likewise)
//  7. the client's rate → 429 + Retry-After
//  8. the profile among the client's → 403 (the same body whether or not
//     the profile exists)
//  9. credentials → 200 when they are a federated user's, or 503 +
//     Retry-After
//
// 3-6 count as auth failures of the address. Every request ends in one
// audit line.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header()["Server"] = serverName
	if r.Body != http.NoBody { // HTTP/2 GETs end with their headers: no body to bound
		r.Body = http.MaxBytesReader(w, r.Body, httpserve.MaxBodyBytes)
	}
	x := &exchange{sw: httpserve.StatusWriter{ResponseWriter: w}, a: audit{remote: r.RemoteAddr}}
	sw, a := &x.sw, &x.a
	h.serve(sw, r, a)
	if sw.Status == 0 {
		sw.Status = http.StatusOK
	}
	if h.o.OnRequest != nil {
		h.o.OnRequest("broker", sw.Status)
	}
	h.audit(a, sw.Status)
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request, a *audit) {
	now := h.o.Now()
	if !h.route(w, r, a) {
		return
	}
	c, ok := h.authenticate(w, r, a, now)
	if !ok {
		return
	}
	if ok, retry := h.rate.take(c.Name, now); !ok {
		a.reason = "rate_limited"
		refuse(w, http.StatusTooManyRequests, retry, httpserve.CodeTooMany, "this client's request rate is over the broker's limit; retry later")
		return
	}
	if !c.profiles[a.profile] {
		a.reason = "profile_not_allowed"
		httpserve.WriteError(w, http.StatusForbidden, httpserve.CodeForbidden, "this client may not read that profile")
		return
	}
	h.issue(w, r, c, a, now)
}

// route admits a request on a connection within the limits, for
// GET /v1/credentials/{profile}: checks 1 and 2.
func (h *handler) route(w http.ResponseWriter, r *http.Request, a *audit) bool {
	if c := connOf(r.Context()); c != nil && c.overflow {
		a.reason = "connection_limit"
		w.Header().Set("Connection", "close")
		refuse(w, http.StatusServiceUnavailable, time.Second, httpserve.CodeUnavailable, "the broker is at its connection limit; retry later")
		return false
	}
	profile, ok := strings.CutPrefix(r.URL.Path, "/v1/credentials/")
	if !ok || profile == "" || strings.Contains(profile, "/") {
		a.reason = "not_found"
		httpserve.NotFound(w, r)
		return false
	}
	a.profile = profile
	if r.Method != http.MethodGet {
		a.reason = "method"
		w.Header().Set("Allow", http.MethodGet)
		httpserve.WriteError(w, http.StatusMethodNotAllowed, httpserve.CodeMethod, "use GET")
		return false
	}
	return true
}

// authenticate finds the client the request's token belongs to and checks
// its certificate and address (checks 3 to 6); each refusal counts as an
// auth failure of the address.
func (h *handler) authenticate(w http.ResponseWriter, r *http.Request, a *audit, now time.Time) (*client, bool) {
	addr := remoteAddr(r)
	key := failureKey(addr)
	if ok, retry := h.fails.check(key, now); !ok {
		a.reason = "auth_failures"
		refuse(w, http.StatusTooManyRequests, retry, httpserve.CodeTooMany, "too many failed authentications from this address; retry later")
		return nil, false
	}
	fail := func(status int, reason, code, msg string) (*client, bool) {
		a.reason = reason
		h.fails.take(key, now)
		httpserve.WriteError(w, status, code, msg)
		return nil, false
	}
	vals := r.Header.Values("Authorization")
	if len(vals) == 0 {
		return fail(http.StatusUnauthorized, "no_token", httpserve.CodeUnauthorized, "an Authorization header with the client's token is required")
	}
	const denied = "the token is not valid for this broker, or not from this address"
	var c *client
	if len(vals) == 1 {
		c = h.clients.Load().byHash[sha256.Sum256([]byte(vals[0]))]
	}
	if c == nil { // unknown, or several headers (which one would count?)
		return fail(http.StatusForbidden, "wrong_token", httpserve.CodeForbidden, denied)
	}
	a.client = c.Name
	if c.cert != nil && !peerCertIs(r, c.cert) {
		return fail(http.StatusForbidden, "wrong_certificate", httpserve.CodeForbidden, denied)
	}
	if len(c.AllowedCIDRs) > 0 && !containsAddr(c.AllowedCIDRs, addr) {
		return fail(http.StatusForbidden, "outside_allowed_cidrs", httpserve.CodeForbidden, denied)
	}
	return c, true
}

// issue answers with the client's credentials for the profile, when they
// are a federated user's and unexpired (check 9).
func (h *handler) issue(w http.ResponseWriter, r *http.Request, c *client, a *audit, now time.Time) {
	m, err := h.src.ClientCredentials(r.Context(), a.profile, c.Name)
	switch {
	case err != nil:
	case !now.Before(m.Credentials.Expiration):
		err = errExpired
	case !strings.Contains(m.ARN, ":federated-user/"):
		err = errNotFederation
	}
	if err != nil {
		// The reason stays in the audit line: an STS message can name the
		// IAM user, which is none of a remote client's business.
		a.reason, a.err = "unavailable", err
		refuse(w, http.StatusServiceUnavailable, 5*time.Second, httpserve.CodeUnavailable, "no valid credentials for profile "+strconv.Quote(a.profile)+" right now; retry later")
		return
	}
	a.arn, a.akid, a.expires = m.ARN, redact.KeyID(m.Credentials.AccessKeyID), m.Credentials.Expiration
	hd := w.Header()
	hd["Content-Type"], hd["Cache-Control"] = contentJSON, noStore
	if m.Document != "" {
		io.WriteString(w, m.Document)
		return
	}
	w.Write(wire.ContainerDocument(m.Credentials))
}

// Header values every credential answer carries, shared (net/http only
// reads them): Header().Set would make new ones per request.
var (
	contentJSON = []string{httpserve.ContentJSON}
	noStore     = []string{"no-store"}
	serverName  = []string{httpserve.ServerName}
)

// errExpired: the source handed out credentials that expired meanwhile.
var errExpired = errors.New("the credentials have expired")

// errNotFederation refuses credentials that are not a federated user's:
// anything else (GetSessionToken's) carries the IAM user's full
// permissions.
var errNotFederation = errors.New("the profile's credentials are not a federated user's; the broker serves federation profiles only")

// peerCertIs reports whether r's verified client certificate has the
// SHA-256 want.
func peerCertIs(r *http.Request, want []byte) bool {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return false
	}
	got := sha256.Sum256(r.TLS.PeerCertificates[0].Raw)
	return subtle.ConstantTimeCompare(got[:], want) == 1
}

// refuse is httpserve.WriteError with a Retry-After.
func refuse(w http.ResponseWriter, status int, retry time.Duration, code, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter(retry)))
	httpserve.WriteError(w, status, code, msg)
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
func (h *handler) audit(a *audit, status int) {
	var buf [9]slog.Attr
	attrs := append(buf[:0], slog.String("client", a.client), slog.String("remote", a.remote), slog.String("profile", a.profile), slog.Int("status", status))
	if status == http.StatusOK {
		attrs = append(attrs, slog.String("event", "broker_issued"), slog.String("arn", a.arn), slog.String("akid", a.akid),
			slog.String("expires", a.expires.UTC().Format(time.RFC3339)))
		h.log.LogAttrs(context.Background(), slog.LevelInfo, "credentials issued", attrs...)
		return
	}
	attrs = append(attrs, slog.String("event", "broker_refused"), slog.String("reason", a.reason))
	if a.err != nil {
		attrs = append(attrs, slog.Any("err", a.err))
	}
	h.log.LogAttrs(context.Background(), slog.LevelWarn, "request refused", attrs...)
}

// refusedConn audits a connection refused before any request.
func (h *handler) refusedConn(remote, reason string) {
	h.log.Warn("connection refused", "client", "", "remote", remote, "profile", "", "event", "broker_refused", "reason", reason)
}
