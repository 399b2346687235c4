package httpserve

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestAccessLog: one line per request with method, path, status, size,
// client and duration, never a header; no Server header; the body bound;
// the status counted. The writers it reuses carry nothing from one
// request to the next.
func TestAccessLog(t *testing.T) {
	var out sink
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var counted []int
	h := AccessLog(Log{Logger: slog.New(slog.NewTextHandler(&out, nil)), Now: func() time.Time { return now }, Endpoint: "imds",
		OnRequest: func(endpoint string, status int) {
			if endpoint == "imds" {
				counted = append(counted, status)
			}
		}},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/missing":
				NotFound(w, r)
			case "/body":
				_, err := io.ReadAll(r.Body)
				if err == nil {
					t.Error("a body over MaxBodyBytes was read whole")
				}
				w.WriteHeader(http.StatusRequestEntityTooLarge)
			default: // writes nothing: 200
			}
		}))
	send := func(method, path string, body io.Reader) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "http://127.0.0.1:9912"+path, body)
		r.Header.Set("X-Aws-Ec2-Metadata-Token", "SECRET-TOKEN")
		r.Header.Set("Authorization", "SECRET-AUTH")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := send("GET", "/missing", nil); w.Code != 404 || w.Header()["Server"] != nil {
		t.Errorf("404: %d, Server %q", w.Code, w.Header().Get("Server"))
	}
	if w := send("GET", "/empty", nil); w.Code != 200 {
		t.Errorf("empty answer: %d", w.Code)
	}
	if w := send("PUT", "/body", strings.NewReader(strings.Repeat("x", MaxBodyBytes+1))); w.Code != 413 {
		t.Errorf("body: %d", w.Code)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	want := []string{
		"level=INFO msg=request event=http_request endpoint=imds method=GET path=/missing status=404 bytes=41 remote=192.0.2.1:1234 duration=0s",
		"level=INFO msg=request event=http_request endpoint=imds method=GET path=/empty status=200 bytes=0 remote=192.0.2.1:1234 duration=0s",
		"level=INFO msg=request event=http_request endpoint=imds method=PUT path=/body status=413 bytes=0 remote=192.0.2.1:1234 duration=0s",
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines; want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, l := range lines {
		if !strings.HasSuffix(l, want[i]) || !strings.HasPrefix(l, "time=2026-01-02T03:04:05.000Z ") {
			t.Errorf("line %d = %q; want …%q", i, l, want[i])
		}
		if strings.Contains(l, "SECRET") {
			t.Errorf("line %d logs a header: %q", i, l)
		}
	}
	if len(counted) != 3 || counted[0] != 404 || counted[1] != 200 || counted[2] != 413 {
		t.Errorf("counted %v; want [404 200 413]", counted)
	}
}

// TestLoopbackHost: only loopback literals and localhost pass, with a
// valid port or none; a name that merely starts like one (DNS rebinding)
// does not.
func TestLoopbackHost(t *testing.T) {
	for h, want := range map[string]bool{
		"127.0.0.1": true, "127.0.0.1:9912": true, "localhost": true, "localhost:80": true,
		"LocalHost:80": true, "::1": false, "[::1]": true, "[::1]:9912": true, "127.1.2.3:65535": true,
		"": false, "127.0.0.1:": false, "127.0.0.1:65536": false, "127.0.0.1:x": false,
		"127.0.0.1.evil.example": false, "localhost.evil.example:80": false, "evil.example": false,
		"127.1": false, "0x7f.0.0.1": false, "[::1": false, "[::2]:80": false, "10.0.0.1": false,
		"169.254.169.254": false, "[::ffff:127.0.0.1]": false, "::ffff:127.0.0.1": false,
	} {
		if got := LoopbackHost(h); got != want {
			t.Errorf("LoopbackHost(%q) = %v, want %v", h, got, want)
		}
	}
}
