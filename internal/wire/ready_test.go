package wire_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stsd/stsd/internal/wire"
)

func TestReadyRoundTrip(t *testing.T) {
	t.Parallel()
	c := fakeCreds()
	issued := c.Expiration.Add(-time.Hour).Add(700 * time.Millisecond)
	doc := wire.Marshal(c)
	data := wire.AppendReady(nil, "dev", issued, c.Expiration, doc)
	if want := "stsd-ready 1 dev 1772402400 1772406000\n"; !strings.HasPrefix(string(data), want) {
		t.Errorf("AppendReady header = %q; want %q", data[:bytes.IndexByte(data, '\n')+1], want)
	}
	r, ok := wire.ParseReady(data, "dev")
	if !ok {
		t.Fatal("ParseReady refused AppendReady's output")
	}
	if !bytes.Equal(r.Doc, doc) || !r.Expires.Equal(c.Expiration) || !r.Issued.Equal(issued.Truncate(time.Second)) {
		t.Errorf("ParseReady = %q, %v, %v; want the document, %v, %v", r.Doc, r.Issued, r.Expires, issued.Truncate(time.Second), c.Expiration)
	}
}

func TestParseReadyRefuses(t *testing.T) {
	t.Parallel()
	doc := string(wire.Marshal(fakeCreds()))
	tests := []struct{ name, data string }{
		{"empty", ""},
		{"other magic", "stsd-ready 2 dev 1 2\n" + doc},
		{"other profile", "stsd-ready 1 prod 1 2\n" + doc},
		{"profile prefix", "stsd-ready 1 de 1 2\n" + doc},
		{"no header end", "stsd-ready 1 dev 1 2"},
		{"issued after expiry", "stsd-ready 1 dev 2 1\n" + doc},
		{"issued at expiry", "stsd-ready 1 dev 2 2\n" + doc},
		{"signed", "stsd-ready 1 dev -1 2\n" + doc},
		{"leading zero", "stsd-ready 1 dev 01 2\n" + doc},
		{"extra field", "stsd-ready 1 dev 1 2 3\n" + doc},
		{"missing field", "stsd-ready 1 dev 1\n" + doc},
		{"huge number", "stsd-ready 1 dev 1 9999999999999\n" + doc},
		{"no document", "stsd-ready 1 dev 1 2\n"},
		{"not a document", "stsd-ready 1 dev 1 2\n{}\n"},
		{"no final newline", "stsd-ready 1 dev 1 2\n" + strings.TrimSuffix(doc, "\n")},
		{"two lines", "stsd-ready 1 dev 1 2\n" + doc + doc},
		{"too large", "stsd-ready 1 dev 1 2\n" + `{"Version":1,"X":"` + strings.Repeat("x", wire.MaxReadySize) + "\"}\n"},
	}
	for _, tt := range tests {
		if _, ok := wire.ParseReady([]byte(tt.data), "dev"); ok {
			t.Errorf("%s: ParseReady accepted %q", tt.name, tt.data[:min(len(tt.data), 60)])
		}
	}
}

// TestReadyFresh: the minimum-remaining rule of the cache, min(15m,
// lifetime/4), with expired credentials never fresh.
func TestReadyFresh(t *testing.T) {
	t.Parallel()
	exp := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		lifetime, remaining time.Duration
		want                bool
	}{
		{12 * time.Hour, 11 * time.Hour, true},
		{12 * time.Hour, 15*time.Minute + time.Second, true},
		{12 * time.Hour, 15 * time.Minute, false},
		{time.Hour, 14 * time.Minute, false},
		{15 * time.Minute, 4 * time.Minute, true},
		{15 * time.Minute, 225 * time.Second, false},
		{time.Hour, 0, false},
		{time.Hour, -time.Hour, false},
	}
	for _, tt := range tests {
		r := wire.Ready{Issued: exp.Add(-tt.lifetime), Expires: exp}
		if got := r.Fresh(exp.Add(-tt.remaining)); got != tt.want {
			t.Errorf("Fresh with %v left of %v = %v; want %v", tt.remaining, tt.lifetime, got, tt.want)
		}
	}
}

func TestReadyName(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"dev", "a_b+c=d,e.f@g-h", "A9", strings.Repeat("x", 64), "x.."} {
		if !wire.ReadyName(ok) {
			t.Errorf("ReadyName(%q) = false; want true", ok)
		}
	}
	for _, bad := range []string{"", ".", "..", ".hidden", "a/b", "a b", "é", "a\x00", strings.Repeat("x", 65)} {
		if wire.ReadyName(bad) {
			t.Errorf("ReadyName(%q) = true; want false", bad)
		}
	}
}

// FuzzParseReady: ParseReady never panics, and what it accepts is exactly
// what AppendReady writes for the result.
func FuzzParseReady(f *testing.F) {
	c := fakeCreds()
	f.Add(wire.AppendReady(nil, "dev", c.Expiration.Add(-time.Hour), c.Expiration, wire.Marshal(c)))
	f.Add([]byte("stsd-ready 1 dev 0 1\n{\"Version\":1,}\n"))
	f.Add([]byte("stsd-ready 1 dev 1 2\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, ok := wire.ParseReady(data, "dev")
		if !ok {
			return
		}
		if again := wire.AppendReady(nil, "dev", r.Issued, r.Expires, r.Doc); !bytes.Equal(again, data) {
			t.Fatalf("ParseReady(%q) = %+v, which AppendReady writes as %q", data, r, again)
		}
	})
}
