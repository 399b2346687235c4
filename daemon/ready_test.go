//go:build !windows

package daemon

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/credproc"
	"github.com/stsd/stsd/internal/nobody"
	"github.com/stsd/stsd/internal/ststest"
	"github.com/stsd/stsd/internal/wire"
)

// readyDaemon runs a daemon that keeps ready files beside its socket.
func readyDaemon(t *testing.T, o Options) (s *Supervisor, c *http.Client, stop func(), dir string) {
	t.Helper()
	o.Socket = shortSocket(t)
	o.ReadyDir = filepath.Join(filepath.Dir(o.Socket), "ready")
	s, c, stop = startDaemon(t, o)
	return s, c, stop, o.ReadyDir
}

// readyDoc is name's ready file's document, or nil while there is none.
func readyDoc(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	r, ok := wire.ParseReady(b, name)
	if !ok {
		t.Fatalf("ready file %s is malformed (%d bytes)", name, len(b))
	}
	return r.Doc
}

func creds(t *testing.T, c *http.Client, name string) []byte {
	t.Helper()
	code, body := get(t, c, "/v1/credentials/"+name)
	if code != 200 {
		t.Fatalf("GET credentials/%s = %d %s", name, code, body)
	}
	return body
}

// TestReadyFileFollowsCredentials: the ready file holds exactly what the
// socket serves, private and locked while the daemon runs; the small
// binary's client prints it with no socket at all; it goes with `stsd
// clear`, comes back with the next credentials, and goes when the daemon
// stops.
func TestReadyFileFollowsCredentials(t *testing.T) {
	env := newEnv(t, sessionProfile)
	sts := ststest.NewServer(t, ststest.Options{})
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	_, c, stop, dir := readyDaemon(t, Options{Config: env.cfg})
	first := creds(t, c, "dev")
	eventually(t, "the ready file", func() bool { return bytes.Equal(readyDoc(t, dir, "dev"), first) })
	for p, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "dev"): 0o600} {
		if fi, err := os.Lstat(p); err != nil || fi.Mode().Perm() != want || fi.Mode()&os.ModeSymlink != 0 {
			t.Errorf("%s: %v, %v; want mode %v", p, fi.Mode(), err, want)
		}
	}
	f, err := os.Open(filepath.Join(dir, "dev"))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != syscall.EWOULDBLOCK {
		t.Errorf("flock on a running daemon's ready file = %v; want EWOULDBLOCK (the daemon holds it)", err)
	}
	f.Close()

	var out, errOut bytes.Buffer
	code := credproc.Run(t.Context(), credproc.Options{Profile: "dev", Sockets: []string{filepath.Join(dir, "none.sock")},
		ReadyDir: dir, Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" },
		Exec: func(string, []string, []string) int { t.Error("credproc exec'd stsd"); return 1 }})
	if code != 0 || !bytes.Equal(out.Bytes(), first) {
		t.Errorf("credproc.Run from the ready file = %d, %d bytes (stderr %q); want 0 and the socket's document", code, out.Len(), errOut.String())
	}

	if code, body := post(t, c, "/v1/clear/dev"); code != 202 {
		t.Fatalf("clear = %d %s", code, body)
	}
	if doc := readyDoc(t, dir, "dev"); doc != nil && bytes.Equal(doc, first) {
		t.Error("the ready file still held the cleared credentials after clear returned")
	}
	second := creds(t, c, "dev")
	if bytes.Equal(second, first) {
		t.Fatal("clear did not fetch new credentials")
	}
	eventually(t, "the new ready file", func() bool { return bytes.Equal(readyDoc(t, dir, "dev"), second) })
	stop()
	if _, err := os.Stat(filepath.Join(dir, "dev")); !os.IsNotExist(err) {
		t.Errorf("ready file after the daemon stopped: %v; want removed", err)
	}
}

func post(t *testing.T, c *http.Client, path string) (int, []byte) {
	t.Helper()
	resp, err := c.Post("http://stsd"+path, "text/plain", nil)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes()
}

// TestReadyFileGoesWhenRefreshFails: a failing refresh removes the file
// (the socket still serves the valid credentials, and its answer is
// final); the next good refresh writes it again.
func TestReadyFileGoesWhenRefreshFails(t *testing.T) {
	env := newEnv(t, sessionProfile)
	sts := ststest.NewServer(t, ststest.Options{})
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	_, c, _, dir := readyDaemon(t, Options{Config: env.cfg})
	first := creds(t, c, "dev")
	eventually(t, "the ready file", func() bool { return readyDoc(t, dir, "dev") != nil })
	sts.Fail(ststest.FaultAccessDenied)
	post(t, c, "/v1/refresh/dev")
	eventually(t, "the ready file removed", func() bool { return readyDoc(t, dir, "dev") == nil })
	if got := creds(t, c, "dev"); !bytes.Equal(got, first) {
		t.Error("the socket stopped serving valid credentials after a failed refresh")
	}
	post(t, c, "/v1/refresh/dev")
	eventually(t, "the ready file back", func() bool { return readyDoc(t, dir, "dev") != nil })
}

// TestReadyFilesOnReload: a reload that drops a profile removes its file;
// one that changes a profile replaces the file with the new profile's
// credentials; an unchanged profile keeps its file.
func TestReadyFilesOnReload(t *testing.T) {
	const base = sessionProfile + `
[profiles.gone]
source_profile = "src"

[profiles.same]
source_profile = "src"
`
	env := newEnv(t, base)
	sts := ststest.NewServer(t, ststest.Options{})
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	load := func() (*config.Config, error) { return config.Load(env.cfg.Path, config.Options{Hostname: "testhost"}) }
	s, c, _, dir := readyDaemon(t, Options{Config: env.cfg, Load: load, WatchDebounce: 20 * time.Millisecond})
	before := map[string][]byte{}
	for _, p := range []string{"dev", "gone", "same"} {
		before[p] = creds(t, c, p)
		eventually(t, "ready file "+p, func() bool { return readyDoc(t, dir, p) != nil })
	}
	edited := strings.Replace(strings.Replace(base, `duration = "1h"`, `duration = "2h"`, 1), "[profiles.gone]\nsource_profile = \"src\"\n", "", 1)
	write(t, env.cfg.Path, edited)
	if err := s.Reload(t.Context(), "test"); err != nil {
		t.Fatal(err)
	}
	if readyDoc(t, dir, "gone") != nil {
		t.Error("a dropped profile's ready file survived the reload")
	}
	if doc := readyDoc(t, dir, "dev"); bytes.Equal(doc, before["dev"]) {
		t.Error("a changed profile's ready file still held the old profile's credentials after the reload")
	}
	after := creds(t, c, "dev")
	eventually(t, "the changed profile's new ready file", func() bool { return bytes.Equal(readyDoc(t, dir, "dev"), after) })
	if !bytes.Equal(readyDoc(t, dir, "same"), before["same"]) {
		t.Error("an unchanged profile's ready file changed")
	}
}

// readyDirFirst is a session profile's environment and a socket path
// whose ready directory exists (0700) before any daemon starts, for a test
// to plant things in.
func readyDirFirst(t *testing.T) (env *testEnv, sock, dir string) {
	env = newEnv(t, sessionProfile)
	sts := ststest.NewServer(t, ststest.Options{})
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	sock = shortSocket(t)
	dir = filepath.Join(filepath.Dir(sock), "ready")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return env, sock, dir
}

// TestReadyFilesPrunedAtStart: what a dead daemon left in the directory
// (a file nobody holds, another profile's, a temp file, a planted
// symlink) is gone once a new daemon serves.
func TestReadyFilesPrunedAtStart(t *testing.T) {
	env, sock, dir := readyDirFirst(t)
	c := wire.Credentials{AccessKeyID: "ASIAFAKELEFTBEHIND01", SecretAccessKey: "x", Expiration: time.Now().Add(time.Hour)}
	stale := wire.AppendReady(nil, "dev", time.Now(), c.Expiration, wire.Marshal(c))
	for _, name := range []string{"dev", "old", ".dev.tmp-123"} {
		write(t, filepath.Join(dir, name), string(stale))
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "planted")); err != nil {
		t.Fatal(err)
	}
	_, cl, _ := startDaemon(t, Options{Config: env.cfg, Socket: sock, ReadyDir: dir})
	doc := creds(t, cl, "dev")
	eventually(t, "the daemon's own ready file", func() bool { return bytes.Equal(readyDoc(t, dir, "dev"), doc) })
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("ready dir holds %q; want only dev", names)
	}
}

// TestReadyFileRefusesUnsafeDir: a ready directory another user could
// enter is not used (the daemon still serves on the socket).
func TestReadyFileRefusesUnsafeDir(t *testing.T) {
	env, sock, dir := readyDirFirst(t)
	os.Chmod(dir, 0o755)
	_, c, _ := startDaemon(t, Options{Config: env.cfg, Socket: sock, ReadyDir: dir})
	creds(t, c, "dev")
	if _, err := os.Stat(filepath.Join(dir, "dev")); !os.IsNotExist(err) {
		t.Errorf("ready file in a 0755 directory: %v; want none", err)
	}
}

// TestReadyFileOtherUser: another user (nobody) can neither list the ready
// directory nor read the file, even knowing its path.
func TestReadyFileOtherUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run the reader as nobody")
	}
	env := newEnv(t, sessionProfile)
	sts := ststest.NewServer(t, ststest.Options{})
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	_, c, _, dir := readyDaemon(t, Options{Config: env.cfg})
	creds(t, c, "dev")
	eventually(t, "the ready file", func() bool { return readyDoc(t, dir, "dev") != nil })
	// The owner's mistake: the directories above let others through, so
	// only the ready directory's and the file's own modes stand in the way.
	for d := filepath.Dir(dir); d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o711)
	}
	refused := func(argv ...string) {
		t.Helper()
		out, err := nobody.Run(exec.Command(argv[0], argv[1:]...)).CombinedOutput()
		if err == nil || !bytes.Contains(out, []byte("Permission denied")) {
			t.Errorf("nobody ran %q: %v, %d bytes of output (not shown); want permission denied", argv, err, len(out))
		}
	}
	refused("cat", filepath.Join(dir, "dev"))
	refused("ls", dir)
	// Even with the ready directory opened too, the file's mode holds.
	os.Chmod(dir, 0o711)
	refused("cat", filepath.Join(dir, "dev"))
}
