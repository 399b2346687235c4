//go:build !windows

package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stsd/stsd/internal/ststest"
)

const mfaSerial = "arn:aws:iam::123456789012:mfa/alice"

const mfaConfig = `
[profiles.dev]
source_profile = "src"
duration = "1h"
mfa_serial = "` + mfaSerial + `"
mfa_prompt = "tty"
`

// term is a tmux server of the test's own, running one command in a
// terminal so prompts on /dev/tty can be read and answered.
type term struct {
	t    *testing.T
	sock string
}

func newTerm(t *testing.T, w *world, script string) *term {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux not installed")
	}
	tm := &term{t: t, sock: filepath.Join(w.dir, "tmux")}
	path := filepath.Join(w.dir, "run.sh")
	writeFile(t, path, "#!/bin/sh\n"+script+"\necho '[done]'\nsleep 60\n")
	os.Chmod(path, 0o700)
	cmd := exec.Command("tmux", "-S", tm.sock, "-f", "/dev/null", "new-session", "-d", "-x", "160", "-y", "40", "sh", path)
	cmd.Env = w.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "-S", tm.sock, "kill-server").Run() })
	return tm
}

func (tm *term) screen() string {
	out, _ := exec.Command("tmux", "-S", tm.sock, "capture-pane", "-p").Output()
	return string(out)
}

func (tm *term) waitFor(text string) {
	tm.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(tm.screen(), text) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	tm.t.Fatalf("terminal never showed %q; screen:\n%s", text, tm.screen())
}

func (tm *term) typeLine(s string) {
	tm.t.Helper()
	if out, err := exec.Command("tmux", "-S", tm.sock, "send-keys", s, "Enter").CombinedOutput(); err != nil {
		tm.t.Fatalf("send-keys: %v %s", err, out)
	}
}

// pureJSON checks a credential_process stdout file holds exactly one JSON
// document and nothing of the prompt.
func pureJSON(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m["Version"] != float64(1) || strings.Contains(string(b), "MFA code") {
		t.Errorf("stdout is not pure credential JSON: %q", redactJSON(b))
	}
}

func redactJSON(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

func mfaWorld(t *testing.T) (*world, *ststest.Server) {
	sts := ststest.NewServer(t, ststest.Options{})
	sts.SetMFA(mfaSerial, "424242")
	return newWorld(t, sts.URL, mfaConfig), sts
}

// TestMFACommandPromptsOnTerminal: `stsd mfa dev` asks on the terminal and
// the daemon refreshes with the code.
func TestMFACommandPromptsOnTerminal(t *testing.T) {
	w, sts := mfaWorld(t)
	w.startDaemon(t)
	tm := newTerm(t, w, binDir+"/stsd mfa dev")
	tm.waitFor("MFA code for stsd profile dev")
	tm.typeLine("424242")
	tm.waitFor("dev refreshed with the MFA code")
	if got := tokenRequests(sts)[0].Params.Get("TokenCode"); got != "424242" {
		t.Errorf("TokenCode sent = %q", got)
	}
	out, errOut, code := w.run(t, "stsd-credential-process", "--profile", "dev")
	if code != 0 || !strings.HasPrefix(out, `{"Version":1,`) {
		t.Errorf("after the code: exit %d %s", code, errOut)
	}
}

// TestCredentialProcessPromptsViaDaemon: the daemon answers needs-mfa, the
// small binary prompts on the terminal, posts the code, prints JSON only.
func TestCredentialProcessPromptsViaDaemon(t *testing.T) {
	w, sts := mfaWorld(t)
	w.startDaemon(t)
	out := filepath.Join(w.dir, "out.json")
	tm := newTerm(t, w, binDir+"/stsd-credential-process --profile dev > "+out)
	tm.waitFor("MFA code for stsd profile dev")
	tm.typeLine("424242")
	tm.waitFor("[done]")
	pureJSON(t, out)
	if sts.Calls() != 1 {
		t.Errorf("STS calls = %d; want 1", sts.Calls())
	}
}

// TestCredentialProcessPromptsWithoutDaemon: no daemon: the full binary
// prompts on the terminal (never stdout) and calls STS once.
func TestCredentialProcessPromptsWithoutDaemon(t *testing.T) {
	w, sts := mfaWorld(t)
	out := filepath.Join(w.dir, "out.json")
	tm := newTerm(t, w, binDir+"/stsd-credential-process --profile dev > "+out)
	tm.waitFor("MFA code for stsd profile dev (" + mfaSerial + ")")
	tm.typeLine("424242")
	tm.waitFor("[done]")
	pureJSON(t, out)
	if got := tokenRequests(sts)[0].Params.Get("SerialNumber"); got != mfaSerial {
		t.Errorf("SerialNumber sent = %q", got)
	}
}

// tokenRequests are the GetSessionToken/GetFederationToken calls sts saw.
func tokenRequests(sts *ststest.Server) []ststest.Request {
	var out []ststest.Request
	for _, r := range sts.Requests() {
		if r.Action != ststest.ActionGetCallerIdentity {
			out = append(out, r)
		}
	}
	return out
}
