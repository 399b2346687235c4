package paths

import (
	"path/filepath"
	"testing"
)

// TestReadyDir: the ready files live beside the user socket, wherever the
// socket rule puts it; the system layout has none.
func TestReadyDir(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("STSD_SOCKET", "")
	t.Setenv("XDG_RUNTIME_DIR", dir)
	if got, want := (Layout{}).ReadyDir(), filepath.Join(dir, "stsd", "ready"); got != want {
		t.Errorf("ReadyDir under XDG_RUNTIME_DIR = %q; want %q", got, want)
	}
	sock := filepath.Join(dir, "elsewhere", "s.sock")
	t.Setenv("STSD_SOCKET", sock)
	if got, want := (Layout{}).ReadyDir(), filepath.Join(dir, "elsewhere", "ready"); got != want {
		t.Errorf("ReadyDir with STSD_SOCKET = %q; want %q", got, want)
	}
	if got := (Layout{System: true}).ReadyDir(); got != "" {
		t.Errorf("system ReadyDir = %q; want none", got)
	}
}
