//go:build !windows

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stsd/stsd/internal/nobody"
	"github.com/stsd/stsd/internal/ststest"
	"github.com/stsd/stsd/internal/testca"
)

// TestSecondRunExitsAtOnce: a second `stsd run` on the same socket exits 1
// at once, saying another daemon runs, and the first keeps serving.
func TestSecondRunExitsAtOnce(t *testing.T) {
	sts := standin(t)
	w := newWorld(t, sts.url, sessionConfig)
	w.startDaemon(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	start := time.Now()
	out, err := w.cmd(ctx, "stsd", "run").CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("a second stsd run did not exit within 10s:\n%s", out)
	}
	if code := exitCode(t, err); code != 1 {
		t.Errorf("second stsd run exited %d; want 1:\n%s", code, out)
	}
	if !strings.Contains(string(out), "another stsd is already running") {
		t.Errorf("second stsd run said %q; want it to name the running daemon", out)
	}
	t.Logf("second stsd run exited after %v", time.Since(start).Round(time.Millisecond))
	if _, stderr, code := w.run(t, "stsd-credential-process", "--profile", "dev"); code != 0 {
		t.Errorf("the first daemon stopped serving after a second run: %d %s", code, stderr)
	}
	if _, stderr, code := w.run(t, "stsd", "status"); code != 0 {
		t.Errorf("stsd status after a second run: %d %s", code, stderr)
	}
}

// TestPlantedCredentialProcess: when the default shared credentials file
// or the AWS config file becomes writable by others, another user
// (nobody) plants a credential_process there. The daemon must never run
// it: `stsd refresh` is refused with the chmod to run, the last valid
// credentials keep being served, and `stsd check` reports the file.
func TestPlantedCredentialProcess(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run the attacker as nobody")
	}
	for _, file := range []string{"credentials", "config"} {
		t.Run(file, func(t *testing.T) {
			sts := standin(t)
			w := newWorld(t, sts.url, sessionConfig)
			w.startDaemon(t)
			before := accessKeyID(t, w)
			home := filepath.Join(w.dir, "h")
			target := filepath.Join(home, ".aws", file)
			// The victim's mistakes: a traversable home and a file
			// others may write.
			for _, d := range []string{w.dir, home, filepath.Join(home, ".aws")} {
				os.Chmod(d, 0o711)
			}
			os.Chmod(target, 0o666)
			marker := filepath.Join(t.TempDir(), "planted-ran")
			os.Chmod(filepath.Dir(marker), 0o777)
			planted := fmt.Sprintf("\n[profile src]\ncredential_process = sh -c 'touch %s'\n[src]\ncredential_process = sh -c 'touch %s'\n", marker, marker)
			// In the credentials file the planted process replaces the key
			// (static keys would win); the config file gets it appended.
			redirect := ">>"
			if file == "credentials" {
				redirect = ">"
			}
			attack := exec.Command("sh", "-c", `printf '%s' "$PLANT" `+redirect+` "$TARGET"`)
			attack.Env = []string{"PLANT=" + planted, "TARGET=" + target}
			if out, err := nobody.Run(attack).CombinedOutput(); err != nil {
				t.Fatalf("nobody could not write %s: %v %s", target, err, out)
			}
			_, stderr, code := w.run(t, "stsd", "refresh", "dev")
			if code != 0 {
				t.Fatalf("stsd refresh: %d %s", code, stderr)
			}
			var st struct {
				Profiles []struct {
					LastError string `json:"last_error"`
				} `json:"profiles"`
			}
			waitFor(t, func() bool {
				out, _, _ := w.run(t, "stsd", "status", "--json")
				json.Unmarshal([]byte(out), &st)
				return len(st.Profiles) == 1 && st.Profiles[0].LastError != ""
			})
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("the daemon ran a credential_process another user planted")
			}
			if msg := st.Profiles[0].LastError; !strings.Contains(msg, "chmod") || !strings.Contains(msg, target) {
				t.Errorf("status last_error = %q; want it to name %s and the chmod to run", msg, target)
			}
			if got := accessKeyID(t, w); got != before {
				t.Errorf("after the refused refresh credential_process served %s; want the last valid key %s", got, before)
			}
			_, stderr, code = w.run(t, "stsd", "check")
			if code != 2 || !strings.Contains(stderr, target) || !strings.Contains(stderr, "chmod") {
				t.Errorf("stsd check = %d, %q; want 2 naming %s and the chmod", code, stderr, target)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("stsd check ran a credential_process another user planted")
			}
		})
	}
}

// accessKeyID runs the small binary for dev and returns the key it served.
func accessKeyID(t *testing.T, w *world) string {
	t.Helper()
	out, stderr, code := w.run(t, "stsd-credential-process", "--profile", "dev")
	if code != 0 {
		t.Fatalf("stsd-credential-process: %d %s", code, stderr)
	}
	var c struct{ AccessKeyId string }
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.AccessKeyId == "" {
		t.Fatalf("stsd-credential-process printed %q: %v", out, err)
	}
	return c.AccessKeyId
}

// TestBrokerRevocationOnReload is the stale-client-table attack: after
// `remove-client billing`, app-billing changed to a session profile and a
// reload, billing's old token must not get GetSessionToken credentials
// (the IAM user's full permissions), nor anything else; a rotated
// token is refused from the moment the reload returns.
func TestBrokerRevocationOnReload(t *testing.T) {
	s := ststest.NewServer(t, ststest.Options{})
	ca := testca.New(t, "stsd e2e CA")
	certFile, keyFile := ca.WriteServer(t, t.TempDir(), "127.0.0.2")
	w := newWorld(t, s.URL, brokerConfig(certFile, keyFile))
	billing := w.addClient(t, "billing", "--profiles", "app-billing")
	search := w.addClient(t, "search", "--profiles", "app-search")
	w.startDaemon(t)
	addr := w.brokerAddrOf(t)
	url := func(p string) string { return "https://" + addr + "/v1/credentials/" + p }
	pool := ca.Pool()
	if code, body := brokerGet(t, pool, url("app-billing"), billing); code != 200 {
		t.Fatalf("billing before: %d %s", code, body)
	}
	if code, _ := brokerGet(t, pool, url("app-search"), search); code != 200 {
		t.Fatalf("search before: %d", code)
	}
	// The operator removes billing and reuses app-billing as a session
	// profile for local tools.
	if _, errOut, code := w.run(t, "stsd", "broker", "remove-client", "billing"); code != 0 {
		t.Fatalf("remove-client: %d %s", code, errOut)
	}
	cfgPath := filepath.Join(w.dir, "h", ".config", "stsd", "config.toml")
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	session := strings.Replace(string(b), "[profiles.app-billing]\nsource_profile = \"src\"\nmode = \"federation\"\nname = \"{client}\"\nduration = \"1h\"\npolicy_arns = [\"arn:aws:iam::aws:policy/ReadOnlyAccess\"]\n",
		"[profiles.app-billing]\nsource_profile = \"src\"\nmode = \"session\"\nduration = \"1h\"\n", 1)
	if session == string(b) {
		t.Fatal("the test config has no app-billing profile to change")
	}
	writeFile(t, cfgPath, session)
	if _, errOut, code := w.run(t, "stsd", "reload"); code != 0 {
		t.Fatalf("stsd reload: %d %s", code, errOut)
	}
	sessionCalls := func() int {
		n := 0
		for _, r := range s.Requests() {
			if r.Action == ststest.ActionGetSessionToken {
				n++
			}
		}
		return n
	}
	// The new local session profile makes its own first call: let it
	// finish, so only the broker's would be counted.
	if _, errOut, code := w.run(t, "stsd", "credential-process", "--profile", "app-billing"); code != 0 {
		t.Fatalf("the new session profile: %d %s", code, errOut)
	}
	before := sessionCalls()
	code, body := brokerGet(t, pool, url("app-billing"), billing)
	if code != 403 {
		t.Errorf("removed client after the reload: %d; want 403", code)
	}
	noCredentialBytes(t, "removed client", body)
	if n := sessionCalls() - before; n != 0 {
		t.Errorf("the broker made %d GetSessionToken calls for a removed client", n)
	}
	// Rotation: the old token is refused as soon as rotate-client returns.
	out, errOut, code := w.run(t, "stsd", "broker", "rotate-client", "search")
	if code != 0 {
		t.Fatalf("rotate-client: %d %s", code, errOut)
	}
	code, body = brokerGet(t, pool, url("app-search"), search)
	if code != 403 {
		t.Errorf("rotated client's old token: %d; want 403", code)
	}
	noCredentialBytes(t, "rotated client's old token", body)
	if code, _ := brokerGet(t, pool, url("app-search"), strings.TrimSpace(out)); code != 200 {
		t.Errorf("rotated client's new token: %d; want 200", code)
	}
	if _, stderr, code := w.run(t, "stsd", "status"); code != 0 {
		t.Errorf("stsd status: %d %s", code, stderr)
	}
}

// TestDaemonMemoryHidden: the daemon (here running as nobody, as the
// system service runs as its own user) writes no core dumps, and another
// process of the same user cannot read its memory or environment.
func TestDaemonMemoryHidden(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run the daemon and the attacker as nobody")
	}
	sts := standin(t)
	w := newWorld(t, sts.url, sessionConfig)
	bin := filepath.Join(nobody.Dir(t), "stsd")
	copyFile(t, filepath.Join(binDir, "stsd"), bin, 0o755)
	if out, err := exec.Command("chown", "-R", "65534:65534", w.dir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	cmd := exec.Command(bin, "run")
	cmd.Env, cmd.Dir = w.env, w.dir
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := nobody.Run(cmd).Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	sock := filepath.Join(w.dir, "r", "stsd", "stsd.sock")
	waitFor(t, func() bool { _, err := os.Stat(sock); return err == nil })
	pid := fmt.Sprint(cmd.Process.Pid)
	limits, err := os.ReadFile("/proc/" + pid + "/limits")
	if err != nil {
		t.Fatal(err)
	}
	if !regexpCore.Match(limits) {
		t.Errorf("the daemon's core size limit is not 0:\n%s", limits)
	}
	for _, f := range []string{"environ", "mem", "maps"} {
		out, err := nobody.Run(exec.Command("dd", "if=/proc/"+pid+"/"+f, "bs=64", "count=1", "status=none")).CombinedOutput()
		if err == nil {
			t.Errorf("another process of the daemon's user read /proc/PID/%s (%d bytes)", f, len(out))
		}
	}
}

var regexpCore = regexp.MustCompile(`(?m)^Max core file size\s+0\s+0\s`)

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}
