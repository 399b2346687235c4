package ecs

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
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
	dev := "/v1/credentials/dev"
	auth := func(tok string, more ...string) []string { return append([]string{"Authorization", tok}, more...) }
	self := func(*http.Request) (int, error) { return os.Getuid(), nil }
	tests := []struct {
		name   string
		method string
		path   string
		hdr    []string
		peer   func(*http.Request) (int, error) // default: an allowed uid
		want   int
	}{
		{"file token", "GET", dev, auth(devToken), nil, 200},
		{"HEAD", "HEAD", dev, auth(devToken), nil, 200},
		{"exec token", "GET", dev, auth("exec"), nil, 200},
		{"revoked exec token", "GET", dev, auth("revoked"), nil, 403},
		{"expired exec token", "GET", dev, auth("expired"), nil, 403},
		{"no token", "GET", dev, nil, nil, 401},
		{"wrong token", "GET", dev, auth("WRONGWRONGWRONGWRONGWRONG0"), nil, 403},
		{"two tokens", "GET", dev, auth(devToken, "Authorization", devToken), nil, 403},
		{"another profile's token", "GET", dev, auth(prodToken), nil, 403},
		{"profile the caller may not read", "GET", "/v1/credentials/prod", auth(prodToken), nil, 403},
		{"unknown profile", "GET", "/v1/credentials/nope", auth(devToken), nil, 403},
		{"unknown profile, the daemon's user", "GET", "/v1/credentials/nope", auth(devToken), self, 404},
		{"unknown profile, the daemon's user, no token", "GET", "/v1/credentials/nope", nil, self, 401},
		{"no profile", "GET", "/v1/credentials/", auth(devToken), nil, 404},
		{"nested path", "GET", dev + "/x", auth(devToken), nil, 404},
		{"dot segment", "GET", "/v1/credentials/./dev", auth(devToken), nil, 404},
		{"POST", "POST", dev, auth(devToken), nil, 405},
		{"X-Forwarded-For", "GET", dev, auth(devToken, "X-Forwarded-For", "127.0.0.1"), nil, 403},
		{"Forwarded", "GET", dev, auth(devToken, "Forwarded", "for=127.0.0.1"), nil, 403},
		{"X-Real-IP", "GET", dev, auth(devToken, "X-Real-IP", "127.0.0.1"), nil, 403},
		{"rebound Host", "GET", dev, auth(devToken, "Host", "evil.example:9911"), nil, 403},
		{"uid not allowed", "GET", dev, auth(devToken), func(*http.Request) (int, error) { return 4242, nil }, 403},
		{"peer unknown", "GET", dev, auth(devToken), func(*http.Request) (int, error) { return -1, errors.New("no socket") }, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			tokens := NewTokens(clk.Now)
			tokens.SetFile("dev", devToken)
			tokens.SetFile("prod", prodToken)
			live := map[string]string{"exec": tokens.Issue("dev", time.Minute).Token}
			revoked := tokens.Issue("dev", time.Minute)
			revoked.Revoke()
			live["revoked"] = revoked.Token
			live["expired"] = tokens.Issue("dev", time.Second).Token
			clk.Advance(time.Second)
			hdr := append([]string(nil), tt.hdr...)
			for i := 1; i < len(hdr); i += 2 {
				if tok, ok := live[hdr[i]]; ok {
					hdr[i] = tok
				}
			}
			o := testOptions(t, clk, testUID)
			if tt.peer != nil {
				o.PeerUID = tt.peer
			}
			h := newECS(newSource("dev", "prod"), []Profile{{Name: "dev", AllowedUIDs: []int{testUID}}, {Name: "prod", AllowedUIDs: []int{2000}}}, tokens, o)
			served, routed := h.served(), h.chain(h.router())
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

// answer is what a client sees of a response.
func answer(w *httptest.ResponseRecorder) map[string]any {
	return map[string]any{"status": w.Code, "header": w.Header(), "body": w.Body.String()}
}
