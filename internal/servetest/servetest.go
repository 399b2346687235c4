// Package servetest holds what the tests of stsd's HTTP endpoints (IMDS,
// ECS, the broker, peer checks) share: fake credentials and a fake source,
// a settable clock, one-request helpers, a check that refusals carry no
// credential bytes, golden files and a log buffer safe for concurrent use.
package servetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stsd/stsd/internal/clock"
	"github.com/stsd/stsd/internal/httpserve"
	"github.com/stsd/stsd/internal/wire"
)

// Start is the fake clocks' start.
var Start = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// Fake credentials (the commit hook allows ASIAFAKE…); the secret and token
// carry JSON-sensitive characters.
const (
	KeyID  = "ASIAFAKE00000000WXYZ"
	Secret = "fakeSecret/+fakeSecret\"fake\\secret"
	Token  = "FAKEsessionToken//+==<&>"
)

// Creds are credentials expiring an hour (and a half second) after Start.
func Creds() wire.Credentials {
	return wire.Credentials{
		AccessKeyID:     KeyID,
		SecretAccessKey: Secret,
		SessionToken:    Token,
		Expiration:      Start.Add(time.Hour + 500*time.Millisecond),
		AccountID:       "123456789012",
	}
}

// LiveCreds are Creds expiring an hour from now on the real clock, for
// servers on real sockets.
func LiveCreds() wire.Credentials {
	c := Creds()
	c.Expiration = time.Now().Add(time.Hour)
	return c
}

// Clock is a settable clock.
type Clock = clock.Fake

// NewClock reads Start.
func NewClock() *Clock { return clock.NewFake(Start) }

// ErrNoCreds is the error a Source hands out when told to fail.
var ErrNoCreds = errors.New("no valid credentials: backoff after Throttling")

// Source serves fixed credentials per profile, or an error.
type Source struct {
	mu    sync.Mutex
	creds map[string]wire.Credentials
	err   error
	calls int
}

// NewSource serves Creds for each profile.
func NewSource(profiles ...string) *Source {
	s := &Source{creds: map[string]wire.Credentials{}}
	for _, p := range profiles {
		s.creds[p] = Creds()
	}
	return s
}

// CredentialsAt is the endpoints' Source method: the credentials set
// for profile, at now.
func (s *Source) CredentialsAt(_ context.Context, profile string, now time.Time) (wire.Credentials, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.err != nil {
		return wire.Credentials{}, time.Time{}, s.err
	}
	c, ok := s.creds[profile]
	if !ok {
		return wire.Credentials{}, time.Time{}, errors.New(`unknown profile "` + profile + `"`)
	}
	return c, now, nil
}

// Set serves c for profile, or err for every profile when err is not nil.
func (s *Source) Set(profile string, c wire.Credentials, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creds[profile] = c
	s.err = err
}

// Calls counts Credentials calls.
func (s *Source) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Request sends one request to h; hdr are name, value pairs; Host defaults
// to 127.0.0.1:9912 ("Host", "" sends none).
func Request(h http.Handler, method, path string, hdr ...string) *httptest.ResponseRecorder {
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

// HasCredentials reports whether b carries any byte of Creds.
func HasCredentials(b string) bool {
	return strings.Contains(b, KeyID) || strings.Contains(b, "fakeSecret") || strings.Contains(b, "FAKEsessionToken")
}

// NoSecrets fails if a non-200 answer carries credential bytes.
func NoSecrets(t *testing.T, what string, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code != http.StatusOK && HasCredentials(w.Body.String()) {
		t.Errorf("%s: %d body carries credential bytes", what, w.Code)
	}
}

// Golden compares got with the file at path, rewriting it when update.
func Golden(t *testing.T, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s mismatch (-want +got):\n%s", path, cmp.Diff(string(want), string(got)))
	}
}

// Buffer is a strings.Builder safe for concurrent use (a log sink).
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Serve builds a request from fuzzed parts the way a client could send it
// (method, target, Host, extra header lines ending in CRLF, an
// X-Forwarded-For) and has h answer it. r is nil when net/http would not
// parse it or would answer it itself.
func Serve(h http.Handler, method, target, host, headers string, xff bool) (*http.Request, *httptest.ResponseRecorder) {
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n" + headers)
	if xff {
		b.WriteString("X-Forwarded-For: 127.0.0.1\r\n")
	}
	b.WriteString("\r\n")
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(b.String())))
	if err != nil || r.RequestURI == "*" {
		return nil, nil
	}
	r.RemoteAddr = "127.0.0.1:50000"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return r, rec
}

// CheckAnswer fails unless every error answer is one JSON line
// {"Code","Message"} with Content-Type application/json, and credential
// bytes leave only in a 200 to an authorized request with a loopback Host
// and no proxy header.
func CheckAnswer(t *testing.T, r *http.Request, rec *httptest.ResponseRecorder, xff, authorized bool) {
	t.Helper()
	body := rec.Body.Bytes()
	if rec.Code >= 400 {
		if ct := rec.Header().Get("Content-Type"); ct != httpserve.ContentJSON {
			t.Fatalf("%s %s: %d with Content-Type %q", r.Method, r.RequestURI, rec.Code, ct)
		}
		var e struct{ Code, Message string }
		if bytes.Contains(body, []byte("\n")) || json.Unmarshal(body, &e) != nil || e.Code == "" || e.Message == "" {
			t.Fatalf("%s %s: %d body %q is not one {Code, Message} line", r.Method, r.RequestURI, rec.Code, body)
		}
	}
	if !HasCredentials(string(body)) {
		return
	}
	if rec.Code != 200 || xff || !httpserve.LoopbackHost(r.Host) || !authorized {
		t.Fatalf("%s %s (Host %q, xff %v, authorized %v): %d answer holds credentials", r.Method, r.RequestURI, r.Host, xff, authorized, rec.Code)
	}
}

// BenchWriter is a reusable http.ResponseWriter for benchmarks: it keeps
// the status and the body's size and discards the bytes, so allocations
// per op are the handler's own.
type BenchWriter struct {
	H     http.Header
	Code  int
	Bytes int
}

// Header returns the response header map.
func (w *BenchWriter) Header() http.Header { return w.H }

// WriteHeader records the status.
func (w *BenchWriter) WriteHeader(code int) {
	if w.Code == 0 {
		w.Code = code
	}
}

// Write counts the body.
func (w *BenchWriter) Write(p []byte) (int, error) {
	if w.Code == 0 {
		w.Code = http.StatusOK
	}
	w.Bytes += len(p)
	return len(p), nil
}

// Reset readies w for the next request, keeping its header map.
func (w *BenchWriter) Reset() {
	if w.H == nil {
		w.H = http.Header{}
	}
	clear(w.H)
	w.Code, w.Bytes = 0, 0
}

// BenchLog is the daemon's access log for benchmarks: text lines to a
// file in the benchmark's temp dir, through the batched writer.
func BenchLog(b *testing.B) *slog.Logger {
	f, err := os.Create(filepath.Join(b.TempDir(), "log"))
	if err != nil {
		b.Fatal(err)
	}
	lb := httpserve.NewLogBuffer(f, httpserve.LogBufferOptions{})
	b.Cleanup(func() { lb.Close(); f.Close() })
	return slog.New(slog.NewTextHandler(lb.Batched(), nil))
}

// HandlerBench serves req with h into a reusable BenchWriter, b.N times;
// every answer must be 200. Its allocations are h's own.
func HandlerBench(b *testing.B, h http.Handler, req *http.Request) {
	w := &BenchWriter{}
	b.ReportAllocs()
	for b.Loop() {
		w.Reset()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("GET = %d", w.Code)
		}
	}
}

// RecorderBench serves req with h into a fresh httptest.ResponseRecorder,
// b.N times, as a test would; every answer must be 200.
func RecorderBench(b *testing.B, h http.Handler, req *http.Request) {
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("GET = %d", w.Code)
		}
	}
}

// ServeBench starts h on 127.0.0.1:0 the way the daemon serves an
// endpoint (httpserve.Serve with peercred.ConnContext via connContext) and
// returns its address; it stops when the benchmark ends.
func ServeBench(b *testing.B, h http.Handler, o httpserve.Options) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); httpserve.Serve(ctx, ln, h, o) }()
	b.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

// LoadBench sends req (a whole HTTP/1.1 request) to addr, the
// benchmark's iterations spread over 8 keep-alive connections per CPU
// sending back to back, and reads each answer, which must be 200 with a
// Content-Length body. The CPUs are kept busy, so ns/op is the CPU one
// request costs client and server together: compare a server with its
// floor.
func LoadBench(b *testing.B, addr string, req []byte) {
	b.Helper()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		br := bufio.NewReaderSize(c, 16<<10)
		body := make([]byte, 64<<10)
		for pb.Next() {
			if _, err := c.Write(req); err != nil {
				b.Error(err)
				return
			}
			if err := readAnswer(br, body); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// readAnswer reads one 200 response with a Content-Length body.
func readAnswer(br *bufio.Reader, body []byte) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
		return fmt.Errorf("answer %q", line)
	}
	n := -1
	for {
		h, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		if v, ok := bytes.CutPrefix(h, []byte("Content-Length: ")); ok {
			if n, err = strconv.Atoi(string(v)); err != nil || n > len(body) {
				return fmt.Errorf("Content-Length %q", v)
			}
		}
	}
	if n < 0 {
		return errors.New("no Content-Length")
	}
	_, err = io.ReadFull(br, body[:n])
	return err
}

// FloorBench serves body with Content-Type contentType to every request
// on 127.0.0.1:0 from a bare http.Server (no routing, checks, limits, log
// or ConnContext): the floor the endpoints are measured against.
func FloorBench(b *testing.B, contentType string, body []byte) string {
	b.Helper()
	h := floorHandler(contentType, body)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	b.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String()
}

// floorHandler is the floors' handler: body with Content-Type
// contentType, and nothing else.
func floorHandler(contentType string, body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Write(body)
	})
}
