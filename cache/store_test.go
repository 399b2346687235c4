package cache

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stsd/stsd/internal/wire"
)

// Fake secrets: test failures must never print them, and the checks below
// make sure no error string does.
const (
	fakeKeyID  = "ASIAFAKEEXAMPLE12345"
	fakeSecret = "fakeSecretAccessKeyDoNotUse0123456789abcd"
	fakeToken  = "fakeSessionTokenDoNotUse/+=0123456789"
)

const lockHelperEnv = "STSD_CACHE_TEST_LOCK_HELPER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(lockHelperEnv); dir != "" {
		os.Exit(lockHelper(dir))
	}
	os.Exit(m.Run())
}

// lockHelper runs in a child process: it takes the "shared" lock, says
// "locked", and holds the lock until its stdin closes.
func lockHelper(dir string) int {
	s, err := Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	unlock, err := s.Lock(context.Background(), "shared")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("locked")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	unlock()
	return 0
}

func testEntry(profile string) *Entry {
	issued := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	return &Entry{
		Version:     EntryVersion,
		Profile:     profile,
		Fingerprint: "fp-1",
		Credentials: wire.Credentials{
			AccessKeyID:     fakeKeyID,
			SecretAccessKey: fakeSecret,
			SessionToken:    fakeToken,
			Expiration:      issued.Add(12 * time.Hour),
			AccountID:       "123456789012",
		},
		Issued: issued,
		ARN:    "arn:aws:iam::123456789012:mfa/alice",
		Files:  []FileHash{{Path: "/nonexistent/stsd/config.toml", SHA256: ""}},
	}
}

func openStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// noSecret fails when err's text holds a fake secret; it never prints it.
func noSecret(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if s := err.Error(); strings.Contains(s, fakeSecret) || strings.Contains(s, fakeToken) {
		t.Errorf("error text holds a secret (%d bytes, not shown)", len(s))
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "a", "b")
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open(new dir) = %v", err)
	}
	if s.Dir() != dir {
		t.Errorf("Dir() = %q; want %q", s.Dir(), dir)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o700 {
		t.Errorf("new dir mode = %04o; want 0700", fi.Mode().Perm())
	}
	if _, err := Open(dir); err != nil {
		t.Errorf("Open(existing) = %v", err)
	}
	if _, err := Open(""); err == nil {
		t.Error(`Open("") = nil; want error`)
	}
}

func TestOpenRefusesUnsafeDir(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("mode and uid checks are unix-only")
	}
	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Open(open)
	if err == nil || !strings.Contains(err.Error(), "chmod 700 "+open) {
		t.Errorf("Open(0755 dir) = %v; want an error naming chmod 700", err)
	}
	if os.Geteuid() != 0 {
		return
	}
	foreign := filepath.Join(t.TempDir(), "foreign")
	if err := os.Mkdir(foreign, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(foreign, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	_, err = Open(foreign)
	if err == nil || !strings.Contains(err.Error(), "run chown") {
		t.Errorf("Open(foreign dir) = %v; want an error naming chown", err)
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	for _, profile := range []string{"dev", "Dev.Prod_1-x", "has space", "a/b", "..", "ünï", "con"} {
		e := testEntry(profile)
		e.Credentials.Expiration = e.Credentials.Expiration.Add(700 * time.Millisecond).In(time.FixedZone("x", 3600))
		if err := s.Save(e); err != nil {
			t.Fatalf("Save(%q) = %v", profile, err)
		}
		got, err := s.Load(profile)
		if err != nil {
			t.Fatalf("Load(%q) = %v", profile, err)
		}
		want := testEntry(profile)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Load(%q) mismatch (-want +got):\n%s", profile, diff)
		}
		if got.Credentials.Expiration.Location() != time.UTC {
			t.Errorf("Load(%q) expiration zone = %v; want UTC", profile, got.Credentials.Expiration.Location())
		}
		if runtime.GOOS != "windows" {
			fi, err := os.Stat(s.path(profile))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("entry mode = %04o; want 0600", fi.Mode().Perm())
			}
		}
	}
	ents, err := os.ReadDir(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 7 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("dir holds %q; want 7 entries and no temp files", names)
	}
}

func TestSaveDoesNotModifyArgument(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	e := testEntry("dev")
	e.Version = 0
	e.Credentials.Expiration = e.Credentials.Expiration.Add(time.Millisecond)
	before := *e
	if err := s.Save(e); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, *e); diff != "" {
		t.Errorf("Save changed its argument (-before +after):\n%s", diff)
	}
}

func TestSaveRefuses(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	tests := []struct {
		name string
		e    *Entry
	}{
		{"nil", nil},
		{"no profile", &Entry{Credentials: wire.Credentials{AccessKeyID: fakeKeyID, SecretAccessKey: fakeSecret}}},
		{"no key", &Entry{Profile: "dev", Credentials: wire.Credentials{SecretAccessKey: fakeSecret}}},
		{"no secret", &Entry{Profile: "dev", Credentials: wire.Credentials{AccessKeyID: fakeKeyID}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := s.Save(tt.e)
			if err == nil {
				t.Fatal("Save = nil; want error")
			}
			noSecret(t, err)
		})
	}
}

func TestLoadNotFound(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	if _, err := s.Load("dev"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load(absent) = %v; want ErrNotFound", err)
	}
	if err := s.Remove("dev"); err != nil {
		t.Errorf("Remove(absent) = %v; want nil", err)
	}
}

func TestRemove(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	if err := s.Save(testEntry("dev")); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("dev"); err != nil {
		t.Fatalf("Remove = %v", err)
	}
	if _, err := s.Load("dev"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load after Remove = %v; want ErrNotFound", err)
	}
}

func TestLoadInvalidThenReplace(t *testing.T) {
	t.Parallel()
	secretJSON := `{"version":1,"profile":"dev","credentials":{"AccessKeyId":"` + fakeKeyID +
		`","SecretAccessKey":"` + fakeSecret + `","SessionToken":"` + fakeToken + `","Expiration":"` + fakeSecret + `"}}`
	write := func(data string, mode os.FileMode) func(t *testing.T, p string) {
		return func(t *testing.T, p string) {
			if err := os.WriteFile(p, []byte(data), mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, mode); err != nil {
				t.Fatal(err)
			}
		}
	}
	entryJSON := func(mut func(*Entry)) string {
		e := testEntry("dev")
		mut(e)
		return mustJSON(t, e)
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, p string)
		unix  bool // needs unix modes/ownership
		root  bool
	}{
		{name: "truncated", setup: write(mustJSON(t, testEntry("dev"))[:40], 0o600)},
		{name: "garbage", setup: write("\x00\xffnot json", 0o600)},
		{name: "empty", setup: write("", 0o600)},
		{name: "trailing data", setup: write(mustJSON(t, testEntry("dev"))+"{}", 0o600)},
		{name: "bad expiration holds secret", setup: write(secretJSON, 0o600)},
		{name: "wrong type", setup: write(`{"version":"1"}`, 0o600)},
		{name: "wrong version", setup: write(entryJSON(func(e *Entry) { e.Version = 2 }), 0o600)},
		{name: "other profile", setup: write(entryJSON(func(e *Entry) { e.Profile = "prod" }), 0o600)},
		{name: "no key", setup: write(entryJSON(func(e *Entry) { e.Credentials.AccessKeyID = "" }), 0o600)},
		{name: "no secret", setup: write(entryJSON(func(e *Entry) { e.Credentials.SecretAccessKey = "" }), 0o600)},
		{name: "no expiration", setup: write(entryJSON(func(e *Entry) { e.Credentials.Expiration = time.Time{} }), 0o600)},
		{name: "mode 0644", unix: true, setup: write(mustJSON(t, testEntry("dev")), 0o644)},
		{name: "mode 0400", unix: true, setup: write(mustJSON(t, testEntry("dev")), 0o400)},
		{name: "symlink", setup: func(t *testing.T, p string) {
			target := filepath.Join(t.TempDir(), "target.json")
			write(mustJSON(t, testEntry("dev")), 0o600)(t, target)
			if err := os.Symlink(target, p); err != nil {
				t.Skipf("symlink: %v", err)
			}
		}},
		{name: "foreign owner", unix: true, root: true, setup: func(t *testing.T, p string) {
			write(mustJSON(t, testEntry("dev")), 0o600)(t, p)
			if err := os.Chown(p, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "fifo", unix: true, setup: func(t *testing.T, p string) {
			if err := mkfifo(p); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.unix && runtime.GOOS == "windows" {
				t.Skip("unix only")
			}
			if tt.root && os.Geteuid() != 0 {
				t.Skip("needs root to chown")
			}
			s := openStore(t)
			tt.setup(t, s.path("dev"))
			e, err := s.Load("dev")
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Load = %v, %v; want ErrInvalid", e != nil, err)
			}
			var ie *InvalidError
			if !errors.As(err, &ie) || ie.Reason == "" {
				t.Errorf("Load error %v is not an *InvalidError with a reason", err)
			}
			noSecret(t, err)
			if err := s.Save(testEntry("dev")); err != nil {
				t.Fatalf("Save over invalid entry = %v", err)
			}
			got, err := s.Load("dev")
			if err != nil {
				t.Fatalf("Load after Save = %v", err)
			}
			if got.Fingerprint != "fp-1" {
				t.Errorf("Load after Save fingerprint = %q; want fp-1", got.Fingerprint)
			}
		})
	}
}

func mustJSON(t testing.TB, e *Entry) string {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFileName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		profile string
		want    string
	}{
		{"dev", "dev"},
		{"Dev.Prod_1-x", "Dev.Prod_1-x"},
		{".hidden", ".hidden"},
		{"", "~"},
		{".", "~2e"},
		{"..", "~2e2e"},
		{"a/b", "~612f62"},
		{`a\b`, "~615c62"},
		{"has space", "~686173207370616365"},
		{"con", "~636f6e"},
		{"NUL.x", "~4e554c2e78"},
		{"console", "console"},
		{"~x", "~7e78"},
	}
	for _, tt := range tests {
		if got := fileName(tt.profile); got != tt.want {
			t.Errorf("fileName(%q) = %q; want %q", tt.profile, got, tt.want)
		}
	}
	long := strings.Repeat("x", 300)
	if got := fileName(long); len(got) != 66 || !strings.HasPrefix(got, "~~") {
		t.Errorf("fileName(300 x) = %q; want ~~ + sha256 hex", got)
	}
	// Reversible and collision-free. Encoded names are also unique ignoring
	// case; plain names ("Dev", "dev") share a file on case-insensitive file
	// systems, where Load's profile check refuses the other profile's entry.
	seen := map[string]string{}
	for _, p := range []string{"a", "A", "a b", "A B", "a/b", "A/B", "..", ".", "", "~", "~~", "ü", "Ü", long, long + "y"} {
		n := fileName(p)
		if strings.ContainsAny(n, `/\:`) || n == "." || n == ".." {
			t.Errorf("fileName(%q) = %q: unsafe", p, n)
		}
		key := n
		if strings.HasPrefix(n, "~") {
			key = strings.ToLower(n)
		}
		if q, ok := seen[key]; ok {
			t.Errorf("fileName(%q) = fileName(%q) = %q", p, q, n)
		}
		seen[key] = p
		if len(p) < 100 {
			if got := unFileName(t, n); got != p {
				t.Errorf("unFileName(fileName(%q)) = %q", p, got)
			}
		}
	}
}

// unFileName inverts fileName for names short enough to be hex-encoded.
func unFileName(t *testing.T, n string) string {
	t.Helper()
	h, ok := strings.CutPrefix(n, "~")
	if !ok {
		return n
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		t.Fatalf("decode %q: %v", n, err)
	}
	return string(b)
}

// TestSaveAtomic races writers of entries of different sizes against
// readers: a reader must only ever see a whole entry.
func TestSaveAtomic(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	if err := s.Save(testEntry("dev")); err != nil {
		t.Fatal(err)
	}
	const writers, saves = 8, 40
	var wg sync.WaitGroup
	var done atomic.Bool
	for w := range writers {
		wg.Go(func() {
			for i := range saves {
				e := testEntry("dev")
				e.Fingerprint = fmt.Sprintf("fp-%d-%d", w, i)
				e.ARN = strings.Repeat("a", (w*saves+i)*37%5000) // sizes vary: a torn file would show
				if err := s.Save(e); err != nil {
					t.Errorf("Save = %v", err)
					return
				}
			}
		})
	}
	var rg sync.WaitGroup
	var loads atomic.Int64
	for range 4 {
		rg.Go(func() {
			for !done.Load() {
				e, err := s.Load("dev")
				if err != nil {
					t.Errorf("concurrent Load = %v", err)
					return
				}
				if !strings.HasPrefix(e.Fingerprint, "fp-") || e.Credentials.SecretAccessKey != fakeSecret {
					t.Errorf("concurrent Load saw fingerprint %q", e.Fingerprint)
					return
				}
				loads.Add(1)
			}
		})
	}
	wg.Wait()
	done.Store(true)
	rg.Wait()
	if loads.Load() == 0 {
		t.Error("readers never loaded")
	}
	ents, _ := os.ReadDir(s.Dir())
	if len(ents) != 1 {
		t.Errorf("dir holds %d files after concurrent saves; want 1 (no temp files left)", len(ents))
	}
}

func TestLockGoroutines(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	var inside, max atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 5 {
				unlock, err := s.Lock(t.Context(), "dev")
				if err != nil {
					t.Errorf("Lock = %v", err)
					return
				}
				n := inside.Add(1)
				if n > max.Load() {
					max.Store(n)
				}
				time.Sleep(100 * time.Microsecond)
				inside.Add(-1)
				unlock()
				unlock() // idempotent
			}
		})
	}
	wg.Wait()
	if m := max.Load(); m != 1 {
		t.Errorf("%d goroutines held the lock at once; want 1", m)
	}
	// Different profiles do not exclude each other.
	u1, err := s.Lock(t.Context(), "dev")
	if err != nil {
		t.Fatal(err)
	}
	defer u1()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	u2, err := s.Lock(ctx, "prod")
	if err != nil {
		t.Fatalf("Lock(prod) while dev is held = %v", err)
	}
	u2()
}

func TestLockContext(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	unlock, err := s.Lock(t.Context(), "dev")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Lock(ctx, "dev"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock(held) = %v; want DeadlineExceeded", err)
	}
	unlock()
	ctx2, cancel2 := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel2()
	u, err := s.Lock(ctx2, "dev")
	if err != nil {
		t.Fatalf("Lock after unlock = %v", err)
	}
	u()
}

// TestLockProcess re-executes the test binary as a child that holds the
// lock, and checks the parent cannot take it until the child lets go.
func TestLockProcess(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+s.Dir())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("child said %q, %v; want locked", line, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := s.Lock(ctx, "shared"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock while child holds it = %v; want DeadlineExceeded", err)
	}
	stdin.Close() // child unlocks and exits
	ctx2, cancel2 := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel2()
	unlock, err := s.Lock(ctx2, "shared")
	if err != nil {
		t.Fatalf("Lock after child released = %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("child: %v", err)
	}
	// And the other way round: a child cannot lock while we hold it.
	cmd2 := exec.Command(os.Args[0], "-test.run=^$")
	cmd2.Env = append(os.Environ(), lockHelperEnv+"="+s.Dir())
	stdout2, err := cmd2.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in2, err := cmd2.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd2.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd2.Process.Kill()
	got := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout2).ReadString('\n')
		got <- l
	}()
	select {
	case l := <-got:
		t.Fatalf("child said %q while the parent holds the lock", l)
	case <-time.After(200 * time.Millisecond):
	}
	unlock()
	select {
	case l := <-got:
		if l != "locked\n" {
			t.Errorf("child said %q; want locked", l)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("child never took the lock after the parent released it")
	}
	in2.Close()
	if err := cmd2.Wait(); err != nil {
		t.Errorf("child: %v", err)
	}
}

func TestFilesMatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := filepath.Join(dir, "config.toml")
	b := filepath.Join(dir, "credentials")
	missing := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(a, []byte("a = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte("[x]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hs, err := HashFiles([]string{a, b, missing})
	if err != nil {
		t.Fatal(err)
	}
	want := []FileHash{
		{Path: a, SHA256: sha("a = 1\n")},
		{Path: b, SHA256: sha("[x]\n")},
		{Path: missing, SHA256: ""},
	}
	if diff := cmp.Diff(want, hs, cmpopts.IgnoreFields(FileHash{}, "Stamp")); diff != "" {
		t.Fatalf("HashFiles mismatch (-want +got):\n%s", diff)
	}
	if runtime.GOOS != "windows" && (hs[0].Stamp == "" || hs[2].Stamp != "") {
		t.Errorf("stamps %q, %q; want one for the file and none for the missing one", hs[0].Stamp, hs[2].Stamp)
	}
	e := &Entry{Files: hs}
	if !e.FilesMatch() {
		t.Fatal("FilesMatch = false right after HashFiles")
	}
	steps := []struct {
		name string
		do   func() error
		want bool
	}{
		{"edit", func() error { return os.WriteFile(a, []byte("a = 2\n"), 0o600) }, false},
		{"restore", func() error { return os.WriteFile(a, []byte("a = 1\n"), 0o600) }, true},
		{"create missing", func() error { return os.WriteFile(missing, []byte("{}"), 0o600) }, false},
		{"remove again", func() error { return os.Remove(missing) }, true},
		// The same size, and the old mtime put back: only the bytes and
		// ctime tell, and the stamp must not hide the edit.
		{"same-size edit, mtime set back", func() error {
			fi, err := os.Stat(a)
			if err != nil {
				return err
			}
			if err := os.WriteFile(a, []byte("a = 3\n"), 0o600); err != nil {
				return err
			}
			return os.Chtimes(a, fi.ModTime(), fi.ModTime())
		}, false},
		{"restore again", func() error { return os.WriteFile(a, []byte("a = 1\n"), 0o600) }, true},
		{"delete", func() error { return os.Remove(b) }, false},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatal(err)
		}
		if got := e.FilesMatch(); got != st.want {
			t.Errorf("after %s: FilesMatch = %v; want %v", st.name, got, st.want)
		}
	}
	if !(&Entry{}).FilesMatch() {
		t.Error("FilesMatch with no files = false; want true")
	}
}

// BenchmarkFilesMatch is what the small binary pays per run to trust a
// cache entry: three small files, by stamp (the common case) or by hash.
func BenchmarkFilesMatch(b *testing.B) {
	dir := b.TempDir()
	var paths []string
	for i, n := range []int{600, 300, 200} {
		p := filepath.Join(dir, strconv.Itoa(i))
		os.WriteFile(p, bytes.Repeat([]byte("x"), n), 0o600)
		paths = append(paths, p)
	}
	hs, err := HashFiles(paths)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("stamp", func(b *testing.B) {
		e := &Entry{Files: hs}
		for b.Loop() {
			if !e.FilesMatch() {
				b.Fatal("no match")
			}
		}
	})
	b.Run("hash", func(b *testing.B) {
		unstamped := slices.Clone(hs)
		for i := range unstamped {
			unstamped[i].Stamp = ""
		}
		e := &Entry{Files: unstamped}
		for b.Loop() {
			if !e.FilesMatch() {
				b.Fatal("no match")
			}
		}
	})
}

func TestHashFilesRelative(t *testing.T) {
	t.Parallel()
	hs, err := HashFiles([]string{"testdata/nonexistent"})
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(hs[0].Path) {
		t.Errorf("HashFiles path = %q; want absolute", hs[0].Path)
	}
}

func TestRemainingLifetime(t *testing.T) {
	t.Parallel()
	e := testEntry("dev")
	now := e.Issued.Add(2 * time.Hour)
	if got := e.Remaining(now); got != 10*time.Hour {
		t.Errorf("Remaining = %v; want 10h", got)
	}
	if got := e.Remaining(e.Credentials.Expiration.Add(time.Minute)); got != -time.Minute {
		t.Errorf("Remaining after expiry = %v; want -1m", got)
	}
	if got := e.Lifetime(); got != 12*time.Hour {
		t.Errorf("Lifetime = %v; want 12h", got)
	}
	e.Issued = time.Time{}
	if got := e.Lifetime(); got != 0 {
		t.Errorf("Lifetime without Issued = %v; want 0", got)
	}
}

// addEntrySeeds seeds f with the cache entries in testdata/.
func addEntrySeeds(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.json")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzCacheDecode(f *testing.F) {
	addEntrySeeds(f)
	f.Add([]byte(`{"version":1,"profile":"dev","credentials":{"AccessKeyId":"","SecretAccessKey":"x","Expiration":"2026-01-01T00:00:00Z"}}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"version":1e400}`))
	s, err := Open(filepath.Join(f.TempDir(), "c"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(s.path("dev"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		e, err := s.Load("dev")
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Load = %v; want nil or ErrInvalid", err)
			}
			return
		}
		if e.Credentials.AccessKeyID == "" || e.Credentials.SecretAccessKey == "" || e.Profile != "dev" || e.Version != EntryVersion {
			t.Fatalf("Load returned an unusable entry (profile %q, version %d)", e.Profile, e.Version)
		}
	})
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestSaveFormat pins the on-disk format: testdata/entry.json is what Save
// writes, so a change to it is a format change (bump EntryVersion).
func TestSaveFormat(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	if err := s.Save(testEntry("dev")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(s.path("dev"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/entry.json")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("saved entry differs from testdata/entry.json (-want +got):\n%s", diff)
	}
}
