// Package testhome gives a test binary a private, empty HOME before any
// test runs, so no test reads or writes the real ~/.aws, ~/.config or
// ~/.cache, or talks to a daemon of the machine's, whatever it holds. Tests that need files set
// their own paths on top (t.Setenv).
package testhome

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Main runs m with HOME, the XDG directories and the AWS shared-file
// variables pointing into a fresh temporary directory, then runs each
// check (a leak check, say) if the tests passed, and removes the
// directory. Use it from TestMain: os.Exit(testhome.Main(m)).
func Main(m *testing.M, checks ...func() error) int {
	dir, err := os.MkdirTemp("", "stsd-home")
	if err != nil {
		fmt.Fprintln(os.Stderr, "testhome:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	for k, v := range map[string]string{
		"HOME":                        dir,
		"USERPROFILE":                 dir,
		"XDG_CONFIG_HOME":             filepath.Join(dir, ".config"),
		"XDG_CACHE_HOME":              filepath.Join(dir, ".cache"),
		"XDG_STATE_HOME":              filepath.Join(dir, ".local", "state"),
		"AWS_CONFIG_FILE":             filepath.Join(dir, ".aws", "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, ".aws", "credentials"),
		"XDG_RUNTIME_DIR":             filepath.Join(dir, "run"),
		"STSD_SOCKET":                 filepath.Join(dir, "stsd.sock"), // never a daemon of the machine's
	} {
		os.Setenv(k, v)
	}
	code := m.Run()
	for _, check := range checks {
		if code != 0 {
			break
		}
		if err := check(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	return code
}

// ShortDir is a new temporary directory, removed when the test ends, with
// a path short enough for unix sockets (t.TempDir() can exceed the
// 104-byte sun_path limit).
func ShortDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "s")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}
