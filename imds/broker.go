package imds

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stsd/stsd/internal/redact"
	"github.com/stsd/stsd/internal/wire"
)

// ClientSource hands out a profile's credentials as minted for one broker
// client (its own federated user and cache entry). Like Source it never
// returns expired credentials and its errors hold no secret.
// *daemon.Supervisor is the daemon's ClientSource.
type ClientSource interface {
	ClientCredentials(ctx context.Context, profile, client string) (Minted, error)
}

// Minted is what a ClientSource hands out: the credentials and the ARN of
// the identity STS minted them for. The broker serves only federated-user
// credentials and names that ARN in its audit line.
type Minted struct {
	Credentials wire.Credentials
	ARN         string
}

// BrokerClient is one [broker.clients.NAME].
type BrokerClient struct {
	Name         string
	TokenSHA256  string // hex SHA-256 of the client's token
	Profiles     []string
	AllowedCIDRs []netip.Prefix // empty: any address
	// CertSHA256 is the hex SHA-256 of the client certificate (DER) the
	// token is tied to; "" accepts any certificate the client CA signed.
	CertSHA256 string
}

// BrokerOptions configure NewBroker. Zero values mean defaults.
type BrokerOptions struct {
	Options // logger, clock, OnRequest ("broker"), ShutdownTimeout

	CertFile, KeyFile string // PEM; re-read whenever they change
	ClientCAFile      string // "": no client certificates
	// Clients is the client table at start; SetClients replaces it.
	Clients []BrokerClient
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

func (o BrokerOptions) withDefaults() BrokerOptions {
	o.Options = o.Options.withDefaults()
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

// SetClients replaces the client table: from its return on, every request
// is checked against clients only, so a removed or rotated token is
// refused. On error the table is unchanged.
func (b *Broker) SetClients(clients []BrokerClient) error {
	t, err := newClientTable(clients)
	if err != nil {
		return err
	}
	b.h.clients.Store(t)
	return nil
}

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
		perAddr:  b.o.MaxConnectionsPerAddress,
		trusted:  b.o.TrustedProxies,
		onRefuse: b.h.refusedConn,
		byAddr:   map[netip.Prefix]int{},
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

// brokerClient is a client with its token and certificate hashes decoded.
type brokerClient struct {
	BrokerClient
	profiles map[string]bool
	cert     []byte // SHA-256 of the pinned certificate, nil for any
}

// clientTable is one generation of the client table, by token hash.
type clientTable struct {
	byHash map[[sha256.Size]byte]*brokerClient
}

func newClientTable(clients []BrokerClient) (*clientTable, error) {
	t := &clientTable{byHash: map[[sha256.Size]byte]*brokerClient{}}
	for _, c := range clients {
		b, err := hex.DecodeString(c.TokenSHA256)
		if err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("broker client %q: token_sha256 is not a hex SHA-256", c.Name)
		}
		bc := &brokerClient{BrokerClient: c, profiles: map[string]bool{}}
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

type brokerHandler struct {
	src     ClientSource
	o       BrokerOptions
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

func newBrokerHandler(src ClientSource, o BrokerOptions) (*brokerHandler, error) {
	h := &brokerHandler{
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
	minted                  Minted // zero unless issued
	err                     error
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
		c = h.clients.Load().byHash[sha256.Sum256([]byte(vals[0]))]
	}
	if c == nil { // unknown, or several headers (which one would count?)
		fail(http.StatusForbidden, "wrong_token", codeForbidden, denied)
		return
	}
	a.client = c.Name
	if c.cert != nil && !peerCertIs(r, c.cert) {
		fail(http.StatusForbidden, "wrong_certificate", codeForbidden, denied)
		return
	}
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
	m, err := h.src.ClientCredentials(r.Context(), profile, c.Name)
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
		refuse(w, http.StatusServiceUnavailable, 5*time.Second, codeUnavailable, "no valid credentials for profile "+quote(profile)+" right now; retry later")
		return
	}
	a.minted = m
	w.Header().Set("Content-Type", contentJSON)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(ecsCredentials(m.Credentials))
}

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
		args = append(args, "event", "broker_issued", "arn", a.minted.ARN, "akid", redact.KeyID(a.minted.Credentials.AccessKeyID),
			"expires", a.minted.Credentials.Expiration.UTC().Format(time.RFC3339))
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
