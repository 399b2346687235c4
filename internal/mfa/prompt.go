// Package mfa gets MFA codes and keeps the single-use rule: it asks a
// person (on the terminal, /dev/tty and never stdout, or with a desktop
// dialog: zenity, kdialog, osascript), runs mfa_process, and guards each
// MFA device so the same TOTP code is never sent twice. It links no AWS
// SDK and no net/http, so the small credential_process binary can use it.
package mfa

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/stsd/stsd/internal/wire"
)

// DefaultTimeout keeps a prompt under the Go SDK's one-minute
// credential_process limit (processcreds.DefaultTimeout).
const DefaultTimeout = 45 * time.Second

// Backends are the accepted mfa_prompt values.
var Backends = []string{"tty", "zenity", "kdialog", "osascript", "none"}

// ErrNoPrompt is returned for the "none" backend: the code must come from
// mfa_process or `stsd mfa`.
var ErrNoPrompt = errors.New("mfa_prompt is none")

// Options configure Ask. Zero values mean defaults.
type Options struct {
	Profile string
	Serial  string
	Timeout time.Duration // default DefaultTimeout
	// TTY is the terminal device; default /dev/tty (CONIN$/CONOUT$ are not
	// supported: Windows uses a dialog or `stsd mfa`).
	TTY string
}

// Ask asks for a 6-digit code with backend and returns it.
func Ask(ctx context.Context, backend string, o Options) (string, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.TTY == "" {
		o.TTY = "/dev/tty"
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var code string
	var err error
	text := fmt.Sprintf("MFA code for stsd profile %s", o.Profile)
	if o.Serial != "" {
		text += " (" + o.Serial + ")"
	}
	secs := strconv.Itoa(int(o.Timeout / time.Second))
	switch backend {
	case "tty", "":
		code, err = askTTY(ctx, o.TTY, text)
	case "zenity":
		code, err = dialog(ctx, "zenity", "--entry", "--title=stsd", "--text="+text, "--timeout="+secs)
	case "kdialog":
		code, err = dialog(ctx, "kdialog", "--title", "stsd", "--inputbox", text)
	case "osascript":
		code, err = dialog(ctx, "osascript", "-e",
			`text returned of (display dialog "`+strings.ReplaceAll(text, `"`, `'`)+`" default answer "" with title "stsd" giving up after `+secs+`)`)
	case "none":
		return "", fmt.Errorf("%w: run `stsd mfa %s CODE` or set mfa_process", ErrNoPrompt, o.Profile)
	default:
		return "", fmt.Errorf("unknown mfa_prompt %q: use one of %s", backend, strings.Join(Backends, ", "))
	}
	if ctx.Err() == context.DeadlineExceeded {
		return "", fmt.Errorf("no MFA code entered within %s", o.Timeout)
	}
	if err != nil {
		return "", err
	}
	if !Valid(code) {
		return "", errors.New("an MFA code is 6 digits")
	}
	return code, nil
}

// Valid reports whether code is a 6-digit TOTP code, the only form STS
// accepts for TokenCode.
func Valid(code string) bool {
	if len(code) != 6 {
		return false
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// askTTY prompts on the controlling terminal. Reading happens in a
// goroutine so the timeout can close the terminal under it.
func askTTY(ctx context.Context, path, text string) (string, error) {
	tty, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("no terminal to ask for an MFA code (%v): run `stsd mfa` or set mfa_prompt to a dialog", err)
	}
	defer tty.Close()
	fmt.Fprintf(tty, "%s: ", text)
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(tty).ReadString('\n')
		ch <- result{line, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil && r.err != io.EOF {
			return "", fmt.Errorf("read MFA code: %w", r.err)
		}
		return strings.TrimSpace(r.line), nil
	case <-ctx.Done():
		tty.Close() // unblocks the reader
		fmt.Fprintln(os.Stderr)
		return "", ctx.Err()
	}
}

// dialog runs a desktop prompt and returns what it printed.
func dialog(ctx context.Context, name string, args ...string) (string, error) {
	if _, err := exec.LookPath(name); err != nil {
		return "", fmt.Errorf("mfa_prompt %s: %s is not installed", name, name)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	// The small binary keeps STSD_KEYRING_PASSWORD for the stsd it may run;
	// a dialog never gets it.
	cmd.Env = wire.ChildEnv(os.Environ())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("mfa_prompt %s: cancelled or failed (%v)", name, err)
	}
	return strings.TrimSpace(stdout.String()), nil
}
