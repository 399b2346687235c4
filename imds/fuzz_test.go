package imds

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stsd/stsd/internal/servetest"
)

// FuzzIMDSTokenTTL: the TTL parser accepts exactly the decimal integers
// 1..21600 written in at most 10 digits, and the PUT handler answers 200 with that TTL echoed, or 400.
func FuzzIMDSTokenTTL(f *testing.F) {
	for _, s := range []string{"0", "1", "300", "21600", "21601", "", "abc", "-1", "+1", " 1", "1 ", "1e3", "0x10", "00001", "99999999999999999999", "٣"} {
		f.Add(s)
	}
	clk := newClock()
	h := NewIMDS(newSource("dev"), devProfile, testOptions(f, clk, testUID))
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseTTL([]string{s})
		want, aerr := strconv.Atoi(s)
		// Leading zeros are fine, but not past 10 digits in all.
		ok := aerr == nil && want >= 1 && want <= 21600 && !strings.HasPrefix(s, "+") && !strings.HasPrefix(s, "-") && len(s) <= 10
		if (err == nil) != ok || (ok && n != want) {
			t.Fatalf("parseTTL(%q) = %d, %v; want ok=%v %d", s, n, err, ok, want)
		}
		if strings.ContainsAny(s, "\r\n\x00") {
			return // not a header value
		}
		w := request(h, http.MethodPut, pathToken, "X-aws-ec2-metadata-token-ttl-seconds", s)
		switch {
		case ok && (w.Code != 200 || w.Header().Get(ttlHeader) != strconv.Itoa(n)):
			t.Fatalf("PUT TTL %q = %d, echo %q; want 200, %d", s, w.Code, w.Header().Get(ttlHeader), n)
		case !ok && w.Code != 400:
			t.Fatalf("PUT TTL %q = %d; want 400", s, w.Code)
		}
	})
}

// FuzzIMDSToken: no string but one this key minted is a valid token, and
// checking never panics.
func FuzzIMDSToken(f *testing.F) {
	key, _ := newTokenKey(strings.NewReader(strings.Repeat("k", 32)))
	now := testStart
	good := key.mint("dev", now.Add(time.Hour))
	f.Add(good)
	f.Add(good[:len(good)-1] + "A")
	f.Add("")
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, tok string) {
		if key.valid("dev", tok, now) && tok != good {
			t.Fatalf("forged token %q accepted", tok)
		}
	})
}

// FuzzEndpoint sends arbitrary requests to the handler: nothing panics;
// every error is one JSON line {"Code","Message"}; and credential bytes
// only ever leave in a 200 to a credential path of the profile, asked with
// a valid token, a loopback Host and no proxy header.
func FuzzEndpoint(f *testing.F) {
	clk := newClock()
	o := Options{Logger: slog.New(slog.DiscardHandler), Now: clk.Now, Hostname: "testhost",
		PeerUID: func(*http.Request) (int, error) { return testUID, nil }}
	h := NewIMDS(newSource("dev", "prod"), devProfile, o)
	w := request(h, http.MethodPut, pathToken, ttlHeader, "600")
	imdsToken := w.Body.String()
	if w.Code != 200 || imdsToken == "" {
		f.Fatalf("token PUT = %d", w.Code)
	}
	f.Fuzz(func(t *testing.T, method, target, host string, token uint8, xff bool) {
		tok := map[uint8]string{0: "", 1: imdsToken, 2: "AAAAforgedAAAA", 3: "PRODTOKENPRODTOKENPRODTOKE"}[token%4]
		hdr := ""
		if tok != "" {
			hdr = tokenHeader + ": " + tok + "\r\n"
		}
		r, rec := servetest.Serve(h, method, target, host, hdr, xff)
		if r == nil {
			return
		}
		p := r.URL.Path
		authorized := token%4 == 1 && (p == pathCreds+"/dev" || p == pathCredsExt+"/dev")
		servetest.CheckAnswer(t, r, rec, xff, authorized)
	})
}

// TestConstantTimeEqual: every length around the word size, equal and
// differing in each byte, and unequal lengths.
func TestConstantTimeEqual(t *testing.T) {
	for n := range 20 {
		a := strings.Repeat("k", n)
		if !constantTimeEqual(a, a) || !constantTimeEqual(a, strings.Clone(a)) {
			t.Errorf("len %d: equal strings compare unequal", n)
		}
		for i := range n {
			for _, flip := range []byte{1, 0x80} {
				b := []byte(a)
				b[i] ^= flip
				if constantTimeEqual(a, string(b)) {
					t.Errorf("len %d: a difference in byte %d (^%#x) went unseen", n, i, flip)
				}
			}
		}
		if constantTimeEqual(a, a+"k") {
			t.Errorf("len %d: unequal lengths compare equal", n)
		}
	}
}
