//go:build unix

package opener

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const secretURL = "https://signin.aws.amazon.com/federation?Action=login&Destination=https%3A%2F%2Fconsole.aws.amazon.com%2F&Issuer=stsd&SigninToken=SECRETTOKEN0123456789"

// fakeOpener writes a script that records its arguments and a copy of the
// page it is given, as a browser would read it.
func fakeOpener(t *testing.T) (cmd []string, argsFile, copyFile string) {
	t.Helper()
	dir := t.TempDir()
	argsFile, copyFile = filepath.Join(dir, "args"), filepath.Join(dir, "copy")
	script := filepath.Join(dir, "opener.sh")
	body := "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + argsFile + "\ncat \"$1\" > " + copyFile + "\n"
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	return []string{script}, argsFile, copyFile
}

// TestOpenKeepsURLOffCommandLines: the opener's command line (what any
// local user reads in /proc/PID/cmdline) holds a path, never the URL; the
// page holding it is owner-only and sends the browser on.
func TestOpenKeepsURLOffCommandLines(t *testing.T) {
	cmd, argsFile, copyFile := fakeOpener(t)
	dir := filepath.Join(t.TempDir(), "console")
	if err := Open(t.Context(), secretURL, Options{Dir: dir, Command: cmd}); err != nil {
		t.Fatal(err)
	}
	args, _ := os.ReadFile(argsFile)
	if strings.Contains(string(args), "SECRETTOKEN") || strings.Contains(string(args), "signin.aws") {
		t.Errorf("the opener's arguments hold the URL: %q", args)
	}
	page := strings.TrimSpace(string(args))
	fi, err := os.Stat(page)
	if err != nil || fi.Mode().Perm() != 0o600 || filepath.Dir(page) != dir {
		t.Fatalf("page %s: %v mode %v; want 0600 in %s", page, err, fi.Mode(), dir)
	}
	if di, _ := os.Stat(dir); di.Mode().Perm() != 0o700 {
		t.Errorf("page directory mode %v; want 0700", di.Mode().Perm())
	}
	got, _ := os.ReadFile(copyFile)
	if !strings.Contains(string(got), `content="0;url=https://signin.aws.amazon.com/federation?Action=login&amp;Destination=`) ||
		!strings.Contains(string(got), `<meta name="referrer" content="no-referrer">`) {
		t.Errorf("page does not redirect to the URL:\n%s", got)
	}
}

func TestOpenRefusesPlantedDirectory(t *testing.T) {
	cmd, argsFile, _ := fakeOpener(t)
	base := t.TempDir()
	other := t.TempDir()
	dir := filepath.Join(base, "console")
	if err := os.Symlink(other, dir); err != nil {
		t.Fatal(err)
	}
	if err := Open(t.Context(), secretURL, Options{Dir: dir, Command: cmd}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Open through a symlinked directory = %v; want a refusal", err)
	}
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Open(t.Context(), secretURL, Options{Dir: open, Command: cmd}); err == nil || !strings.Contains(err.Error(), "chmod 700") {
		t.Errorf("Open into a 0755 directory = %v; want a refusal", err)
	}
	if _, err := os.Stat(argsFile); err == nil {
		t.Error("the opener ran")
	}
	if ents, _ := os.ReadDir(other); len(ents) != 0 {
		t.Error("a page was written through the symlink")
	}
}

func TestOpenSweepsOldPages(t *testing.T) {
	cmd, _, _ := fakeOpener(t)
	dir := filepath.Join(t.TempDir(), "console")
	now := time.Now()
	if err := Open(t.Context(), secretURL, Options{Dir: dir, Command: cmd, Now: func() time.Time { return now }}); err != nil {
		t.Fatal(err)
	}
	if err := Open(t.Context(), secretURL, Options{Dir: dir, Command: cmd, Now: func() time.Time { return now.Add(16 * time.Minute) }}); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%d pages after a run 16 minutes later; want 1 (the old one removed)", len(ents))
	}
}

func TestOpenFails(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "console")
	err := Open(t.Context(), secretURL, Options{Dir: dir, Command: []string{"sh", "-c", "echo no display >&2; exit 3", "sh"}})
	if err == nil || !strings.Contains(err.Error(), "no display") || strings.Contains(err.Error(), "SECRETTOKEN") {
		t.Errorf("Open with a failing opener = %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Error("a page was left behind after the opener failed")
	}
}
