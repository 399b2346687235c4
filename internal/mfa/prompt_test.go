package mfa

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// stub puts an executable named name on PATH that records its arguments
// and runs body.
func stub(t *testing.T, name, body string) string {
	t.Helper()
	dir := t.TempDir()
	args := filepath.Join(dir, "args")
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + args + "\n" + body + "\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return args
}

func TestDialogBackends(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("shell stubs")
	}
	tests := []struct {
		backend  string
		wantArgs []string
	}{
		{"zenity", []string{"--entry", "--title=stsd", "--text=MFA code for stsd profile dev (arn:aws:iam::123456789012:mfa/alice)", "--timeout=45"}},
		{"kdialog", []string{"--title", "stsd", "--inputbox", "MFA code for stsd profile dev (arn:aws:iam::123456789012:mfa/alice)"}},
		{"osascript", []string{"-e", `text returned of (display dialog "MFA code for stsd profile dev (arn:aws:iam::123456789012:mfa/alice)" default answer "" with title "stsd" giving up after 45)`}},
	}
	for _, tt := range tests {
		t.Run(tt.backend, func(t *testing.T) {
			args := stub(t, tt.backend, "echo ' 123456 '")
			code, err := Ask(t.Context(), tt.backend, Options{Profile: "dev", Serial: "arn:aws:iam::123456789012:mfa/alice"})
			if err != nil || code != "123456" {
				t.Fatalf("Ask(%s) = %q, %v; want 123456", tt.backend, code, err)
			}
			b, _ := os.ReadFile(args)
			if got := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n"); strings.Join(got, "|") != strings.Join(tt.wantArgs, "|") {
				t.Errorf("%s args = %q; want %q", tt.backend, got, tt.wantArgs)
			}
		})
	}
}

func TestDialogFailures(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("shell stubs")
	}
	t.Run("cancelled", func(t *testing.T) {
		stub(t, "zenity", "exit 1")
		if _, err := Ask(t.Context(), "zenity", Options{Profile: "dev"}); err == nil || !strings.Contains(err.Error(), "mfa_prompt zenity: cancelled or failed") {
			t.Errorf("cancelled dialog: %v", err)
		}
	})
	t.Run("not a code", func(t *testing.T) {
		stub(t, "kdialog", "echo hello")
		if _, err := Ask(t.Context(), "kdialog", Options{Profile: "dev"}); err == nil || err.Error() != "an MFA code is 6 digits" {
			t.Errorf("bad code: %v", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		stub(t, "zenity", "exec sleep 30")
		start := time.Now()
		_, err := Ask(t.Context(), "zenity", Options{Profile: "dev", Timeout: 300 * time.Millisecond})
		if err == nil || !strings.Contains(err.Error(), "no MFA code entered within 300ms") || time.Since(start) > 5*time.Second {
			t.Errorf("timeout: %v after %v", err, time.Since(start))
		}
	})
	t.Run("missing", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		if _, err := Ask(t.Context(), "kdialog", Options{Profile: "dev"}); err == nil || err.Error() != "mfa_prompt kdialog: kdialog is not installed" {
			t.Errorf("missing: %v", err)
		}
	})
}

func TestNoneAndUnknown(t *testing.T) {
	t.Parallel()
	if _, err := Ask(t.Context(), "none", Options{Profile: "dev"}); !errors.Is(err, ErrNoPrompt) || !strings.Contains(err.Error(), "run `stsd mfa dev CODE`") {
		t.Errorf("none: %v", err)
	}
	if _, err := Ask(t.Context(), "carrier-pigeon", Options{Profile: "dev"}); err == nil || !strings.Contains(err.Error(), `unknown mfa_prompt "carrier-pigeon"`) {
		t.Errorf("unknown: %v", err)
	}
}

func TestTTYMissing(t *testing.T) {
	t.Parallel()
	_, err := Ask(t.Context(), "tty", Options{Profile: "dev", TTY: filepath.Join(t.TempDir(), "no-tty")})
	if err == nil || !strings.Contains(err.Error(), "no terminal to ask for an MFA code") {
		t.Errorf("tty missing: %v", err)
	}
}

func TestValid(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]bool{"123456": true, "12345": false, "1234567": false, "12a456": false, "": false, "１２３４５６": false} {
		if got := Valid(code); got != want {
			t.Errorf("Valid(%q) = %v; want %v", code, got, want)
		}
	}
}
