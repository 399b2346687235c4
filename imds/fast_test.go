package imds

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestFastPathSameAnswers: the credential GETs answered before the router
// get exactly the answers the router gives them, every check included.
// Each request goes to the endpoint as served (fast path first) and to the
// same handler with the router alone.
func TestFastPathSameAnswers(t *testing.T) {
	t.Parallel()
	creds, ext := pathCreds+"/dev", pathCredsExt+"/dev"
	tests := []struct {
		name   string
		method string
		path   string
		hdr    []string
		peer   func(*http.Request) (int, error) // default: an allowed uid
		token  string                           // "good" (default), "none", "expired", "other" or a literal
		want   int
	}{
		{"legacy", "GET", creds, nil, nil, "", 200},
		{"extended", "GET", ext, nil, nil, "", 200},
		{"HEAD", "HEAD", creds, nil, nil, "", 200},
		{"other role", "GET", pathCreds + "/prod", nil, nil, "", 404},
		{"trailing slash", "GET", creds + "/", nil, nil, "", 404},
		{"dot segment", "GET", pathCreds + "/./dev", nil, nil, "", 404},
		{"POST", "POST", creds, nil, nil, "", 405},
		{"X-Forwarded-For", "GET", creds, []string{"X-Forwarded-For", "127.0.0.1"}, nil, "", 403},
		{"Forwarded", "GET", ext, []string{"Forwarded", "for=127.0.0.1"}, nil, "", 403},
		{"X-Real-IP", "GET", creds, []string{"X-Real-IP", "127.0.0.1"}, nil, "", 403},
		{"rebound Host", "GET", creds, []string{"Host", "evil.example:9912"}, nil, "", 403},
		{"link-local Host on loopback", "GET", creds, []string{"Host", "169.254.169.254"}, nil, "", 403},
		{"uid not allowed", "GET", creds, nil, func(*http.Request) (int, error) { return testUID + 1, nil }, "", 403},
		{"peer unknown", "GET", ext, nil, func(*http.Request) (int, error) { return -1, errors.New("no socket") }, "", 403},
		{"no token", "GET", creds, nil, nil, "none", 401},
		{"expired token", "GET", creds, nil, nil, "expired", 401},
		{"another profile's token", "GET", ext, nil, nil, "other", 401},
		{"garbage token", "GET", creds, nil, nil, "not-a-token", 401},
		{"two tokens", "GET", creds, []string{tokenHeader, "x"}, nil, "", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			o := testOptions(t, clk, testUID)
			if tt.peer != nil {
				o.PeerUID = tt.peer
			}
			h := newEC2Handler(newSource("dev"), devProfile, o)
			rt := h.router()
			served, routed := h.served(), h.chain(h.auth(func(w http.ResponseWriter, r *http.Request, _ time.Time) { rt.ServeHTTP(w, r) }))
			hdr := append(tt.hdr[:len(tt.hdr):len(tt.hdr)], tokenHeader, h.testToken(tt.token, clk.Now()))
			if tt.token == "none" {
				hdr = tt.hdr
			}
			got, want := request(served, tt.method, tt.path, hdr...), request(routed, tt.method, tt.path, hdr...)
			if got.Code != tt.want {
				t.Errorf("%s %s = %d %s; want %d", tt.method, tt.path, got.Code, got.Body, tt.want)
			}
			if diff := cmp.Diff(answer(want), answer(got)); diff != "" {
				t.Errorf("fast path and router differ (-router +fast):\n%s", diff)
			}
		})
	}
}

// testToken is a token for the table above.
func (h *ec2Handler) testToken(kind string, now time.Time) string {
	switch kind {
	case "", "good":
		return h.key.mint("dev", now.Add(time.Hour))
	case "expired":
		return h.key.mint("dev", now.Add(-time.Second))
	case "other":
		return h.key.mint("prod", now.Add(time.Hour))
	}
	return kind
}

// answer is what a client sees of a response.
func answer(w *httptest.ResponseRecorder) map[string]any {
	return map[string]any{"status": w.Code, "header": w.Header(), "body": w.Body.String()}
}

// TestTokenCheckedAgain: the token last found valid is recognized without
// its HMAC, and still only for its profile, in its exact spelling and
// until it expires.
func TestTokenCheckedAgain(t *testing.T) {
	t.Parallel()
	key, err := newTokenKey(strings.NewReader(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	now := testStart
	t1, t2 := key.mint("dev", now.Add(time.Minute)), key.mint("dev", now.Add(time.Hour))
	flipped := t1[:len(t1)-1] + string(rune('A'+(t1[len(t1)-1]-'A'+1)%26))
	checks := []struct {
		name, profile, tok string
		at                 time.Time
		want               bool
	}{
		{"first check", "dev", t1, now, true},
		{"again", "dev", t1, now.Add(time.Second), true},
		{"again, expired", "dev", t1, now.Add(time.Minute), false},
		{"another profile", "prod", t1, now, false},
		{"one character changed", "dev", flipped, now, false},
		{"a second token", "dev", t2, now, true},
		{"the first again", "dev", t1, now, true},
		{"the first again, expired", "dev", t1, now.Add(2 * time.Minute), false},
	}
	for _, c := range checks {
		if got := key.valid(c.profile, c.tok, c.at); got != c.want {
			t.Errorf("%s: valid = %v; want %v", c.name, got, c.want)
		}
	}
}
