package imds

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stsd/stsd/internal/wire"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var testStart = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// Fake credentials (the commit hook allows ASIAFAKE…); the secret and token
// carry JSON-sensitive characters.
const (
	fakeKeyID  = "ASIAFAKE00000000WXYZ"
	fakeSecret = "fakeSecret/+fakeSecret\"fake\\secret"
	fakeToken  = "FAKEsessionToken//+==<&>"
)

func testCreds() wire.Credentials {
	return wire.Credentials{
		AccessKeyID:     fakeKeyID,
		SecretAccessKey: fakeSecret,
		SessionToken:    fakeToken,
		Expiration:      testStart.Add(time.Hour + 500*time.Millisecond),
		AccountID:       "123456789012",
	}
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: testStart} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeSource serves fixed credentials per profile, or an error.
type fakeSource struct {
	mu    sync.Mutex
	creds map[string]wire.Credentials
	err   error
	calls int
}

func newSource(profiles ...string) *fakeSource {
	s := &fakeSource{creds: map[string]wire.Credentials{}}
	for _, p := range profiles {
		s.creds[p] = testCreds()
	}
	return s
}

var errNoCreds = errors.New("no valid credentials: backoff after Throttling")

func (s *fakeSource) Credentials(_ context.Context, profile string) (wire.Credentials, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.err != nil {
		return wire.Credentials{}, s.err
	}
	c, ok := s.creds[profile]
	if !ok {
		return wire.Credentials{}, errors.New("unknown profile " + quote(profile))
	}
	return c, nil
}

func (s *fakeSource) set(profile string, c wire.Credentials, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creds[profile] = c
	s.err = err
}

// testOptions: a fixed clock and hostname, the caller's uid fixed to uid,
// logs to the test output.
func testOptions(t testing.TB, clk *fakeClock, uid int) Options {
	return Options{
		Logger:   slog.New(slog.NewTextHandler(t.Output(), nil)),
		Now:      clk.Now,
		Hostname: "testhost",
		PeerUID:  func(*http.Request) (int, error) { return uid, nil },
	}
}

const testUID = 1000

// request sends one request to h; hdr are name, value pairs; Host defaults
// to 127.0.0.1:9912 ("Host", "" sends none).
func request(h http.Handler, method, path string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "http://127.0.0.1:9912/", nil)
	r.URL.Path = path
	r.RequestURI = path
	r.Host = "127.0.0.1:9912"
	for i := 0; i+1 < len(hdr); i += 2 {
		if http.CanonicalHeaderKey(hdr[i]) == "Host" {
			r.Host = hdr[i+1]
			continue
		}
		r.Header.Add(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// noSecrets fails if a non-200 body carries credential bytes.
func noSecrets(t *testing.T, what string, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code == http.StatusOK {
		return
	}
	body := w.Body.String()
	for _, s := range []string{fakeKeyID, "fakeSecret", "FAKEsessionToken"} {
		if strings.Contains(body, s) {
			t.Errorf("%s: %d body carries credential bytes", what, w.Code)
		}
	}
}

// golden compares got with testdata/name, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s mismatch (-want +got):\n%s", name, cmp.Diff(string(want), string(got)))
	}
}
