//go:build !windows

package e2e

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stsd/stsd/internal/ststest"
)

// initWorld is a HOME with only a long-term key in ~/.aws/credentials (no
// stsd config, no AWS config), the stand-in as STS and IAM, and a fake
// ykman on PATH whose AWS account prints the device's current code.
func initWorld(t *testing.T) (*world, *ststest.Server) {
	t.Helper()
	sts := ststest.NewServer(t, ststest.Options{})
	sts.SetMFA(mfaSerial, "424242")
	w := newWorld(t, sts.URL, "")
	home := filepath.Join(w.dir, "h")
	os.Remove(filepath.Join(home, ".config/stsd/config.toml"))
	os.Remove(filepath.Join(home, ".config/stsd"))
	os.Remove(filepath.Join(home, ".aws/config"))
	bin := filepath.Join(w.dir, "bin")
	mkdir(t, bin)
	writeFile(t, filepath.Join(bin, "ykman"), `#!/bin/sh
case "$*" in
"oath accounts list") echo "GitHub:alice"; echo "Amazon Web Services:alice@123456789012" ;;
"oath accounts code -s Amazon Web Services:alice@123456789012") echo 424242 ;;
*) echo "ykman: unexpected arguments: $*" >&2; exit 2 ;;
esac
`)
	os.Chmod(filepath.Join(bin, "ykman"), 0o700)
	env := w.env[:0]
	for _, kv := range w.env {
		switch {
		case strings.HasPrefix(kv, "PATH="):
			kv = "PATH=" + bin + ":" + strings.TrimPrefix(kv, "PATH=")
		case strings.HasPrefix(kv, "DBUS_SESSION_BUS_ADDRESS="), strings.HasPrefix(kv, "PASSWORD_STORE_DIR="):
			continue // the keyring auto picks is the file, wherever this runs
		}
		env = append(env, kv)
	}
	w.env = env
	// The key store here is the encrypted file (no session bus, no pass
	// store); its passphrase comes from the environment.
	w.env = append(w.env, "AWS_ENDPOINT_URL_IAM="+sts.URL, "STSD_KEYRING_PASSWORD=correct horse battery staple")
	return w, sts
}

// initPrompts are init's questions in this world, in order.
var initPrompts = []string{
	"Which key should stsd use [src]:",
	"Move the key of [src] into the keyring (file) [Y/n]:",
	"Name of the new stsd (and AWS) profile [src-sts]:",
	"STS region [us-east-1]:",
	"How long each set of credentials lasts (15m..36h) [12h]:",
	"MFA device (an ARN, or none) [" + mfaSerial + "]:",
	"YubiKey account for MFA codes (none: type codes yourself) [Amazon Web Services:alice@123456789012]:",
	"Apply this plan? [Y/n]:",
}

// TestInitOnTerminal: `stsd init` on a terminal, every question answered
// by keystrokes, ends with the AWS CLI's get-caller-identity through the
// new profile succeeding (MFA codes from the YubiKey's mfa_process).
func TestInitOnTerminal(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws CLI not installed")
	}
	w, sts := initWorld(t)
	tm := newTerm(t, w, "trap true INT; "+binDir+"/stsd init; echo rc=$?")
	for i, answer := range []string{"src", "", "dev", "eu-west-1", "1h", "", "", "y"} {
		tm.waitFor(initPrompts[i])
		tm.typeLine(answer)
	}
	// init took the passphrase from the environment and passes it to no
	// child: the AWS CLI's credential_process (no daemon runs) asks for it
	// on the terminal, as it would a user.
	tm.waitFor("passphrase of the stsd keyring in ")
	tm.typeLine("correct horse battery staple")
	tm.waitFor("rc=")
	screen := tm.screen()
	if !strings.Contains(screen, "rc=0") || !strings.Contains(screen, `"Arn": "arn:aws:iam::123456789012:user/alice"`) {
		t.Fatalf("init did not end with get-caller-identity succeeding:\n%s", screen)
	}
	home := filepath.Join(w.dir, "h")
	cfg, _ := os.ReadFile(filepath.Join(home, ".config/stsd/config.toml"))
	for _, want := range []string{"[profiles.dev]", `source_profile = "src"`, "[keys.src]\n# The key lives in the OS keyring", `store = "keyring"`, `region = "eu-west-1"`, `duration = "1h"`, `mfa_serial = "` + mfaSerial + `"`, `mfa_process = "ykman oath accounts code -s 'Amazon Web Services:alice@123456789012'"`} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("config lacks %s:\n%s", want, cfg)
		}
	}
	// The key left the credentials file for the keyring, which the AWS
	// CLI's call above read it from.
	if creds, _ := os.ReadFile(filepath.Join(home, ".aws/credentials")); strings.Contains(string(creds), "[src]") || strings.Contains(string(creds), "AKIA") {
		t.Errorf("~/.aws/credentials still holds the key:\n%s", creds)
	}
	if items, _ := filepath.Glob(filepath.Join(home, ".local/state/stsd/keyring/*")); len(items) != 1 {
		t.Errorf("the file keyring holds %v; want the one key", items)
	}
	awsCfg, _ := os.ReadFile(filepath.Join(home, ".aws/config"))
	if want := "credential_process = " + binDir + "/stsd-credential-process --profile dev"; !strings.Contains(string(awsCfg), want) {
		t.Errorf("~/.aws/config lacks %q:\n%s", want, awsCfg)
	}
	var sessions, asked int
	for _, r := range sts.Requests() {
		switch {
		case r.Action == ststest.ActionGetSessionToken:
			sessions++
			if r.Params.Get("TokenCode") != "424242" || r.Params.Get("SerialNumber") != mfaSerial {
				t.Errorf("GetSessionToken %v; want the YubiKey's code", r.Params)
			}
		case r.Action == ststest.ActionGetCallerIdentity && r.SessionToken:
			asked++ // the AWS CLI, with the short-lived credentials
		}
	}
	if sessions != 1 || asked != 1 || sts.CallsOf(ststest.ActionListMFADevices) != 1 {
		t.Errorf("GetSessionToken %d, GetCallerIdentity with a session %d, ListMFADevices %d calls; want 1 each", sessions, asked, sts.CallsOf(ststest.ActionListMFADevices))
	}
}

// TestInitCtrlCChangesNothing: Ctrl-C at any question leaves every file
// under HOME as it was, and so does declining the change to an existing
// config.
func TestInitCtrlCChangesNothing(t *testing.T) {
	for k := range initPrompts {
		t.Run(fmt.Sprintf("question %d", k+1), func(t *testing.T) {
			t.Parallel()
			w, _ := initWorld(t)
			before := snapshot(t, w)
			tm := newTerm(t, w, "trap true INT; "+binDir+"/stsd init; echo rc=$?")
			for _, p := range initPrompts[:k] {
				tm.waitFor(p)
				tm.typeLine("")
			}
			tm.waitFor(initPrompts[k])
			tm.sendKeys("C-c")
			tm.waitFor("rc=")
			if s := tm.screen(); !strings.Contains(s, "interrupted: nothing was changed") || !strings.Contains(s, "rc=1") {
				t.Errorf("after Ctrl-C:\n%s", s)
			}
			if after := snapshot(t, w); after != before {
				t.Errorf("files changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
	for _, key := range []string{"C-c", "n"} {
		t.Run("existing config, "+key, func(t *testing.T) {
			t.Parallel()
			w, _ := initWorld(t)
			mkdir(t, filepath.Join(w.dir, "h/.config/stsd"))
			writeFile(t, filepath.Join(w.dir, "h/.config/stsd/config.toml"), "# mine\n[profiles.old]\nsource_profile = \"src\"\n")
			before := snapshot(t, w)
			tm := newTerm(t, w, "trap true INT; "+binDir+"/stsd init; echo rc=$?")
			for _, p := range initPrompts[:len(initPrompts)-1] {
				tm.waitFor(p)
				tm.typeLine("")
			}
			tm.waitFor("+ [profiles.src-sts]") // the diff is shown first
			tm.waitFor("like this [y/N]:")
			if key == "n" {
				tm.typeLine("n")
			} else {
				tm.sendKeys(key)
			}
			tm.waitFor("rc=1")
			if after := snapshot(t, w); after != before {
				t.Errorf("files changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

func (tm *term) sendKeys(keys ...string) {
	tm.t.Helper()
	if out, err := exec.Command("tmux", append([]string{"-S", tm.sock, "send-keys"}, keys...)...).CombinedOutput(); err != nil {
		tm.t.Fatalf("send-keys: %v %s", err, out)
	}
}

// snapshot lists every file and directory under HOME with its mode and a
// hash of its content.
func snapshot(t *testing.T, w *world) string {
	t.Helper()
	var b strings.Builder
	home := filepath.Join(w.dir, "h")
	filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := d.Info()
		sum := ""
		if d.Type().IsRegular() {
			data, _ := os.ReadFile(p)
			sum = fmt.Sprintf("%x", sha256.Sum256(data))[:16]
		}
		fmt.Fprintf(&b, "%s %v %s\n", strings.TrimPrefix(p, home), fi.Mode(), sum)
		return nil
	})
	return b.String()
}
