package ecs

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stsd/stsd/internal/servetest"
)

// FuzzECSAuthorization: only the exact token authorizes its profile.
func FuzzECSAuthorization(f *testing.F) {
	tokens := NewTokens(nil)
	tokens.SetFile("dev", devToken)
	tokens.SetFile("prod", prodToken)
	exec := tokens.Issue("dev", time.Hour)
	for _, s := range []string{devToken, prodToken, exec.Token, "", " " + devToken, devToken + "\n", "Bearer " + devToken, devToken[:10]} {
		f.Add("dev", s)
		f.Add("prod", s)
	}
	f.Fuzz(func(t *testing.T, profile, tok string) {
		err := tokens.Check(profile, tok)
		valid := (profile == "dev" && (tok == devToken || tok == exec.Token)) || (profile == "prod" && tok == prodToken)
		if (err == nil) != valid {
			t.Fatalf("Check(%q, %q) = %v; want valid=%v", profile, tok, err, valid)
		}
		if tok == "" && err != ErrNoToken {
			t.Fatalf("Check with no token = %v; want ErrNoToken", err)
		}
	})
}

// FuzzEndpoint sends arbitrary requests to the handler: nothing panics;
// every error is one JSON line {"Code","Message"}; and credential bytes
// only ever leave in a 200 to the credential path of the profile the
// token is for, with a loopback Host and no proxy header.
func FuzzEndpoint(f *testing.F) {
	clk := newClock()
	o := Options{Logger: slog.New(slog.DiscardHandler), Now: clk.Now,
		PeerUID: func(*http.Request) (int, error) { return testUID, nil }}
	tokens := NewTokens(clk.Now)
	tokens.SetFile("dev", devToken)
	tokens.SetFile("prod", prodToken)
	h := New(newSource("dev", "prod"), []Profile{{Name: "dev", AllowedUIDs: []int{testUID}}, {Name: "prod", AllowedUIDs: []int{testUID}}}, tokens, o)
	f.Add("GET", "/v1/credentials/dev", "127.0.0.1:9911", uint8(1), false)
	f.Add("GET", "/v1/credentials/prod", "localhost", uint8(3), false)
	f.Add("GET", "/v1/credentials/dev", "evil.example", uint8(1), true)
	f.Fuzz(func(t *testing.T, method, target, host string, token uint8, xff bool) {
		tok := map[uint8]string{0: "", 1: devToken, 2: "AAAAforgedAAAA", 3: prodToken}[token%4]
		hdr := ""
		if tok != "" {
			hdr = "Authorization: " + tok + "\r\n"
		}
		r, rec := servetest.Serve(h, method, target, host, hdr, xff)
		if r == nil {
			return
		}
		p := r.URL.Path
		authorized := token%4 == 1 && p == Path("dev") || token%4 == 3 && p == Path("prod")
		servetest.CheckAnswer(t, r, rec, xff, authorized)
	})
}
