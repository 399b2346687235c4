package ecs

import (
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
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

// FuzzContainerEndpoint sends arbitrary requests to the container
// listener: nothing panics, credential bytes leave only in a 200 for the
// one live id (from an allowed caller, with an acceptable Host and no
// proxy header), and every refusal of an id is the agent's one body.
func FuzzContainerEndpoint(f *testing.F) {
	clk := newClock()
	ids, err := OpenIDs(filepath.Join(f.TempDir(), IDsFile), clk.Now)
	if err != nil {
		f.Fatal(err)
	}
	live, _, _ := ids.Mint("dev", time.Hour)
	o := Options{Logger: slog.New(slog.DiscardHandler), Now: clk.Now,
		PeerUID:       func(*http.Request) (int, error) { return testUID, nil },
		ContainerPeer: func(*http.Request) (netip.Addr, bool) { return netip.Addr{}, false }}
	h := NewContainer(newSource("dev"), []Profile{{Name: "dev", AllowedUIDs: []int{testUID}}}, ids, o)
	f.Add("GET", ContainerPath(live), "127.0.0.1", false)
	f.Add("GET", ContainerPath(live[:25]+"A"), "localhost", false)
	f.Add("HEAD", "/v2/credentials/", "[::1]", true)
	f.Add("GET", ContainerPath(live)+"/x", "127.0.0.1:80", false)
	f.Fuzz(func(t *testing.T, method, target, host string, xff bool) {
		r, rec := servetest.Serve(h, method, target, host, "", xff)
		if r == nil {
			return
		}
		body := rec.Body.String()
		authorized := r.URL.Path == ContainerPath(live)
		servetest.CheckAnswer(t, r, rec, xff, authorized)
		if rec.Code == http.StatusBadRequest && strings.Contains(body, "InvalidIdInRequest") && body != string(invalidIDBody) {
			t.Fatalf("a refusal that differs: %s", body)
		}
	})
}

// FuzzIDsFile loads arbitrary bytes as the ids file: never a panic, and
// whatever loads finds only what it holds.
func FuzzIDsFile(f *testing.F) {
	f.Add([]byte(`{"version":1,"ids":[]}`))
	f.Add([]byte(`{"version":1,"ids":[{"sha256":"` + strings.Repeat("ab", 32) + `","ref":"ABCD…WXYZ","profile":"dev","created":"2026-01-01T00:00:00Z","expires":"2099-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"version":1,"ids":[{"sha256":"zz"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), IDsFile)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		ids, err := OpenIDs(path, newClock().Now)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("a multi-line error: %v", err)
			}
			return
		}
		if _, ok := ids.Lookup(""); ok {
			t.Fatal("the empty id is live")
		}
		for _, info := range ids.List() {
			if !newClock().Now().Before(info.Expires) {
				t.Fatalf("an expired id is listed: %+v", info)
			}
		}
	})
}
