package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	os.WriteFile(path, []byte("old"), 0o640)
	fi, _ := os.Stat(path)
	if err := Write(path, []byte("new"), Like(fi)); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	got, _ := os.Stat(path)
	if string(b) != "new" || got.Mode().Perm() != 0o640 {
		t.Errorf("after Write: %q %v; want new 0640", b, got.Mode())
	}
	// A failing prepare leaves the old file and no temp file.
	if err := Write(path, []byte("x"), func(*os.File) error { return errors.New("no") }); err == nil {
		t.Fatal("prepare error ignored")
	}
	entries, _ := os.ReadDir(dir)
	if b, _ := os.ReadFile(path); string(b) != "new" || len(entries) != 1 {
		t.Errorf("after a failed Write: %q, %d entries", b, len(entries))
	}
}
