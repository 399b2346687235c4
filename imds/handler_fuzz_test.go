package imds

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzEndpoints sends arbitrary requests to the IMDS and ECS handlers:
// nothing panics; every error is one JSON line {"Code","Message"}; and
// credential bytes only ever leave in a 200 to a credential path of the
// profile, asked with that profile's valid token, a loopback Host and no
// X-Forwarded-For.
func FuzzEndpoints(f *testing.F) {
	clk := newClock()
	o := Options{Logger: slog.New(slog.DiscardHandler), Now: clk.Now, Hostname: "testhost",
		PeerUID: func(*http.Request) (int, error) { return testUID, nil }}
	src := newSource("dev", "prod")
	ec2 := NewIMDS(src, devProfile, o)
	tokens := NewTokens(clk.Now)
	tokens.SetFile("dev", devToken)
	tokens.SetFile("prod", prodToken)
	ecs := NewECS(src, []Profile{devProfile, {Name: "prod", AllowedUIDs: []int{testUID}}}, tokens, o)
	w := request(ec2, http.MethodPut, pathToken, ttlHeader, "600")
	imdsToken := w.Body.String()
	if w.Code != 200 || imdsToken == "" {
		f.Fatalf("token PUT = %d", w.Code)
	}

	f.Fuzz(func(t *testing.T, useECS bool, method, target, host string, token uint8, xff bool) {
		var hdr strings.Builder
		fmt.Fprintf(&hdr, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, host)
		tok := map[uint8]string{0: "", 1: imdsToken, 2: "AAAAforgedAAAA", 3: prodToken}[token%4]
		if useECS && token%4 == 1 {
			tok = devToken
		}
		switch {
		case tok == "":
		case useECS:
			fmt.Fprintf(&hdr, "Authorization: %s\r\n", tok)
		default:
			fmt.Fprintf(&hdr, "%s: %s\r\n", tokenHeader, tok)
		}
		if xff {
			hdr.WriteString("X-Forwarded-For: 127.0.0.1\r\n")
		}
		hdr.WriteString("\r\n")
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(hdr.String())))
		if err != nil || r.RequestURI == "*" {
			return // the server answers these itself
		}
		r.RemoteAddr = "127.0.0.1:50000"
		h := ec2
		if useECS {
			h = ecs
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if rec.Code >= 400 {
			if ct := rec.Header().Get("Content-Type"); ct != contentJSON {
				t.Fatalf("%s %s: %d with Content-Type %q", method, target, rec.Code, ct)
			}
			var e struct{ Code, Message string }
			if bytes.Contains(body, []byte("\n")) || json.Unmarshal(body, &e) != nil || e.Code == "" || e.Message == "" {
				t.Fatalf("%s %s: %d body %q is not one {Code, Message} line", method, target, rec.Code, body)
			}
		}
		if !bytes.Contains(body, []byte("fakeSecret")) && !bytes.Contains(body, []byte("FAKEsessionToken")) && !bytes.Contains(body, []byte(fakeKeyID)) {
			return
		}
		var authorized bool
		switch p := r.URL.Path; {
		case useECS:
			authorized = token%4 == 1 && p == ECSPath("dev") || token%4 == 3 && p == ECSPath("prod")
		default:
			authorized = token%4 == 1 && (p == pathCreds+"/dev" || p == pathCredsExt+"/dev")
		}
		if rec.Code != 200 || xff || !loopbackHost(r.Host) || !authorized {
			t.Fatalf("%s %s (Host %q, token %d, xff %v): %d answer holds credentials", method, target, host, token%4, xff, rec.Code)
		}
	})
}
