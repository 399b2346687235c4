package broker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stsd/stsd/internal/httpserve"
	"github.com/stsd/stsd/internal/servetest"
)

// Client tokens of the broker tests (not secrets of anything real).
const (
	billingToken = "BILLINGTOKENBILLINGTOKEN00"
	searchToken  = "SEARCHTOKENSEARCHTOKEN0000"
	farToken     = "FARTOKENFARTOKENFARTOKEN00"
)

func tokenHash(tok string) string {
	s := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(s[:])
}

// fakeClients mints per (client, profile): the key id names both, so a
// test sees whose credentials it got.
type fakeClients struct {
	mu          sync.Mutex
	err         error
	sessionOnly bool // mint session credentials (no federated user)
	calls       map[string]int
}

func newClients() *fakeClients { return &fakeClients{calls: map[string]int{}} }

func (f *fakeClients) ClientCredentials(_ context.Context, profile, client string) (Minted, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[profile+"/"+client]++
	if f.err != nil {
		return Minted{}, f.err
	}
	c := testCreds()
	c.AccessKeyID = "ASIAFAKE" + strings.ToUpper(client[:2]+profile[:2]) + "0000WXYZ"
	name := client
	if profile == "app-search" {
		name = "srch-" + client
	}
	arn := "arn:aws:sts::123456789012:federated-user/" + name
	if f.sessionOnly {
		arn = ""
	}
	return Minted{Credentials: c, ARN: arn}, nil
}

func brokerTestOptions(t testing.TB, clk *fakeClock, log *bytes.Buffer) Options {
	var h slog.Handler = slog.NewTextHandler(t.Output(), nil)
	if log != nil {
		h = slog.NewTextHandler(log, nil)
	}
	return Options{
		Logger: slog.New(h), Now: clk.Now,
		Clients: []Client{
			{Name: "billing", TokenSHA256: tokenHash(billingToken), Profiles: []string{"app-billing"}},
			{Name: "search", TokenSHA256: tokenHash(searchToken), Profiles: []string{"app-search"}},
			{Name: "far", TokenSHA256: tokenHash(farToken), Profiles: []string{"app-billing"},
				AllowedCIDRs: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}},
		},
		Rate: 100,
	}
}

func newTestBrokerHandler(t testing.TB, src Source, o Options) *handler {
	t.Helper()
	h, err := newHandler(src, o.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// brokerGet sends GET path from remote with the tokens as Authorization.
func brokerGet(h http.Handler, remote, path string, tokens ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "https://broker.example:9443/", nil)
	r.URL.Path, r.RequestURI, r.RemoteAddr = path, path, remote
	for _, tok := range tokens {
		r.Header.Add("Authorization", tok)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestBrokerRequests(t *testing.T) {
	t.Parallel()
	const here = "192.0.2.10:40000"
	tests := []struct {
		name     string
		remote   string
		method   string
		path     string
		tokens   []string
		want     int
		wantKey  string // key id of a 200
		wantBody string // exact error body
	}{
		{name: "billing", path: "/v1/credentials/app-billing", tokens: []string{billingToken}, want: 200, wantKey: "ASIAFAKEBIAP0000WXYZ"},
		{name: "search", path: "/v1/credentials/app-search", tokens: []string{searchToken}, want: 200, wantKey: "ASIAFAKESEAP0000WXYZ"},
		{name: "billing reads search's profile", path: "/v1/credentials/app-search", tokens: []string{billingToken}, want: 403,
			wantBody: `{"Code":"AccessDenied","Message":"this client may not read that profile"}`},
		{name: "billing reads a profile that does not exist", path: "/v1/credentials/nope", tokens: []string{billingToken}, want: 403,
			wantBody: `{"Code":"AccessDenied","Message":"this client may not read that profile"}`},
		{name: "no token", path: "/v1/credentials/app-billing", want: 401},
		{name: "wrong token", path: "/v1/credentials/app-billing", tokens: []string{"WRONGWRONGWRONGWRONGWRONG0"}, want: 403,
			wantBody: `{"Code":"AccessDenied","Message":"the token is not valid for this broker, or not from this address"}`},
		{name: "the hash as token", path: "/v1/credentials/app-billing", tokens: []string{tokenHash(billingToken)}, want: 403},
		{name: "two tokens", path: "/v1/credentials/app-billing", tokens: []string{billingToken, billingToken}, want: 403},
		{name: "outside allowed cidrs", path: "/v1/credentials/app-billing", tokens: []string{farToken}, want: 403,
			wantBody: `{"Code":"AccessDenied","Message":"the token is not valid for this broker, or not from this address"}`},
		{name: "inside allowed cidrs", remote: "10.20.3.4:5000", path: "/v1/credentials/app-billing", tokens: []string{farToken}, want: 200, wantKey: "ASIAFAKEFAAP0000WXYZ"},
		{name: "inside allowed cidrs, mapped", remote: "[::ffff:10.20.3.4]:5000", path: "/v1/credentials/app-billing", tokens: []string{farToken}, want: 200},
		{name: "unknown path", path: "/latest/meta-data/", tokens: []string{billingToken}, want: 404},
		{name: "nested path", path: "/v1/credentials/app-billing/x", tokens: []string{billingToken}, want: 404},
		{name: "post", method: http.MethodPost, path: "/v1/credentials/app-billing", tokens: []string{billingToken}, want: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newTestBrokerHandler(t, newClients(), brokerTestOptions(t, newClock(), nil))
			r := httptest.NewRequest(cmpOr(tt.method, http.MethodGet), "https://broker.example:9443/", nil)
			r.URL.Path, r.RequestURI, r.RemoteAddr = tt.path, tt.path, cmpOr(tt.remote, here)
			for _, tok := range tt.tokens {
				r.Header.Add("Authorization", tok)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("%s %s = %d %s; want %d", r.Method, tt.path, w.Code, w.Body, tt.want)
			}
			if ct := w.Header().Get("Content-Type"); ct != httpserve.ContentJSON {
				t.Errorf("Content-Type = %q; want %q", ct, httpserve.ContentJSON)
			}
			if tt.want == 200 {
				if tt.wantKey != "" && !strings.Contains(w.Body.String(), `"AccessKeyId":"`+tt.wantKey+`"`) {
					t.Errorf("body has not key %s", tt.wantKey)
				}
				return
			}
			for _, s := range []string{"ASIAFAKE", "servetest.Secret", "FAKEsessionToken"} {
				if strings.Contains(w.Body.String(), s) {
					t.Errorf("a %d body carries credential bytes", w.Code)
				}
			}
			if tt.wantBody != "" && w.Body.String() != tt.wantBody {
				t.Errorf("body = %s; want %s", w.Body, tt.wantBody)
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestBrokerRateLimitByCounts: rate 1/s gives a burst of 2; on a stopped
// clock, 2 of 10 requests pass, the rest get 429 with Retry-After; one
// second later one more passes. Another client is not affected.
func TestBrokerRateLimitByCounts(t *testing.T) {
	t.Parallel()
	clk := newClock()
	o := brokerTestOptions(t, clk, nil)
	o.Rate = 1
	src := newClients()
	h := newTestBrokerHandler(t, src, o)
	count := func(tok, profile string, n int) map[int]int {
		got := map[int]int{}
		for range n {
			w := brokerGet(h, "192.0.2.10:1", "/v1/credentials/"+profile, tok)
			got[w.Code]++
			if w.Code == 429 && w.Header().Get("Retry-After") != "1" {
				t.Errorf("429 Retry-After = %q; want 1", w.Header().Get("Retry-After"))
			}
		}
		return got
	}
	if got := count(billingToken, "app-billing", 10); got[200] != 2 || got[429] != 8 {
		t.Errorf("10 requests at once: %v; want 2×200, 8×429", got)
	}
	if got := count(searchToken, "app-search", 2); got[200] != 2 {
		t.Errorf("another client: %v; want 2×200", got)
	}
	clk.Advance(time.Second)
	if got := count(billingToken, "app-billing", 3); got[200] != 1 || got[429] != 2 {
		t.Errorf("a second later: %v; want 1×200, 2×429", got)
	}
	if n := src.calls["app-billing/billing"]; n != 3 {
		t.Errorf("credential lookups = %d; want 3 (refused requests fetch nothing)", n)
	}
}

// TestBrokerAuthFailureSlowDown: after AuthFailures refused attempts an
// address gets 429 for everything, even the right token, while another
// address is unaffected; one failure is forgiven per decay period.
func TestBrokerAuthFailureSlowDown(t *testing.T) {
	t.Parallel()
	clk := newClock()
	o := brokerTestOptions(t, clk, nil)
	o.AuthFailures, o.AuthFailureDecay = 5, 10*time.Second
	h := newTestBrokerHandler(t, newClients(), o)
	const attacker, other = "198.51.100.7:1234", "198.51.100.8:1234"
	got := map[int]int{}
	for i := range 20 {
		tok := "GUESS" + strings.Repeat("X", i)
		if i%4 == 0 {
			tok = "" // no token counts too
		}
		var w *httptest.ResponseRecorder
		if tok == "" {
			w = brokerGet(h, attacker, "/v1/credentials/app-billing")
		} else {
			w = brokerGet(h, attacker, "/v1/credentials/app-billing", tok)
		}
		got[w.Code]++
	}
	if got[401]+got[403] != 5 || got[429] != 15 {
		t.Errorf("20 bad attempts: %v; want 5 refused (401/403), then 15×429", got)
	}
	w := brokerGet(h, attacker, "/v1/credentials/app-billing", billingToken)
	if w.Code != 429 || w.Header().Get("Retry-After") != "10" {
		t.Errorf("right token from the slowed address = %d, Retry-After %q; want 429, 10", w.Code, w.Header().Get("Retry-After"))
	}
	if w := brokerGet(h, other, "/v1/credentials/app-billing", billingToken); w.Code != 200 {
		t.Errorf("right token from another address = %d; want 200", w.Code)
	}
	// The same /64 counts as one address.
	for range 5 {
		brokerGet(h, "[2001:db8:1:2::1]:1", "/v1/credentials/app-billing", "WRONG")
	}
	if w := brokerGet(h, "[2001:db8:1:2::99]:1", "/v1/credentials/app-billing", billingToken); w.Code != 429 {
		t.Errorf("another address of a slowed /64 = %d; want 429", w.Code)
	}
	clk.Advance(10 * time.Second) // one failure forgiven
	if w := brokerGet(h, attacker, "/v1/credentials/app-billing", billingToken); w.Code != 200 {
		t.Errorf("after the decay = %d; want 200", w.Code)
	}
	if w := brokerGet(h, attacker, "/v1/credentials/app-billing", "WRONG"); w.Code != 403 {
		t.Errorf("a wrong token after the decay = %d; want 403", w.Code)
	}
	if w := brokerGet(h, attacker, "/v1/credentials/app-billing", billingToken); w.Code != 429 {
		t.Errorf("the next one = %d; want 429 (the one forgiven failure was spent)", w.Code)
	}
}

// TestBrokerUnavailable: no credentials → 503 with Retry-After and a
// generic message (the STS reason stays in the audit line); expired ones
// are never served.
func TestBrokerUnavailable(t *testing.T) {
	t.Parallel()
	clk := newClock()
	var log bytes.Buffer
	src := newClients()
	src.err = errors.New("AccessDenied: User: arn:aws:iam::123456789012:user/alice is not authorized")
	h := newTestBrokerHandler(t, src, brokerTestOptions(t, clk, &log))
	w := brokerGet(h, "192.0.2.1:1", "/v1/credentials/app-billing", billingToken)
	if w.Code != 503 || w.Header().Get("Retry-After") == "" || strings.Contains(w.Body.String(), "alice") {
		t.Errorf("GET = %d %q %s; want 503, a Retry-After and no STS message", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if !strings.Contains(log.String(), "alice") {
		t.Error("the audit line lacks the reason")
	}
	src.err = nil
	src.sessionOnly = true
	if w := brokerGet(h, "192.0.2.1:1", "/v1/credentials/app-billing", billingToken); w.Code != 503 || strings.Contains(w.Body.String(), "ASIAFAKE") {
		t.Errorf("credentials that are not a federated user's: %d %s; want 503 without them", w.Code, w.Body)
	}
	src.sessionOnly = false
	clk.Advance(2 * time.Hour) // testCreds expire after 1h
	if w := brokerGet(h, "192.0.2.1:1", "/v1/credentials/app-billing", billingToken); w.Code != 503 {
		t.Errorf("expired credentials: %d; want 503", w.Code)
	}
}

// TestBrokerAuditLines: one line per issuance and refusal, with client,
// remote address, profile, federated ARN and redacted key id; never a
// token, hash or secret.
func TestBrokerAuditLines(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	var statuses []int
	o := brokerTestOptions(t, newClock(), &log)
	o.OnRequest = func(endpoint string, status int) {
		if endpoint == "broker" {
			statuses = append(statuses, status)
		}
	}
	h := newTestBrokerHandler(t, newClients(), o)
	brokerGet(h, "192.0.2.1:1111", "/v1/credentials/app-search", searchToken)
	brokerGet(h, "192.0.2.1:1111", "/v1/credentials/app-billing", searchToken)
	brokerGet(h, "192.0.2.2:2222", "/v1/credentials/app-billing", billingToken+"x")
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d audit lines; want 3:\n%s", len(lines), log.String())
	}
	for i, want := range [][]string{
		{"level=INFO", "event=broker_issued", "client=search", "remote=192.0.2.1:1111", "profile=app-search",
			"arn=arn:aws:sts::123456789012:federated-user/srch-search", "akid=ASIA…WXYZ", "status=200", "time="},
		{"level=WARN", "event=broker_refused", "client=search", "profile=app-billing", "reason=profile_not_allowed", "status=403"},
		{"level=WARN", "event=broker_refused", `client=""`, "remote=192.0.2.2:2222", "reason=wrong_token", "status=403"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d lacks %s: %s", i+1, w, lines[i])
			}
		}
	}
	for _, secret := range []string{billingToken, searchToken, tokenHash(searchToken), servetest.Secret, servetest.Token, "ASIAFAKE"} {
		if strings.Contains(log.String(), secret) {
			t.Errorf("the audit log carries a secret, token or hash (%.8s…)", secret)
		}
	}
	if len(statuses) != 3 || statuses[0] != 200 || statuses[1] != 403 {
		t.Errorf("OnRequest statuses = %v", statuses)
	}
}

func TestNewRefusesBadInput(t *testing.T) {
	t.Parallel()
	o := brokerTestOptions(t, newClock(), nil)
	o.Clients[0].TokenSHA256 = "abc"
	if _, err := newHandler(newClients(), o.withDefaults()); err == nil {
		t.Error("a malformed token hash was accepted")
	}
	o = brokerTestOptions(t, newClock(), nil)
	o.CertFile, o.KeyFile = "/nonexistent/cert.pem", "/nonexistent/key.pem"
	if _, err := New(newClients(), o); err == nil {
		t.Error("a missing certificate was accepted")
	}
}

// BenchmarkBrokerHandler: one authorized credential GET, handler only.
func BenchmarkBrokerHandler(b *testing.B) {
	o := brokerTestOptions(b, newClock(), nil)
	o.Logger = slog.New(slog.DiscardHandler)
	o.Rate = 1e12
	h := newTestBrokerHandler(b, newClients(), o)
	for b.Loop() {
		if w := brokerGet(h, "192.0.2.1:1", "/v1/credentials/app-billing", billingToken); w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}
