//go:build !windows

package e2e

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stsd/stsd/internal/ststest"
)

const (
	worldKey       = "AKIAIOSFODNN7EXAMPLE"
	worldSecret    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	keyringPass    = "keyring-passphrase-never-shown-0001"
	addedKeySecret = "addedSecretAddedSecretAddedSecret0000001"
)

// keysConfig keeps src in the file keyring, and has a profile whose
// mfa_process records the environment and arguments it was given.
const keysConfig = `
[profiles.dev]
source_profile = "src"
duration = "1h"

[profiles.m]
source_profile = "src"
duration = "1h"
mfa_serial = "` + mfaSerial + `"
mfa_process = "env > DIR/mfa-env; echo 424242"

[keys.src]
store = "keyring"
rotate_grace = "1h"

[keys.extra]
store = "keyring"

[keyring]
backend = "file"
file_dir = "DIR/ring"
`

// TestKeySecretHygiene drives every key command and a daemon serving a
// keyring key through the real binaries, against the stand-in's STS and
// IAM: the long-term secrets (the first key, the rotated one, one added
// through stdin) and the keyring passphrase never appear in any output,
// log, status or error, nor in the environment of a child (mfa_process,
// an exec child), and key ids show as AKIA…WXYZ only.
func TestKeySecretHygiene(t *testing.T) {
	issued := &issuedSecrets{keys: map[string]bool{}, secrets: map[string]bool{}}
	for _, s := range []string{worldSecret, keyringPass, addedKeySecret} {
		issued.add(s)
	}
	sts := ststest.NewHandler(ststest.Options{})
	sts.SetMFA(mfaSerial, "424242")
	sts.AddAccessKey(worldKey)
	srv := httptest.NewServer(issued.wrap(sts))
	t.Cleanup(func() { sts.Close(); srv.Close() })
	w := newWorld(t, srv.URL, "")
	writeFile(t, filepath.Join(w.dir, "h", ".config", "stsd", "config.toml"), strings.ReplaceAll(keysConfig, "DIR", w.dir))
	w.env = append(w.env, "AWS_ENDPOINT_URL_IAM="+srv.URL, "STSD_KEYRING_PASSWORD="+keyringPass)

	var seen []string
	run := func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		cmd := w.cmd(ctx, args[0], args[1:]...)
		cmd.Stdin = strings.NewReader(stdin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		code := exitCode(t, cmd.Run())
		if args[0] != "stsd-credential-process" && !(len(args) > 1 && args[1] == "env") {
			seen = append(seen, strings.Join(args, " ")+": "+stdout.String())
		}
		seen = append(seen, strings.Join(args, " ")+" (stderr): "+stderr.String())
		return stdout.String(), stderr.String(), code
	}
	must := func(stdin string, args ...string) string {
		t.Helper()
		out, errOut, code := run(stdin, args...)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}

	creds := filepath.Join(w.dir, "h", ".aws", "credentials")
	must("", "stsd", "key", "import", "src")
	if b, _ := os.ReadFile(creds); bytes.Contains(b, []byte(worldSecret)) {
		t.Fatal("import left the secret in the credentials file")
	}
	if out := must("", "stsd", "key", "list"); !strings.Contains(out, "AKIA…MPLE") {
		t.Errorf("key list = %q; want AKIA…MPLE", out)
	}
	if out := must("", "stsd", "key", "rotate", "src"); !strings.Contains(out, "is inactive") {
		t.Errorf("key rotate = %q", out)
	}
	if active := sts.ActiveKeys(); len(active) != 1 || active[0] == worldKey {
		t.Fatalf("active keys after rotate = %v; want one new key", active)
	}
	must("AKIAFAKEEXTRAKEY0001\n"+addedKeySecret+"\n", "stsd", "key", "add", "extra")
	run("not a key\n", "stsd", "key", "add", "extra")
	run("", "stsd", "key", "rotate", "src") // waits for the grace
	must("", "stsd", "key", "remove", "extra")
	run("", "stsd", "key", "remove", "extra") // not there any more

	// The rotation took its IAM session with m's MFA device (the key's
	// one serial): a TOTP code is single-use, so arm it again.
	sts.SetMFA(mfaSerial, "424242")
	var logs bytes.Buffer
	daemon := w.cmd(context.Background(), "stsd", "run", "--log-level", "debug")
	daemon.Stderr = &logs
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { daemon.Process.Kill(); daemon.Wait() })
	sock := filepath.Join(w.dir, "r", "stsd", "stsd.sock")
	waitFor(t, func() bool { _, err := os.Stat(sock); return err == nil })
	if out, errOut, code := run("", "stsd-credential-process", "--profile", "dev"); code != 0 || !strings.HasPrefix(out, `{"Version":1`) {
		t.Fatalf("credential_process through the keyring key: exit %d %s", code, errOut)
	}
	if _, errOut, code := run("", "stsd-credential-process", "--profile", "m"); code != 0 {
		t.Fatalf("credential_process m: exit %d %s", code, errOut)
	}
	status := must("", "stsd", "status")
	if !regexp.MustCompile(`src\s+keyring\s+AKIA…\w{4}`).MatchString(status) {
		t.Errorf("status has no key row for src:\n%s", status)
	}
	must("", "stsd", "status", "--json")
	childEnv := must("", "stsd", "exec", "dev", "--", "env")
	mfaEnv, err := os.ReadFile(filepath.Join(w.dir, "mfa-env"))
	if err != nil {
		t.Fatalf("mfa_process did not run: %v", err)
	}
	for what, env := range map[string]string{"exec child": childEnv, "mfa_process": string(mfaEnv)} {
		if strings.Contains(env, "STSD_KEYRING_PASSWORD") || strings.Contains(env, keyringPass) {
			t.Errorf("the %s's environment holds the keyring passphrase", what)
		}
	}
	daemon.Process.Signal(os.Interrupt)
	daemon.Wait()
	seen = append(seen, "daemon log: "+logs.String())

	if os.Getenv("STSD_DUMP") != "" {
		t.Log(strings.Join(seen, "\n"))
	}
	keys, secrets := issued.snapshot()
	secretParts := windows(secrets, leakWindow)
	keyParts := windows(append(keys, worldKey, "AKIAFAKEEXTRAKEY0001"), leakWindow)
	for _, text := range seen {
		what, _, _ := strings.Cut(text, ":")
		if v, ok := leak(text, secretParts); ok {
			t.Errorf("%s holds part of a secret (%d chars long)", what, len(v))
		}
		if k, ok := leak(text, keyParts); ok {
			t.Errorf("%s holds a key id beyond AKIA…WXYZ (%s)", what, k[:4]+"…"+k[len(k)-4:])
		}
	}
	for _, ev := range []string{"refreshed"} {
		if !strings.Contains(logs.String(), "event="+ev) {
			t.Errorf("daemon log has no %s event", ev)
		}
	}
}
