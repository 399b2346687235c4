//go:build !windows

// Package nobody runs test children as another user ("nobody"), for the
// tests that prove a peer, cache or socket check refuses someone else.
// Tests run as root here (CI too); callers skip when they are not.
package nobody

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// UID is nobody's uid (and gid) on Debian and most Linux distributions.
const UID = 65534

// Run makes cmd run as nobody.
func Run(cmd *exec.Cmd) *exec.Cmd {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: UID, Gid: UID}}
	return cmd
}

// TestBinary copies the running test binary where nobody may execute it
// (the go build cache is root-only) and returns its path.
func TestBinary(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "bin")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, filepath.Base(os.Args[0]))
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}
