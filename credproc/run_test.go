package credproc_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stsd/stsd/cache"
	"github.com/stsd/stsd/credproc"
	"github.com/stsd/stsd/internal/testhome"
	"github.com/stsd/stsd/internal/wire"
)

const (
	fakeKeyID  = "ASIAFAKEEXAMPLE12345"
	fakeSecret = "fakeSecretAccessKeyDoNotUse0123456789abcd"
	fakeToken  = "fakeSessionTokenDoNotUse/+=0123456789"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fakeCreds() wire.Credentials {
	return wire.Credentials{
		AccessKeyID:     fakeKeyID,
		SecretAccessKey: fakeSecret,
		SessionToken:    fakeToken,
		Expiration:      now.Add(11 * time.Hour),
		AccountID:       "123456789012",
	}
}

// shortDir is a temp dir short enough for unix socket paths.
func shortDir(t testing.TB) string { return testhome.ShortDir(t) }

// fakeDaemon answers every connection on a unix socket with reply (raw
// bytes), after delay; it records the requests it read.
type fakeDaemon struct {
	path string
	mu   sync.Mutex // guards the fields that follow
	reqs []string
}

func (d *fakeDaemon) requests() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.reqs...)
}

func startDaemon(t *testing.T, reply string, delay time.Duration) *fakeDaemon {
	t.Helper()
	d := &fakeDaemon{path: filepath.Join(shortDir(t), "d.sock")}
	ln, err := net.Listen("unix", d.path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() {
		close(done)
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				var req strings.Builder
				for {
					l, err := br.ReadString('\n')
					req.WriteString(l)
					if err != nil || l == "\r\n" {
						break
					}
				}
				d.mu.Lock()
				d.reqs = append(d.reqs, req.String())
				d.mu.Unlock()
				select {
				case <-time.After(delay):
				case <-done:
					return
				}
				c.Write([]byte(reply))
			})
		}
	})
	return d
}

func httpReply(status string, body string) string {
	return "HTTP/1.0 " + status + "\r\nContent-Type: application/json\r\nContent-Length: " +
		fmt.Sprint(len(body)) + "\r\n\r\n" + body
}

// execCall records what Run passed to Exec.
type execCall struct {
	Path string
	Argv []string
}

type harness struct {
	stdout, stderr bytes.Buffer
	mu             sync.Mutex
	calls          []execCall
}

func (h *harness) options(profile string, sockets []string, cacheDir string) credproc.Options {
	return credproc.Options{
		Profile:         profile,
		Sockets:         sockets,
		CacheDir:        cacheDir,
		Stsd:            "/opt/stsd/bin/stsd",
		Stdout:          &h.stdout,
		Stderr:          &h.stderr,
		Now:             func() time.Time { return now },
		Getenv:          func(string) string { return "" },
		DialTimeout:     time.Second,
		ResponseTimeout: 5 * time.Second,
		Prompt: func(ctx context.Context, backend, profile string) (string, error) {
			return "", errors.New("no terminal (" + backend + ")")
		},
		Exec: func(path string, argv, env []string) int {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.calls = append(h.calls, execCall{Path: path, Argv: argv})
			if len(env) == 0 {
				return 99 // stsd must get this process's environment
			}
			return 42
		},
	}
}

// checkStderr fails unless stderr is empty (want "") or exactly one line
// holding want; it never holds a secret.
func checkStderr(t *testing.T, got, want string) {
	t.Helper()
	if strings.Contains(got, fakeSecret) || strings.Contains(got, fakeToken) {
		t.Fatalf("stderr holds a secret (%d bytes, not shown)", len(got))
	}
	if want == "" {
		if got != "" {
			t.Errorf("stderr = %q; want empty", got)
		}
		return
	}
	if strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "\n") || !strings.HasPrefix(got, "stsd-credential-process: ") {
		t.Errorf("stderr = %q; want one line starting stsd-credential-process:", got)
	}
	if !strings.Contains(got, want) {
		t.Errorf("stderr = %q; want it to contain %q", got, want)
	}
}

var wantExec = []execCall{{Path: "/opt/stsd/bin/stsd", Argv: []string{"/opt/stsd/bin/stsd", "credential-process", "--profile", "dev"}}}

func TestRunDaemon(t *testing.T) {
	t.Parallel()
	doc := string(wire.Marshal(fakeCreds()))
	tests := []struct {
		name       string
		reply      string
		delay      time.Duration
		wantCode   int
		wantStdout string
		wantStderr string
		wantExec   []execCall
	}{
		{name: "200", reply: httpReply("200 OK", doc), wantStdout: doc},
		{name: "200 http/1.1", reply: strings.Replace(httpReply("200 OK", doc), "HTTP/1.0", "HTTP/1.1", 1), wantStdout: doc},
		{name: "200 until EOF", reply: "HTTP/1.0 200 OK\r\n\r\n" + doc, wantStdout: doc},
		{name: "200 LF only", reply: "HTTP/1.0 200 OK\nContent-Length: " + fmt.Sprint(len(doc)) + "\n\n" + doc, wantStdout: doc},
		{name: "404 falls through", reply: httpReply("404 Not Found", `{"Code":"NotFound","Message":"no profile dev"}`), wantCode: 42, wantExec: wantExec},
		{
			name:       "503 expired",
			reply:      httpReply("503 Service Unavailable", `{"Code":"Expired","Message":"credentials for dev expired; last error: sts unreachable"}`),
			wantCode:   1,
			wantStderr: "stsd-credential-process: credentials for dev expired; last error: sts unreachable\n",
		},
		{
			name:       "403",
			reply:      httpReply("403 Forbidden", `{"Code":"Forbidden","Message":"uid 1001 may not read profile dev"}`),
			wantCode:   1,
			wantStderr: "uid 1001 may not read profile dev",
		},
		{
			name:       "needs mfa",
			reply:      httpReply("409 Conflict", `{"Code":"NeedsMFA","Message":"profile dev needs an MFA code","MFAPrompt":"tty"}`),
			wantCode:   1,
			wantStderr: "profile dev needs an MFA code: no terminal (tty)",
		},
		{
			name:       "message with newlines",
			reply:      httpReply("500 Internal Server Error", `{"Code":"Internal","Message":"line one\nline two\r\n"}`),
			wantCode:   1,
			wantStderr: "line one line two",
		},
		{name: "500 plain body", reply: httpReply("500 Internal Server Error", "oops"), wantCode: 1, wantStderr: "answered 500 for profile dev"},
		{name: "garbage", reply: "hello there\r\n\r\n", wantCode: 1, wantStderr: "malformed reply"},
		{name: "bad status", reply: "HTTP/1.0 2x0 OK\r\n\r\n", wantCode: 1, wantStderr: "malformed reply"},
		{name: "short body", reply: "HTTP/1.0 200 OK\r\nContent-Length: 500\r\n\r\n{}", wantCode: 1, wantStderr: "malformed reply"},
		{name: "200 not json", reply: httpReply("200 OK", "AccessKeyId=x"), wantCode: 1, wantStderr: "malformed credential document"},
		{name: "200 empty", reply: httpReply("200 OK", ""), wantCode: 1, wantStderr: "malformed credential document"},
		{name: "too large", reply: "HTTP/1.0 200 OK\r\n\r\n" + `"` + strings.Repeat("x", 70000) + `"`, wantCode: 1, wantStderr: "larger than 64 KiB"},
		{name: "closed without reply", reply: "", wantCode: 42, wantExec: wantExec},
		{name: "slow", reply: httpReply("200 OK", doc), delay: time.Minute, wantCode: 42, wantExec: wantExec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := startDaemon(t, tt.reply, tt.delay)
			var h harness
			o := h.options("dev", []string{d.path}, filepath.Join(t.TempDir(), "none"))
			o.ResponseTimeout = 200 * time.Millisecond
			code := credproc.Run(t.Context(), o)
			if code != tt.wantCode {
				t.Errorf("Run = %d; want %d (stderr %q)", code, tt.wantCode, h.stderr.String())
			}
			if got := h.stdout.String(); got != tt.wantStdout {
				t.Errorf("stdout = %q; want %q", redactOut(got), redactOut(tt.wantStdout))
			}
			checkStderr(t, h.stderr.String(), tt.wantStderr)
			if diff := cmp.Diff(tt.wantExec, h.calls); diff != "" {
				t.Errorf("Exec calls (-want +got):\n%s", diff)
			}
			wantReq := []string{"GET /v1/credentials/dev HTTP/1.0\r\nHost: stsd\r\n\r\n"}
			if diff := cmp.Diff(wantReq, d.requests()); diff != "" {
				t.Errorf("daemon requests (-want +got):\n%s", diff)
			}
		})
	}
}

// redactOut hides fake secrets in failure messages.
func redactOut(s string) string {
	return strings.NewReplacer(fakeSecret, "<secret>", fakeToken, "<token>").Replace(s)
}

func TestRunEscapesProfile(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, httpReply("404 Not Found", "{}"), 0)
	var h harness
	o := h.options("a b/ü", []string{d.path}, "")
	o.CacheDir = filepath.Join(t.TempDir(), "none")
	credproc.Run(t.Context(), o)
	want := []string{"GET /v1/credentials/a%20b%2F%C3%BC HTTP/1.0\r\nHost: stsd\r\n\r\n"}
	if diff := cmp.Diff(want, d.requests()); diff != "" {
		t.Errorf("daemon requests (-want +got):\n%s", diff)
	}
}

func TestRunFallsThroughSockets(t *testing.T) {
	t.Parallel()
	doc := string(wire.Marshal(fakeCreds()))
	notServing := startDaemon(t, httpReply("404 Not Found", `{"Code":"NotFound","Message":"no such profile"}`), 0)
	serving := startDaemon(t, httpReply("200 OK", doc), 0)
	never := startDaemon(t, httpReply("200 OK", "{}"), 0)

	// A socket file nobody listens on: ECONNREFUSED.
	refused := filepath.Join(shortDir(t), "r.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: refused, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	// A regular file where a socket should be.
	notSock := filepath.Join(shortDir(t), "f.sock")
	if err := os.WriteFile(notSock, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	var h harness
	sockets := []string{
		filepath.Join(shortDir(t), "missing.sock"), // ENOENT
		refused,
		notSock,
		notServing.path,
		serving.path,
		never.path,
	}
	o := h.options("dev", sockets, filepath.Join(t.TempDir(), "none"))
	if code := credproc.Run(t.Context(), o); code != 0 {
		t.Fatalf("Run = %d; want 0 (stderr %q)", code, h.stderr.String())
	}
	if got := h.stdout.String(); got != doc {
		t.Errorf("stdout = %q; want the serving daemon's document", redactOut(got))
	}
	checkStderr(t, h.stderr.String(), "")
	if n := len(notServing.requests()); n != 1 {
		t.Errorf("404 daemon got %d requests; want 1", n)
	}
	if n := len(never.requests()); n != 0 {
		t.Errorf("daemon after the serving one got %d requests; want 0", n)
	}
	if len(h.calls) != 0 {
		t.Errorf("Exec called %v; want no fallback", h.calls)
	}
}

func writeEntry(t *testing.T, dir string, e *cache.Entry) {
	t.Helper()
	s, err := cache.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(e); err != nil {
		t.Fatal(err)
	}
}

func TestRunCache(t *testing.T) {
	t.Parallel()
	type fixture struct {
		dir, cfg string
	}
	entry := func(f fixture, lifetime, remaining time.Duration) *cache.Entry {
		c := fakeCreds()
		c.Expiration = now.Add(remaining)
		hs, err := cache.HashFiles([]string{f.cfg, filepath.Join(filepath.Dir(f.cfg), "absent.json")})
		if err != nil {
			t.Fatal(err)
		}
		return &cache.Entry{Profile: "dev", Credentials: c, Issued: c.Expiration.Add(-lifetime), Files: hs}
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, f fixture)
		hit   bool
	}{
		{"fresh", func(t *testing.T, f fixture) { writeEntry(t, f.dir, entry(f, 12*time.Hour, 11*time.Hour)) }, true},
		{"16m left of 12h", func(t *testing.T, f fixture) { writeEntry(t, f.dir, entry(f, 12*time.Hour, 16*time.Minute)) }, true},
		{"15m left of 12h", func(t *testing.T, f fixture) { writeEntry(t, f.dir, entry(f, 12*time.Hour, 15*time.Minute)) }, false},
		{"14m left of 12h", func(t *testing.T, f fixture) { writeEntry(t, f.dir, entry(f, 12*time.Hour, 14*time.Minute)) }, false},
		{"4m left of 15m", func(t *testing.T, f fixture) { writeEntry(t, f.dir, entry(f, 15*time.Minute, 4*time.Minute)) }, true},
		{"3m left of 15m", func(t *testing.T, f fixture) { writeEntry(t, f.dir, entry(f, 15*time.Minute, 3*time.Minute)) }, false},
		{"expired", func(t *testing.T, f fixture) { writeEntry(t, f.dir, entry(f, 12*time.Hour, -time.Minute)) }, false},
		{"issued unknown", func(t *testing.T, f fixture) {
			e := entry(f, 12*time.Hour, 11*time.Hour)
			e.Issued = time.Time{}
			writeEntry(t, f.dir, e)
		}, false},
		{"config edited", func(t *testing.T, f fixture) {
			writeEntry(t, f.dir, entry(f, 12*time.Hour, 11*time.Hour))
			if err := os.WriteFile(f.cfg, []byte("duration = \"1h\"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"absent file appeared", func(t *testing.T, f fixture) {
			writeEntry(t, f.dir, entry(f, 12*time.Hour, 11*time.Hour))
			if err := os.WriteFile(filepath.Join(filepath.Dir(f.cfg), "absent.json"), []byte("{}"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"other profile's entry", func(t *testing.T, f fixture) {
			e := entry(f, 12*time.Hour, 11*time.Hour)
			e.Profile = "prod"
			writeEntry(t, f.dir, e)
		}, false},
		{"corrupt", func(t *testing.T, f fixture) {
			writeEntry(t, f.dir, &cache.Entry{Profile: "other", Credentials: fakeCreds()})
			if err := os.WriteFile(filepath.Join(f.dir, "dev.json"), []byte("{"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"world-readable", func(t *testing.T, f fixture) {
			writeEntry(t, f.dir, entry(f, 12*time.Hour, 11*time.Hour))
			if err := os.Chmod(filepath.Join(f.dir, "dev.json"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"no cache dir", func(*testing.T, fixture) {}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			f := fixture{dir: filepath.Join(root, "cache"), cfg: filepath.Join(root, "config.toml")}
			if err := os.WriteFile(f.cfg, []byte("[profiles.dev]\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			tt.setup(t, f)
			before := listDir(t, f.dir)
			var h harness
			o := h.options("dev", []string{filepath.Join(root, "no.sock")}, f.dir)
			code := credproc.Run(t.Context(), o)
			if tt.hit {
				want := string(wire.Marshal(entry(f, 12*time.Hour, 11*time.Hour).Credentials))
				if code != 0 || len(h.calls) != 0 {
					t.Fatalf("Run = %d, Exec %v; want 0 from the cache (stderr %q)", code, h.calls, h.stderr.String())
				}
				if got := h.stdout.String(); !strings.HasPrefix(got, want[:60]) || !strings.Contains(got, `"AccountId":"123456789012"}`) {
					t.Errorf("stdout = %q; want the cached credentials", redactOut(got))
				}
			} else {
				if code != 42 {
					t.Errorf("Run = %d; want 42 from Exec", code)
				}
				if diff := cmp.Diff(wantExec, h.calls); diff != "" {
					t.Errorf("Exec calls (-want +got):\n%s", diff)
				}
				if h.stdout.Len() != 0 {
					t.Errorf("stdout = %q; want empty (stsd prints)", redactOut(h.stdout.String()))
				}
			}
			checkStderr(t, h.stderr.String(), "")
			if diff := cmp.Diff(before, listDir(t, f.dir)); diff != "" {
				t.Errorf("Run changed the cache dir (-before +after):\n%s", diff)
			}
		})
	}
}

// listDir names dir's files with their sizes, or nil when dir is absent.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %d %v", e.Name(), fi.Size(), fi.Mode()))
	}
	return out
}

func TestRunExactCacheOutput(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "cache")
	c := fakeCreds()
	writeEntry(t, dir, &cache.Entry{Profile: "dev", Credentials: c, Issued: now.Add(-time.Hour)})
	var h harness
	if code := credproc.Run(t.Context(), h.options("dev", []string{}, dir)); code != 0 {
		t.Fatalf("Run = %d (stderr %q)", code, h.stderr.String())
	}
	if !bytes.Equal(h.stdout.Bytes(), wire.Marshal(c)) {
		t.Errorf("stdout = %q; want Marshal(entry credentials)", redactOut(h.stdout.String()))
	}
}

func TestRunResolving(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, httpReply("200 OK", string(wire.Marshal(fakeCreds()))), 0)
	var h harness
	o := h.options("dev", []string{d.path}, "")
	o.Getenv = func(k string) string {
		if k == "STSD_RESOLVING" {
			return "1"
		}
		return ""
	}
	if code := credproc.Run(t.Context(), o); code != 1 {
		t.Errorf("Run = %d; want 1", code)
	}
	checkStderr(t, h.stderr.String(), "STSD_RESOLVING")
	if h.stdout.Len() != 0 || len(h.calls) != 0 || len(d.requests()) != 0 {
		t.Errorf("Run with STSD_RESOLVING did work: stdout %d bytes, exec %v, requests %d", h.stdout.Len(), h.calls, len(d.requests()))
	}
}

func TestRunNoProfile(t *testing.T) {
	t.Parallel()
	var h harness
	if code := credproc.Run(t.Context(), h.options("", []string{}, "")); code != 2 {
		t.Errorf("Run = %d; want 2", code)
	}
	checkStderr(t, h.stderr.String(), "no profile")
}

func TestRunCancelled(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, httpReply("200 OK", "{}"), time.Minute)
	var h harness
	o := h.options("dev", []string{d.path}, "")
	o.ResponseTimeout = time.Minute
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if code := credproc.Run(ctx, o); code != 1 {
		t.Errorf("Run = %d; want 1", code)
	}
	checkStderr(t, h.stderr.String(), "interrupted")
	if len(h.calls) != 0 {
		t.Errorf("Exec called after cancel: %v", h.calls)
	}
}

// TestRunStsdNotFound uses the default lookup with an empty PATH; the test
// binary's directory holds no stsd. Not parallel: it sets PATH.
func TestRunStsdNotFound(t *testing.T) {
	t.Setenv("PATH", "")
	var h harness
	o := h.options("dev", []string{}, filepath.Join(t.TempDir(), "none"))
	o.Stsd = ""
	if code := credproc.Run(t.Context(), o); code != 1 {
		t.Errorf("Run = %d; want 1", code)
	}
	checkStderr(t, h.stderr.String(), "install stsd next to")
	if len(h.calls) != 0 {
		t.Errorf("Exec called: %v", h.calls)
	}
}

// TestRunStsdOnPath finds stsd on PATH when none sits next to the binary.
func TestRunStsdOnPath(t *testing.T) {
	bin := t.TempDir()
	stsd := filepath.Join(bin, "stsd")
	if err := os.WriteFile(stsd, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	var h harness
	o := h.options("dev", []string{}, filepath.Join(t.TempDir(), "none"))
	o.Stsd = ""
	if code := credproc.Run(t.Context(), o); code != 42 {
		t.Errorf("Run = %d; want 42 (stderr %q)", code, h.stderr.String())
	}
	want := []execCall{{Path: stsd, Argv: []string{stsd, "credential-process", "--profile", "dev"}}}
	if diff := cmp.Diff(want, h.calls); diff != "" {
		t.Errorf("Exec calls (-want +got):\n%s", diff)
	}
}

func BenchmarkRunCache(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "cache")
	s, err := cache.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	cfg := filepath.Join(b.TempDir(), "config.toml")
	if err := os.WriteFile(cfg, []byte("[profiles.dev]\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	hs, err := cache.HashFiles([]string{cfg})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Save(&cache.Entry{Profile: "dev", Credentials: fakeCreds(), Issued: now.Add(-time.Hour), Files: hs}); err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	o := credproc.Options{
		Profile:  "dev",
		Sockets:  []string{filepath.Join(dir, "no.sock")},
		CacheDir: dir,
		Stdout:   &out,
		Stderr:   &out,
		Now:      func() time.Time { return now },
		Getenv:   func(string) string { return "" },
		Exec:     func(string, []string, []string) int { b.Fatal("Exec called"); return 1 },
	}
	for b.Loop() {
		out.Reset()
		if code := credproc.Run(context.Background(), o); code != 0 {
			b.Fatalf("Run = %d", code)
		}
	}
}

// TestRunNeedsMFAPrompts: on needs-mfa the binary prompts with the named
// backend, POSTs the code, then prints the credentials the daemon returns.
func TestRunNeedsMFAPrompts(t *testing.T) {
	t.Parallel()
	doc := string(wire.Marshal(fakeCreds()))
	path := filepath.Join(shortDir(t), "d.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var reqs []string
	mfaDone := false
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			br := bufio.NewReader(c)
			var req strings.Builder
			n := 0
			for {
				l, err := br.ReadString('\n')
				req.WriteString(l)
				if v, ok := strings.CutPrefix(l, "Content-Length: "); ok {
					fmt.Sscan(v, &n)
				}
				if err != nil || l == "\r\n" {
					break
				}
			}
			body := make([]byte, n)
			io.ReadFull(br, body)
			req.Write(body)
			mu.Lock()
			reqs = append(reqs, req.String())
			switch {
			case strings.HasPrefix(req.String(), "POST /v1/mfa/dev ") && string(body) == "123456":
				mfaDone = true
				c.Write([]byte("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"))
			case mfaDone:
				c.Write([]byte(httpReply("200 OK", doc)))
			default:
				c.Write([]byte(httpReply("409 Conflict", `{"Code":"NeedsMFA","Message":"profile dev needs an MFA code","MFAPrompt":"zenity"}`)))
			}
			mu.Unlock()
			c.Close()
		}
	})
	var h harness
	o := h.options("dev", []string{path}, filepath.Join(t.TempDir(), "none"))
	var backend string
	o.Prompt = func(ctx context.Context, b, profile string) (string, error) {
		backend = b
		return "123456", nil
	}
	if code := credproc.Run(t.Context(), o); code != 0 {
		t.Fatalf("Run = %d; stderr %q", code, h.stderr.String())
	}
	if h.stdout.String() != doc {
		t.Errorf("stdout is not exactly the credential document")
	}
	if backend != "zenity" {
		t.Errorf("prompted with %q; want the daemon's zenity", backend)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{
		"GET /v1/credentials/dev HTTP/1.0\r\nHost: stsd\r\n\r\n",
		"POST /v1/mfa/dev HTTP/1.0\r\nHost: stsd\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\n123456",
		"GET /v1/credentials/dev HTTP/1.0\r\nHost: stsd\r\n\r\n",
	}
	if diff := cmp.Diff(want, reqs); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}
