//go:build !windows

package credproc_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stsd/stsd/credproc"
	"github.com/stsd/stsd/internal/wire"
)

// readyCreds are what a ready file holds; the fake daemon's socket
// answers fakeCreds, so the output shows which one Run used.
func readyCreds() wire.Credentials {
	c := fakeCreds()
	c.AccessKeyID = "ASIAFAKEREADYFILE001"
	return c
}

// writeReadyFile writes a ready file as the daemon does (0600, in a 0700
// dir) and, when locked, holds the daemon's flock on it until the test
// ends.
func writeReadyFile(t *testing.T, dir, name string, data []byte, locked bool) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if locked {
		holdLock(t, p)
	}
	return p
}

func holdLock(t *testing.T, p string) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
}

func readyData(issued, expires time.Time) []byte {
	c := readyCreds()
	c.Expiration = expires
	return wire.AppendReady(nil, "dev", issued, expires, wire.Marshal(c))
}

// TestRunReadyFile: a fresh ready file a live daemon holds is printed as
// is, without asking the socket.
func TestRunReadyFile(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, httpReply("200 OK", string(wire.Marshal(fakeCreds()))), 0)
	dir := filepath.Join(t.TempDir(), "ready")
	exp := now.Add(45 * time.Minute)
	writeReadyFile(t, dir, "dev", readyData(now.Add(-15*time.Minute), exp), true)
	var h harness
	o := h.options("dev", []string{d.path}, "")
	o.ReadyDir = dir
	if code := credproc.Run(t.Context(), o); code != 0 {
		t.Fatalf("Run = %d (stderr %q)", code, h.stderr.String())
	}
	c := readyCreds()
	c.Expiration = exp
	if got, want := h.stdout.String(), string(wire.Marshal(c)); got != want {
		t.Errorf("stdout = %q; want the ready file's document %q", redactOut(got), redactOut(want))
	}
	if reqs := d.requests(); len(reqs) != 0 {
		t.Errorf("the socket got %d requests; want none", len(reqs))
	}
	checkStderr(t, h.stderr.String(), "")
}

// TestRunReadyFileRefused: every file a live daemon of this user did not
// leave there, or whose credentials are too old, is passed over for the
// socket (whose answer is final): a planted symlink, a foreign-owned
// file or directory, a hard link, open modes, a file no daemon holds, an
// expired or nearly expired one, another profile's, a FIFO.
func TestRunReadyFileRefused(t *testing.T) {
	t.Parallel()
	fresh := readyData(now.Add(-15*time.Minute), now.Add(45*time.Minute))
	tests := []struct {
		name  string
		root  bool // needs root (chown)
		setup func(t *testing.T, dir string)
	}{
		{"no file", false, func(t *testing.T, dir string) { os.MkdirAll(dir, 0o700) }},
		{"no daemon holds it", false, func(t *testing.T, dir string) { writeReadyFile(t, dir, "dev", fresh, false) }},
		{"past expiry", false, func(t *testing.T, dir string) {
			writeReadyFile(t, dir, "dev", readyData(now.Add(-time.Hour), now.Add(-time.Second)), true)
		}},
		{"within the minimum remaining", false, func(t *testing.T, dir string) {
			writeReadyFile(t, dir, "dev", readyData(now.Add(-50*time.Minute), now.Add(10*time.Minute)), true)
		}},
		{"planted symlink", false, func(t *testing.T, dir string) {
			target := writeReadyFile(t, filepath.Join(filepath.Dir(dir), "elsewhere"), "dev", fresh, true)
			os.MkdirAll(dir, 0o700)
			if err := os.Symlink(target, filepath.Join(dir, "dev")); err != nil {
				t.Fatal(err)
			}
		}},
		{"directory is a symlink", false, func(t *testing.T, dir string) {
			writeReadyFile(t, filepath.Join(filepath.Dir(dir), "elsewhere"), "dev", fresh, true)
			os.Remove(dir)
			if err := os.Symlink(filepath.Join(filepath.Dir(dir), "elsewhere"), dir); err != nil {
				t.Fatal(err)
			}
		}},
		{"foreign-owned file", true, func(t *testing.T, dir string) {
			p := writeReadyFile(t, dir, "dev", fresh, true)
			if err := os.Chown(p, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}},
		{"foreign-owned directory", true, func(t *testing.T, dir string) {
			writeReadyFile(t, dir, "dev", fresh, true)
			if err := os.Chown(dir, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}},
		{"hard link", false, func(t *testing.T, dir string) {
			p := writeReadyFile(t, dir, "dev", fresh, true)
			if err := os.Link(p, filepath.Join(dir, "other")); err != nil {
				t.Fatal(err)
			}
		}},
		{"group-readable file", false, func(t *testing.T, dir string) {
			os.Chmod(writeReadyFile(t, dir, "dev", fresh, true), 0o640)
		}},
		{"open directory", false, func(t *testing.T, dir string) {
			writeReadyFile(t, dir, "dev", fresh, true)
			os.Chmod(dir, 0o755)
		}},
		{"another profile's file", false, func(t *testing.T, dir string) {
			c := readyCreds()
			writeReadyFile(t, dir, "dev", wire.AppendReady(nil, "prod", now.Add(-time.Hour), c.Expiration, wire.Marshal(c)), true)
		}},
		{"corrupt", false, func(t *testing.T, dir string) { writeReadyFile(t, dir, "dev", []byte("stsd-ready 1 dev\n{"), true) }},
		{"fifo", false, func(t *testing.T, dir string) {
			os.MkdirAll(dir, 0o700)
			if err := syscall.Mkfifo(filepath.Join(dir, "dev"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"a directory", false, func(t *testing.T, dir string) { os.MkdirAll(filepath.Join(dir, "dev"), 0o700) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.root && os.Geteuid() != 0 {
				t.Skip("needs root to make a file another user owns")
			}
			socketDoc := string(wire.Marshal(fakeCreds()))
			d := startDaemon(t, httpReply("200 OK", socketDoc), 0)
			dir := filepath.Join(t.TempDir(), "ready")
			tt.setup(t, dir)
			var h harness
			o := h.options("dev", []string{d.path}, "")
			o.ReadyDir = dir
			if code := credproc.Run(t.Context(), o); code != 0 {
				t.Fatalf("Run = %d (stderr %q)", code, h.stderr.String())
			}
			if got := h.stdout.String(); got != socketDoc {
				t.Errorf("stdout = %q; want the socket's answer", redactOut(got))
			}
			if reqs := d.requests(); len(reqs) != 1 {
				t.Errorf("the socket got %d requests; want 1", len(reqs))
			}
			checkStderr(t, h.stderr.String(), "")
		})
	}
}

// BenchmarkRunReady is the small binary's whole fast path with a warm
// daemon: the ready file checked, read and printed.
func BenchmarkRunReady(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "ready")
	os.MkdirAll(dir, 0o700)
	p := filepath.Join(dir, "dev")
	if err := os.WriteFile(p, readyData(now.Add(-15*time.Minute), now.Add(45*time.Minute)), 0o600); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	o := credproc.Options{
		Profile: "dev", Sockets: []string{}, ReadyDir: dir, Stdout: &out, Stderr: &out,
		Now: func() time.Time { return now }, Getenv: func(string) string { return "" },
		Exec: func(string, []string, []string) int { b.Fatal("Exec called"); return 1 },
	}
	for b.Loop() {
		out.Reset()
		if code := credproc.Run(context.Background(), o); code != 0 {
			b.Fatalf("Run = %d", code)
		}
	}
}
