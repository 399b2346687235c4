//go:build linux

package keys_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/99designs/keyring"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/nobody"
	"github.com/stsd/stsd/keys"
)

// contract is what every backend must do for stsd.
func contract(t *testing.T, r keys.Ring) {
	t.Helper()
	if _, err := r.Get("absent"); !errors.Is(err, keys.ErrNotFound) {
		t.Errorf("Get(absent) = %v; want ErrNotFound", err)
	}
	for _, v := range []string{`{"AccessKeyId":"AKIA1","SecretAccessKey":"s1"}`, `{"AccessKeyId":"AKIA2","SecretAccessKey":"s2"}`} {
		if err := r.Set("dev.key", []byte(v)); err != nil {
			t.Fatalf("Set = %v", err)
		}
		got, err := r.Get("dev.key")
		if err != nil || string(got) != v {
			t.Fatalf("Get = %q, %v; want %q", got, err, v)
		}
	}
	if err := r.Remove("dev.key"); err != nil {
		t.Fatalf("Remove = %v", err)
	}
	if _, err := r.Get("dev.key"); !errors.Is(err, keys.ErrNotFound) {
		t.Errorf("Get after Remove = %v; want ErrNotFound", err)
	}
	if err := r.Remove("dev.key"); !errors.Is(err, keys.ErrNotFound) {
		t.Errorf("Remove twice = %v; want ErrNotFound", err)
	}
}

func fixed(p string) *keys.Passphrase {
	pp := &keys.Passphrase{}
	pp.Set(p)
	return pp
}

func TestFileRing(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "ring")
	r := keys.NewFileRing(dir, fixed(pass))
	contract(t, r)
	if err := r.Set("src", []byte("data")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "src"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("item file = %v, %v; want 0600", fi, err)
	}
	if di, _ := os.Stat(dir); di.Mode().Perm() != 0o700 {
		t.Errorf("dir mode = %v; want 0700", di.Mode())
	}
	if raw, _ := os.ReadFile(filepath.Join(dir, "src")); bytes.Contains(raw, []byte("data")) {
		t.Error("the item is stored in the clear")
	}
	// A wrong passphrase is one line saying what to check.
	_, err = keys.NewFileRing(dir, fixed("wrong")).Get("src")
	var ue *keys.UnavailableError
	if !errors.As(err, &ue) || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "passphrase") {
		t.Errorf("Get with a wrong passphrase = %v; want one line about the passphrase", err)
	}
}

// TestFileRingCompatible: aws-vault's library reads what stsd writes, and
// the other way round.
func TestFileRingCompatible(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	lib, err := keyring.Open(keyring.Config{AllowedBackends: []keyring.BackendType{keyring.FileBackend}, FileDir: dir, FilePasswordFunc: keyring.FixedStringPrompt(pass)})
	if err != nil {
		t.Fatal(err)
	}
	ours := keys.NewFileRing(dir, fixed(pass))
	if err := ours.Set("a", []byte("from stsd")); err != nil {
		t.Fatal(err)
	}
	if it, err := lib.Get("a"); err != nil || string(it.Data) != "from stsd" {
		t.Errorf("library Get = %q, %v", it.Data, err)
	}
	if err := lib.Set(keyring.Item{Key: "b", Data: []byte("from the library")}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "b"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := ours.Get("b"); err != nil || string(got) != "from the library" {
		t.Errorf("FileRing Get = %q, %v", got, err)
	}
}

// TestFileRingRefusesPlantedFiles: a symlink or another user's file in
// the keyring directory is never read, and nobody else can enter it.
func TestFileRingRefusesPlantedFiles(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "ring")
	r := keys.NewFileRing(dir, fixed(pass))
	if err := r.Set("src", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "src"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get("link"); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("Get(symlink) = %v; want it refused", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("not root: cannot plant another user's file or run as nobody")
	}
	if err := os.Chown(filepath.Join(dir, "src"), nobody.UID, nobody.UID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get("src"); err == nil || !strings.Contains(err.Error(), "owned by uid") {
		t.Errorf("Get(foreign file) = %v; want it refused", err)
	}
	out, err := nobody.Run(exec.Command("cat", filepath.Join(dir, "src"))).CombinedOutput()
	if err == nil {
		t.Errorf("nobody read the keyring file: %q", out)
	}
}

func TestPassphraseSources(t *testing.T) {
	t.Parallel()
	pp := &keys.Passphrase{Command: "printf 'from-command\\nignored'"}
	if got, err := pp.Get(t.Context(), "/x"); err != nil || got != "from-command" {
		t.Errorf("Get with passphrase_command = %q, %v", got, err)
	}
	pp = &keys.Passphrase{Command: "exit 3"}
	if _, err := pp.Get(t.Context(), "/x"); err == nil || !strings.Contains(err.Error(), "passphrase_command failed") {
		t.Errorf("Get with a failing command = %v", err)
	}
	answers := []string{"typed", "typo"}
	pp = &keys.Passphrase{Prompt: func(context.Context, string) (string, error) { a := answers[0]; answers = answers[1:]; return a, nil }}
	if _, err := pp.Get(t.Context(), t.TempDir()); err == nil || !strings.Contains(err.Error(), "differ") {
		t.Errorf("Get for a new keyring with two different answers = %v; want refused", err)
	}
	pp = &keys.Passphrase{Prompt: func(context.Context, string) (string, error) { return "", errors.New("no terminal") }}
	if _, err := pp.Get(t.Context(), "/x"); err == nil || !strings.Contains(err.Error(), "STSD_KEYRING_PASSWORD") {
		t.Errorf("Get with no source = %v; want it to name the sources", err)
	}
}

// TestPassphraseFromEnvLeavesNoTrace: the variable is read once and gone
// from the environment, so no child can inherit it. The process's
// environment is read once, so the check runs in a child test process.
func TestPassphraseFromEnvLeavesNoTrace(t *testing.T) {
	t.Parallel()
	if os.Getenv("STSD_TEST_ENVPASS") != "" {
		pp := &keys.Passphrase{Command: "echo other"}
		if got, err := pp.Get(t.Context(), "/x"); err != nil || got != "from-env" {
			t.Fatalf("Get = %q, %v; want the variable first", got, err)
		}
		if _, ok := os.LookupEnv("STSD_KEYRING_PASSWORD"); ok {
			t.Error("STSD_KEYRING_PASSWORD is still in the environment")
		}
		if out, _ := exec.Command("env").Output(); bytes.Contains(out, []byte("from-env")) {
			t.Error("a child saw the passphrase")
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestPassphraseFromEnvLeavesNoTrace$", "-test.v")
	cmd.Env = append(os.Environ(), "STSD_TEST_ENVPASS=1", "STSD_KEYRING_PASSWORD=from-env")
	if out, err := cmd.CombinedOutput(); err != nil || !bytes.Contains(out, []byte("--- PASS")) {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func TestPassphraseFromSystemdCredential(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, keys.CredentialName), []byte("from-systemd\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	pp := &keys.Passphrase{Command: "echo other"}
	if got, err := pp.Get(t.Context(), "/x"); err != nil || got != "from-systemd" {
		t.Errorf("Get = %q, %v; want the systemd credential first", got, err)
	}
}

func TestKeyctlRing(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("keyctl"); err != nil {
		t.Skip("keyctl (keyutils) not installed: `make keyring-deps` installs it")
	}
	if out, err := exec.Command("keyctl", "show", "@u").CombinedOutput(); err != nil {
		t.Skipf("the kernel keyring is not usable here (a seccomp filter?): %s", bytes.TrimSpace(out))
	}
	r, err := keys.OpenRing(config.Keyring{Backend: "keyctl"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	contract(t, r)
}

func TestPassRing(t *testing.T) {
	for _, tool := range []string{"pass", "gpg", "gpgconf"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: `make keyring-deps` installs pass and gnupg", tool)
		}
	}
	home := shortDir(t)
	gnupg := filepath.Join(home, "g")
	store := filepath.Join(home, "store")
	if err := os.Mkdir(gnupg, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GNUPGHOME", gnupg) // throwaway: the library runs pass with our environment
	t.Cleanup(func() { _ = exec.Command("gpgconf", "--kill", "gpg-agent").Run() })
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "PASSWORD_STORE_DIR="+store)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	run("gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key", "stsd test <test@stsd.invalid>", "default", "default", "never")
	run("pass", "init", "test@stsd.invalid")
	r, err := keys.OpenRing(config.Keyring{Backend: "pass", PassDir: store}, nil)
	if err != nil {
		t.Fatal(err)
	}
	contract(t, r)
	if got := keys.AutoBackend(config.Keyring{PassDir: store}); got != "pass" && got != "secret-service" {
		t.Errorf("AutoBackend with a pass store = %q; want pass", got)
	}
}

// shortDir is a temp dir with a short path: gpg-agent's socket path must
// stay under the unix socket limit.
func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("/tmp", "stsd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// TestSecretServiceRing runs the contract against gnome-keyring in a
// private D-Bus session: 99designs/keyring registers the backend only
// when a session bus answers as the process starts, so the test binary
// runs itself again under dbus-run-session, with the login collection
// created and unlocked.
func TestSecretServiceRing(t *testing.T) {
	if os.Getenv("STSD_TEST_DBUS") != "" {
		r, err := keys.OpenRing(config.Keyring{Backend: "secret-service", Collection: "login"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		contract(t, r)
		if got := keys.AutoBackend(config.Keyring{}); got != "secret-service" {
			t.Errorf("AutoBackend with a session bus = %q; want secret-service", got)
		}
		return
	}
	for _, tool := range []string{"dbus-run-session", "gnome-keyring-daemon"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: `make keyring-deps` installs gnome-keyring and dbus", tool)
		}
	}
	home := shortDir(t)
	if err := os.MkdirAll(filepath.Join(home, ".local", "share", "keyrings"), 0o700); err != nil {
		t.Fatal(err)
	}
	script := `printf unlock-pw | gnome-keyring-daemon --unlock >/dev/null && gnome-keyring-daemon --start --components=secrets >/dev/null && exec "$0" -test.run '^TestSecretServiceRing$' -test.v`
	cmd := exec.Command("dbus-run-session", "--", "sh", "-c", script, os.Args[0])
	cmd.Env = append(os.Environ(), "STSD_TEST_DBUS=1", "HOME="+home, "XDG_DATA_HOME="+filepath.Join(home, ".local", "share"), "XDG_RUNTIME_DIR="+home)
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: TestSecretServiceRing")) {
		t.Fatalf("under dbus-run-session: %v\n%s", err, out)
	}
}

// TestAbsentBackendsSayWhatToDo: a backend that is not there is one line
// naming what to do.
func TestAbsentBackendsSayWhatToDo(t *testing.T) {
	t.Parallel()
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
		t.Skip("a session bus is there: secret-service is not absent")
	}
	_, err := keys.OpenRing(config.Keyring{Backend: "secret-service", Collection: "login"}, nil)
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), `backend = "pass" or "file"`) {
		t.Errorf("OpenRing(secret-service) without a bus = %v; want one line naming another backend", err)
	}
}
