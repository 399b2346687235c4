package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunCPUProfileRefusesExisting: `stsd run --cpu-profile F` never
// overwrites F or follows a link there; it stops before doing anything
// else, with one line saying why.
func TestRunCPUProfileRefusesExisting(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.pprof")
	if err := os.Symlink(victim, link); err != nil {
		t.Skipf("no symlinks: %v", err)
	}
	for _, path := range []string{victim, link} {
		_, errOut, code := runCLI(t, "run", "--cpu-profile", path)
		if code != exitUsage || !strings.Contains(errOut, "already exists") || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Errorf("run --cpu-profile %s = %d, %q; want 2 and one line saying it exists", filepath.Base(path), code, errOut)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Errorf("victim overwritten: %q", b)
	}
}
