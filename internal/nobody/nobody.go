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

	"github.com/stsd/stsd/internal/testhome"
)

// UID is nobody's uid (and gid) on Debian and most Linux distributions.
const UID = 65534

// Run makes cmd run as nobody.
func Run(cmd *exec.Cmd) *exec.Cmd {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: UID, Gid: UID}}
	return cmd
}

// Dir is a short temporary directory nobody may enter and read, removed
// when the test ends.
func Dir(t testing.TB) string {
	t.Helper()
	dir := testhome.ShortDir(t)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBinary copies the running test binary where nobody may execute it
// (the go build cache is root-only) and returns its path.
func TestBinary(t testing.TB) string {
	t.Helper()
	dir := Dir(t)
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
