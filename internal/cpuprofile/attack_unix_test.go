//go:build !windows

package cpuprofile

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stsd/stsd/internal/nobody"
)

// TestOtherUserCannotPlantOrRead: another user plants a symlink in a
// shared sticky directory where root's profile would go (to make root
// overwrite a file of root's); the profile refuses it. The profile root
// then writes elsewhere in that directory is unreadable to that user.
func TestOtherUserCannotPlantOrRead(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a child as nobody")
	}
	dir := nobody.Dir(t)
	if err := os.Chmod(dir, 0o1777); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "root-only")
	if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	planted := filepath.Join(dir, "cpu.pprof")
	if out, err := nobody.Run(exec.Command("ln", "-s", victim, planted)).CombinedOutput(); err != nil {
		t.Fatalf("nobody's ln -s: %v: %s", err, out)
	}
	if p, err := Start(planted); err == nil {
		p.Stop()
		t.Fatal("Start followed nobody's symlink")
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Fatalf("root's file was overwritten through the link: %q", b)
	}

	own := filepath.Join(dir, "root.pprof")
	p, err := Start(own)
	if err != nil {
		t.Fatal(err)
	}
	burn()
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if out, err := nobody.Run(exec.Command("cat", own)).CombinedOutput(); err == nil {
		t.Errorf("nobody read root's profile (%d bytes)", len(out))
	}
}
