package ecs

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stsd/stsd/internal/servetest"
)

const (
	devToken  = "DEVTOKENDEVTOKENDEVTOKEN00"
	prodToken = "PRODTOKENPRODTOKENPRODTOKE"
)

func newECSHandler(t *testing.T) (http.Handler, *Tokens, *fakeSource, *fakeClock) {
	t.Helper()
	clk := newClock()
	src := newSource("dev", "prod")
	tokens := NewTokens(clk.Now)
	tokens.SetFile("dev", devToken)
	tokens.SetFile("prod", prodToken)
	profiles := []Profile{
		{Name: "dev", AllowedUIDs: []int{os.Getuid()}},
		{Name: "prod", AllowedUIDs: []int{2000}},
	}
	return New(src, profiles, tokens, testOptions(t, clk, os.Getuid())), tokens, src, clk
}

func TestECS(t *testing.T) {
	t.Parallel()
	h, tokens, _, clk := newECSHandler(t)
	exec := tokens.Issue("dev", time.Minute)
	revoked := tokens.Issue("dev", time.Minute)
	revoked.Revoke()
	expiring := tokens.Issue("dev", time.Second)
	clk.Advance(time.Second)
	prodExec := tokens.Issue("prod", time.Minute)

	tests := []struct {
		name   string
		method string
		path   string
		hdr    []string
		want   int
	}{
		{"file token", "GET", "/v1/credentials/dev", []string{"Authorization", devToken}, 200},
		{"exec token", "GET", "/v1/credentials/dev", []string{"Authorization", exec.Token}, 200},
		{"HEAD", "HEAD", "/v1/credentials/dev", []string{"Authorization", devToken}, 200},
		{"no token", "GET", "/v1/credentials/dev", nil, 401},
		{"empty token", "GET", "/v1/credentials/dev", []string{"Authorization", ""}, 401},
		{"wrong token", "GET", "/v1/credentials/dev", []string{"Authorization", "WRONGWRONGWRONGWRONGWRONG0"}, 403},
		{"bearer scheme", "GET", "/v1/credentials/dev", []string{"Authorization", "Bearer " + devToken}, 403},
		{"two headers", "GET", "/v1/credentials/dev", []string{"Authorization", devToken, "Authorization", devToken}, 403},
		{"another profile's token", "GET", "/v1/credentials/dev", []string{"Authorization", prodToken}, 403},
		{"another profile's exec token", "GET", "/v1/credentials/dev", []string{"Authorization", prodExec.Token}, 403},
		{"revoked exec token", "GET", "/v1/credentials/dev", []string{"Authorization", revoked.Token}, 403},
		{"expired exec token", "GET", "/v1/credentials/dev", []string{"Authorization", expiring.Token}, 403},
		{"caller not allowed for prod", "GET", "/v1/credentials/prod", []string{"Authorization", prodToken}, 403},
		{"unknown profile", "GET", "/v1/credentials/nope", []string{"Authorization", devToken}, 404},
		{"unknown profile, no token", "GET", "/v1/credentials/nope", nil, 401},
		{"XFF", "GET", "/v1/credentials/dev", []string{"Authorization", devToken, "X-Forwarded-For", "1.2.3.4"}, 403},
		{"Forwarded", "GET", "/v1/credentials/dev", []string{"Authorization", devToken, "Forwarded", "for=1.2.3.4"}, 403},
		{"X-Real-IP", "GET", "/v1/credentials/dev", []string{"Authorization", devToken, "X-Real-IP", "1.2.3.4"}, 403},
		{"foreign host", "GET", "/v1/credentials/dev", []string{"Authorization", devToken, "Host", "evil.example:9911"}, 403},
		{"POST", "POST", "/v1/credentials/dev", []string{"Authorization", devToken}, 405},
		{"unknown path", "GET", "/v2/credentials/dev", []string{"Authorization", devToken}, 404},
		{"traversal", "GET", "/v1/credentials/../credentials/dev", []string{"Authorization", devToken}, 404},
		{"trailing slash", "GET", "/v1/credentials/dev/", []string{"Authorization", devToken}, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := request(h, tt.method, tt.path, tt.hdr...)
			if w.Code != tt.want {
				t.Errorf("%s %s = %d %s; want %d", tt.method, tt.path, w.Code, w.Body, tt.want)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q; want exactly application/json", ct)
			}
			if tt.want != 200 {
				var e struct{ Code, Message string }
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code == "" || e.Message == "" {
					t.Errorf("error body %q is not {Code,Message}", w.Body)
				}
			}
			noSecrets(t, tt.name, w)
		})
	}
}

func TestECSGolden(t *testing.T) {
	t.Parallel()
	h, _, src, _ := newECSHandler(t)
	w := request(h, "GET", "/v1/credentials/dev", "Authorization", devToken)
	golden(t, "ecs-credentials.golden", w.Body.Bytes())

	w = request(h, "GET", "/v1/credentials/dev")
	golden(t, "ecs-error-401.golden", w.Body.Bytes())

	src.Set("dev", testCreds(), errNoCreds)
	w = request(h, "GET", "/v1/credentials/dev", "Authorization", devToken)
	if w.Code != 503 {
		t.Fatalf("unavailable = %d; want 503", w.Code)
	}
	noSecrets(t, "unavailable", w)
}

// TestExecTokenLifecycle: an exec token works while renewed, stops at its
// TTL, and stops at once when revoked.
func TestExecTokenLifecycle(t *testing.T) {
	t.Parallel()
	clk := newClock()
	tokens := NewTokens(clk.Now)
	tok := tokens.Issue("dev", time.Minute)
	if err := tokens.Check("dev", tok.Token); err != nil {
		t.Fatalf("fresh exec token: %v", err)
	}
	clk.Advance(50 * time.Second)
	tok.Renew(time.Minute)
	clk.Advance(50 * time.Second)
	if err := tokens.Check("dev", tok.Token); err != nil {
		t.Errorf("renewed exec token: %v", err)
	}
	clk.Advance(11 * time.Second)
	if err := tokens.Check("dev", tok.Token); err != ErrWrongToken {
		t.Errorf("exec token past its TTL: %v; want ErrWrongToken", err)
	}
	tok2 := tokens.Issue("dev", 0)
	clk.Advance(24 * time.Hour)
	if err := tokens.Check("dev", tok2.Token); err != nil {
		t.Errorf("exec token without TTL: %v", err)
	}
	tok2.Revoke()
	tok2.Revoke()
	tok2.Renew(time.Hour) // no effect after revoke
	if err := tokens.Check("dev", tok2.Token); err != ErrWrongToken {
		t.Errorf("revoked exec token: %v; want ErrWrongToken", err)
	}
}

// TestNoSecretsInLogs: the access and audit lines of every kind of request
// carry no secret, session token or ECS token.
func TestNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	clk := newClock()
	o := testOptions(t, clk, os.Getuid())
	o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	src := newSource("dev")
	tokens := NewTokens(clk.Now)
	tokens.SetFile("dev", devToken)
	exec := tokens.Issue("dev", time.Minute)
	h := New(src, []Profile{{Name: "dev"}}, tokens, o)
	request(h, "GET", "/v1/credentials/dev", "Authorization", devToken)
	request(h, "GET", "/v1/credentials/dev", "Authorization", exec.Token)
	request(h, "GET", "/v1/credentials/dev", "Authorization", devToken+"x")
	o.PeerUID = func(*http.Request) (int, error) { return 12345, nil }
	request(New(src, []Profile{{Name: "dev"}}, tokens, o), "GET", "/v1/credentials/dev", "Authorization", devToken)
	src.Set("dev", testCreds(), errNoCreds)
	request(h, "GET", "/v1/credentials/dev", "Authorization", devToken)

	out := logs.String()
	if !strings.Contains(out, "event=caller_refused") || !strings.Contains(out, "event=http_request") {
		t.Fatalf("expected access and audit lines, got:\n%s", out)
	}
	for _, secret := range []string{servetest.Secret[:10], "FAKEsessionToken", devToken[:20], exec.Token[:20], servetest.KeyID} {
		if strings.Contains(out, secret) {
			t.Errorf("logs carry a secret or token (%d chars)", len(secret))
		}
	}
}
