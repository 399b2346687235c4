package broker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stsd/stsd/internal/testca"
)

// liveBroker is a broker serving HTTPS on 127.0.0.1:0.
type liveBroker struct {
	b        *Server
	addr     string
	ca       *testca.CA
	certFile string
	keyFile  string
	log      *syncBuffer
}

// startLiveBroker runs a broker until the test ends; edit adjusts the
// options (files are already set).
func startLiveBroker(t *testing.T, edit func(*Options)) *liveBroker {
	t.Helper()
	dir := t.TempDir()
	lb := &liveBroker{ca: testca.New(t, "broker test CA"), log: &syncBuffer{}}
	lb.certFile, lb.keyFile = lb.ca.WriteServer(t, dir, "127.0.0.1")
	o := brokerTestOptions(t, newClock(), nil)
	o.Logger = slog.New(slog.NewTextHandler(lb.log, nil))
	o.Rate = 1e9 // the clock stands still: no refill
	o.CertFile, o.KeyFile = lb.certFile, lb.keyFile
	if edit != nil {
		edit(&o)
	}
	b, err := New(newClients(), o)
	if err != nil {
		t.Fatal(err)
	}
	lb.b = b
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lb.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve() = %v", err)
		}
	})
	return lb
}

func (lb *liveBroker) url(profile string) string {
	return "https://" + lb.addr + "/v1/credentials/" + profile
}

// client trusts the broker's CA; tweak adjusts its TLS config and
// transport.
func (lb *liveBroker) client(tweak func(*tls.Config, *http.Transport)) *http.Client {
	tc := &tls.Config{RootCAs: lb.ca.Pool()}
	tr := &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}
	if tweak != nil {
		tweak(tc, tr)
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// fetch GETs profile with tok and returns the status and body.
func fetch(t *testing.T, c *http.Client, url, tok string) (int, string, *http.Response, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if tok != "" {
		req.Header.Set("Authorization", tok)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp, nil
}

// TestBrokerServeTLS: HTTP/2 and HTTP/1.1 over TLS 1.2+ get credentials;
// TLS 1.1, plain HTTP and a client that does not trust the certificate
// get none.
func TestBrokerServeTLS(t *testing.T) {
	t.Parallel()
	lb := startLiveBroker(t, nil)
	for _, tt := range []struct {
		name  string
		tweak func(*tls.Config, *http.Transport)
		proto string
	}{
		{"h2", nil, "HTTP/2.0"},
		{"http/1.1", func(_ *tls.Config, tr *http.Transport) {
			tr.ForceAttemptHTTP2 = false
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}, "HTTP/1.1"},
		{"tls 1.2 only", func(tc *tls.Config, _ *http.Transport) { tc.MaxVersion = tls.VersionTLS12 }, "HTTP/2.0"},
	} {
		code, body, resp, err := fetch(t, lb.client(tt.tweak), lb.url("app-billing"), billingToken)
		if err != nil || code != 200 || resp.Proto != tt.proto || !strings.Contains(body, `"AccessKeyId"`) {
			t.Errorf("%s: %d %v proto %v; want 200 over %s", tt.name, code, err, resp != nil && resp.Proto == tt.proto, tt.proto)
		}
	}

	refused := []struct {
		name  string
		tweak func(*tls.Config, *http.Transport)
	}{
		{"tls 1.1", func(tc *tls.Config, _ *http.Transport) {
			tc.MinVersion, tc.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
		}},
		{"distrusting client", func(tc *tls.Config, _ *http.Transport) { tc.RootCAs = x509.NewCertPool() }},
		{"wrong name", func(tc *tls.Config, _ *http.Transport) { tc.ServerName = "broker.example" }},
	}
	for _, tt := range refused {
		if code, body, _, err := fetch(t, lb.client(tt.tweak), lb.url("app-billing"), billingToken); err == nil || strings.Contains(body, "ASIAFAKE") {
			t.Errorf("%s: %d; want a TLS error and no credential bytes", tt.name, code)
		}
	}

	// Plain HTTP to the TLS port: Go's server answers 400 itself.
	c, err := net.Dial("tcp", lb.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /v1/credentials/app-billing HTTP/1.1\r\nHost: x\r\nAuthorization: "+billingToken+"\r\n\r\n")
	all, _ := io.ReadAll(c)
	if !bytes.HasPrefix(all, []byte("HTTP/1.0 400")) || bytes.Contains(all, []byte("ASIAFAKE")) {
		t.Errorf("plain HTTP got %q; want a 400 without credentials", all)
	}
}

// proxyClient dials from 127.0.0.x and sends header before TLS.
func (lb *liveBroker) proxyClient(from string, header []byte) *http.Client {
	return lb.client(func(_ *tls.Config, tr *http.Transport) {
		tr.DisableKeepAlives = true
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if _, err := c.Write(header); err != nil {
				c.Close()
				return nil, err
			}
			return c, nil
		}
	})
}

// TestBrokerProxyProtocol: v1 and v2 headers from trusted_proxies set the
// client address (allowed_cidrs and the audit line use it); a header from
// anywhere else, or a malformed one, ends the connection with no
// credential bytes.
func TestBrokerProxyProtocol(t *testing.T) {
	t.Parallel()
	lb := startLiveBroker(t, func(o *Options) {
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.3/32")}
	})
	v1 := []byte("PROXY TCP4 10.20.3.4 127.0.0.1 40001 9443\r\n")
	v2 := proxyV2(1, 0x11, v2TCP4("10.20.3.5", "127.0.0.1", 40002, 9443))
	tests := []struct {
		name   string
		from   string
		header []byte
		token  string
		want   int // 0: connection refused
	}{
		{"trusted v1", "127.0.0.3", v1, farToken, 200},
		{"trusted v2", "127.0.0.3", v2, farToken, 200},
		{"trusted v2 local", "127.0.0.3", proxyV2(0, 0, nil), billingToken, 200},
		{"trusted without header", "127.0.0.3", nil, billingToken, 200},
		{"trusted without header, cidr client", "127.0.0.3", nil, farToken, 403},
		{"trusted malformed", "127.0.0.3", []byte("PROXY TCP4 10.20.3.4 nonsense\r\n"), farToken, 0},
		{"untrusted v1", "127.0.0.1", v1, farToken, 0},
		{"untrusted v2", "127.0.0.1", v2, farToken, 0},
		{"untrusted, valid token", "127.0.0.1", v1, billingToken, 0},
	}
	for _, tt := range tests {
		code, body, _, err := fetch(t, lb.proxyClient(tt.from, tt.header), lb.url("app-billing"), tt.token)
		if tt.want == 0 {
			if err == nil || strings.Contains(body, "ASIAFAKE") {
				t.Errorf("%s: %d; want the connection dropped", tt.name, code)
			}
			continue
		}
		if err != nil || code != tt.want {
			t.Errorf("%s: %d %v; want %d", tt.name, code, err, tt.want)
		}
	}
	log := lb.log.String()
	for _, want := range []string{"remote=10.20.3.4:40001", "remote=10.20.3.5:40002", "reason=untrusted_proxy_header", "reason=bad_proxy_header"} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %s", want)
		}
	}
}

// TestBrokerConnectionLimit: with max_connections = 2, a third connection
// gets 503 + Retry-After (counted, not timed); past the overflow slots a
// connection is closed at once; a freed slot serves again.
func TestBrokerConnectionLimit(t *testing.T) {
	t.Parallel()
	lb := startLiveBroker(t, func(o *Options) { o.MaxConnections = 2 })
	// Each client holds its own keep-alive connection.
	newConn := func() *http.Client {
		return lb.client(func(_ *tls.Config, tr *http.Transport) { tr.MaxConnsPerHost = 1 })
	}
	var held []*http.Client
	for i := range 2 {
		c := newConn()
		if code, _, _, err := fetch(t, c, lb.url("app-billing"), billingToken); code != 200 {
			t.Fatalf("connection %d: %d %v; want 200", i+1, code, err)
		}
		held = append(held, c)
	}
	counts := map[int]int{}
	for range 16 { // the overflow slots: max(16, 2/4)
		c := newConn()
		code, body, resp, err := fetch(t, c, lb.url("app-billing"), billingToken)
		if err != nil {
			t.Fatalf("overflow connection: %v", err)
		}
		counts[code]++
		if code == 503 && (resp.Header.Get("Retry-After") != "1" || strings.Contains(body, "ASIAFAKE")) {
			t.Errorf("503 Retry-After %q body %s", resp.Header.Get("Retry-After"), body)
		}
		held = append(held, c)
	}
	if counts[503] != 16 {
		t.Errorf("16 connections over the limit: %v; want 16×503", counts)
	}
	// h2 answers 503 with a GOAWAY, closing those connections: hold them
	// open again with raw TLS connections that send nothing.
	var raw []net.Conn
	for range 16 {
		c, err := tls.Dial("tcp", lb.addr, &tls.Config{RootCAs: lb.ca.Pool()})
		if err != nil {
			break
		}
		raw = append(raw, c)
	}
	_, _, _, err := fetch(t, newConn(), lb.url("app-billing"), billingToken)
	if err == nil {
		t.Errorf("a connection past max_connections + overflow was served; %d raw connections held", len(raw))
	}
	for _, c := range raw {
		c.Close()
	}
	for _, c := range held {
		c.CloseIdleConnections()
	}
	lb.servesAgain(t, func(func(*tls.Config, *http.Transport)) *http.Client { return newConn() })
}

// servesAgain waits (bounded) until a fresh client from newClient gets
// billing's credentials: freed connection slots serve again.
func (lb *liveBroker) servesAgain(t *testing.T, newClient func(func(*tls.Config, *http.Transport)) *http.Client) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, _, _, _ := fetch(t, newClient(nil), lb.url("app-billing"), billingToken)
		if code == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("freed slots never served again (last %d)", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBrokerCertRotation: clients keep fetching over new connections while
// the certificate files are replaced (cert first, key later: a mismatched
// pair for a while); no request fails and the new certificate is served.
func TestBrokerCertRotation(t *testing.T) {
	t.Parallel()
	lb := startLiveBroker(t, nil)
	var served sync.Map // serial string → true
	var ok, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			c := lb.client(func(tc *tls.Config, tr *http.Transport) {
				tr.DisableKeepAlives = true // a handshake per request
				tc.VerifyConnection = func(cs tls.ConnectionState) error {
					served.Store(cs.PeerCertificates[0].SerialNumber.String(), true)
					return nil
				}
			})
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, _, _, err := fetch(t, c, lb.url("app-billing"), billingToken)
				if err != nil || code != 200 {
					failed.Add(1)
					t.Logf("request failed: %d %v", code, err)
				} else {
					ok.Add(1)
				}
			}
		})
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("first requests", func() bool { return ok.Load() > 10 })
	next := lb.ca.Server(t, "127.0.0.1")
	testca.WriteFile(t, lb.certFile, next.CertPEM)
	n := ok.Load()
	waitFor("requests with the half-rotated pair", func() bool { return ok.Load() > n+10 })
	testca.WriteFile(t, lb.keyFile, next.KeyPEM)
	waitFor("the new certificate", func() bool {
		_, seen := served.Load(next.Cert.SerialNumber.String())
		return seen
	})
	n = ok.Load()
	waitFor("requests with the new certificate", func() bool { return ok.Load() > n+10 })
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Errorf("%d of %d requests failed during the rotation", failed.Load(), ok.Load()+failed.Load())
	}
	if !strings.Contains(lb.log.String(), "event=broker_tls_reloaded") {
		t.Error("no reload logged")
	}
}

// withCert makes a client present l.
func withCert(t *testing.T, l *testca.Leaf) func(*tls.Config, *http.Transport) {
	return func(tc *tls.Config, _ *http.Transport) {
		cert, err := tls.X509KeyPair(l.CertPEM, l.KeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
}

// TestBrokerMutualTLS: with client_ca_file a client must present a
// certificate from that CA.
func TestBrokerMutualTLS(t *testing.T) {
	t.Parallel()
	clientCA := testca.New(t, "client CA")
	caFile := filepath.Join(t.TempDir(), "clients.pem")
	clientCA.WriteCA(t, caFile)
	lb := startLiveBroker(t, func(o *Options) { o.ClientCAFile = caFile })
	withCert := func(l *testca.Leaf) func(*tls.Config, *http.Transport) { return withCert(t, l) }
	if code, _, _, err := fetch(t, lb.client(withCert(clientCA.Client(t, "billing-host"))), lb.url("app-billing"), billingToken); code != 200 {
		t.Errorf("with a client certificate: %d %v; want 200", code, err)
	}
	if _, _, _, err := fetch(t, lb.client(nil), lb.url("app-billing"), billingToken); err == nil {
		t.Error("served a client without a certificate")
	}
	stranger := testca.New(t, "other CA")
	if _, _, _, err := fetch(t, lb.client(withCert(stranger.Client(t, "x"))), lb.url("app-billing"), billingToken); err == nil {
		t.Error("served a client whose certificate is from another CA")
	}
}

// TestBrokerCertificatePinned: a token tied to one client certificate
// (client_cert_sha256) is refused over another certificate from the same
// CA, as a wrong token is, with no credential bytes.
func TestBrokerCertificatePinned(t *testing.T) {
	t.Parallel()
	clientCA := testca.New(t, "client CA")
	caFile := filepath.Join(t.TempDir(), "clients.pem")
	clientCA.WriteCA(t, caFile)
	own, other := clientCA.Client(t, "billing-host"), clientCA.Client(t, "search-host")
	sum := sha256.Sum256(own.Cert.Raw)
	lb := startLiveBroker(t, func(o *Options) {
		o.ClientCAFile = caFile
		o.Clients[0].CertSHA256 = hex.EncodeToString(sum[:])
	})
	if code, _, _, err := fetch(t, lb.client(withCert(t, own)), lb.url("app-billing"), billingToken); code != 200 {
		t.Errorf("billing's token over billing's certificate: %d %v; want 200", code, err)
	}
	code, body, _, err := fetch(t, lb.client(withCert(t, other)), lb.url("app-billing"), billingToken)
	if code != 403 || strings.Contains(body, "ASIAFAKE") {
		t.Errorf("billing's token over another client's certificate: %d %q %v; want 403 without credentials", code, body, err)
	}
	if !strings.Contains(lb.log.String(), "reason=wrong_certificate") {
		t.Errorf("no audit line for the certificate mismatch:\n%s", lb.log.String())
	}
	// A client without a pin takes any certificate of the CA.
	if code, _, _, err := fetch(t, lb.client(withCert(t, other)), lb.url("app-search"), searchToken); code != 200 {
		t.Errorf("search's token over any certificate: %d %v; want 200", code, err)
	}
}

// TestBrokerConnectionsPerAddress: one address may hold at most
// max_connections_per_address connections; the next is dropped before
// TLS and audited, and a freed slot serves again.
func TestBrokerConnectionsPerAddress(t *testing.T) {
	t.Parallel()
	lb := startLiveBroker(t, func(o *Options) { o.MaxConnectionsPerAddress = 2 })
	var held []net.Conn
	for range 2 {
		c, err := tls.Dial("tcp", lb.addr, &tls.Config{RootCAs: lb.ca.Pool()})
		if err != nil {
			t.Fatalf("connection within the limit: %v", err)
		}
		held = append(held, c)
	}
	c := lb.client(func(_ *tls.Config, tr *http.Transport) { tr.MaxConnsPerHost = 1 })
	if _, _, _, err := fetch(t, c, lb.url("app-billing"), billingToken); err == nil {
		t.Error("a third connection from one address was served")
	}
	if !strings.Contains(lb.log.String(), "reason=address_connection_limit") {
		t.Errorf("no audit line for the refused connection:\n%s", lb.log.String())
	}
	for _, h := range held {
		h.Close()
	}
	lb.servesAgain(t, lb.client)
}

// TestBrokerSetClients: a client table replaced by SetClients applies to
// the next request: a removed or rotated token is refused, a new one and
// a widened profile list serve, a narrowed CIDR list refuses.
func TestBrokerSetClients(t *testing.T) {
	t.Parallel()
	lb := startLiveBroker(t, nil)
	c := lb.client(nil)
	get := func(profile, tok string) (int, string) {
		code, body, _, _ := fetch(t, c, lb.url(profile), tok)
		return code, body
	}
	if code, _ := get("app-billing", billingToken); code != 200 {
		t.Fatalf("before: billing %d; want 200", code)
	}
	const rotated = "ROTATEDSEARCHTOKEN00000000"
	err := lb.b.SetClients([]Client{
		// billing is removed; search is rotated and may read both.
		{Name: "search", TokenSHA256: tokenHash(rotated), Profiles: []string{"app-search", "app-billing"}},
		{Name: "far", TokenSHA256: tokenHash(farToken), Profiles: []string{"app-billing"},
			AllowedCIDRs: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		what, profile, tok string
		want               int
	}{
		{"removed client", "app-billing", billingToken, 403},
		{"rotated token, old", "app-search", searchToken, 403},
		{"rotated token, new", "app-search", rotated, 200},
		{"widened profiles", "app-billing", rotated, 200},
	} {
		code, body := get(tt.profile, tt.tok)
		if code != tt.want || (code != 200 && strings.Contains(body, "ASIAFAKE")) {
			t.Errorf("%s: %d %q; want %d", tt.what, code, body, tt.want)
		}
	}
	if err := lb.b.SetClients([]Client{{Name: "bad", TokenSHA256: "nothex"}}); err == nil {
		t.Error("SetClients took a bad hash")
	}
	if code, _ := get("app-search", rotated); code != 200 {
		t.Errorf("a refused SetClients changed the table: %d", code)
	}
}
