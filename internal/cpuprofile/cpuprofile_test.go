package cpuprofile

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// burn spends a little CPU (a bounded loop) so the profile has samples
// to write; the test does not depend on how many.
func burn() uint64 {
	var x uint64 = 1
	for i := range 20_000_000 {
		x = x*6364136223846793005 + uint64(i)
	}
	return x
}

func TestProfileWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	p, err := Start(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Start(filepath.Join(t.TempDir(), "second.pprof")); err == nil {
		t.Error("a second profile started while one runs")
	}
	burn()
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("second Stop = %v; want nil", err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("profile mode = %04o; want 0600", fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("profile is not gzip'd protobuf (%d bytes): %v", len(b), err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil || len(raw) == 0 {
		t.Fatalf("profile body: %d bytes, %v", len(raw), err)
	}
}

// TestStartRefusesPlantedPaths: a profile never overwrites a file or
// follows a link someone planted where it would be written.
func TestStartRefusesPlantedPaths(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		plant func(path string) error
	}{
		{"existing file", func(p string) error { return os.WriteFile(p, []byte("precious"), 0o600) }},
		{"symlink to a file", func(p string) error { return os.Symlink(victim, p) }},
		{"dangling symlink", func(p string) error { return os.Symlink(filepath.Join(dir, "nowhere"), p) }},
		{"directory", func(p string) error { return os.Mkdir(p, 0o700) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
			if err := tt.plant(path); err != nil {
				t.Skipf("cannot plant: %v", err)
			}
			p, err := Start(path)
			if err == nil {
				p.Stop()
				t.Fatalf("Start(%s) = nil; want a refusal", tt.name)
			}
			if !strings.Contains(err.Error(), "already exists") {
				t.Errorf("Start(%s) = %q; want it to say the path already exists", tt.name, err)
			}
			if b, _ := os.ReadFile(victim); string(b) != "precious" {
				t.Errorf("the link's target was written: %q", b)
			}
			if _, err := os.Lstat(filepath.Join(dir, "nowhere")); err == nil {
				t.Error("the dangling link's target was created")
			}
		})
	}
	if _, err := Start(""); err == nil {
		t.Error("Start(\"\") = nil; want an error")
	}
}
