package imds

import (
	"errors"
	"net/http"
	"net/http/httptest"
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
			served, routed := h.served(), h.chain(h.router())
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
