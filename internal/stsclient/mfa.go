package stsclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/stsd/stsd/internal/mfaprompt"
	"github.com/stsd/stsd/internal/wire"
)

// MFAProcessTimeout bounds mfa_process.
const MFAProcessTimeout = 30 * time.Second

// RunMFAProcess runs command with the platform shell (sh -c, cmd /C) and
// returns the 6-digit code it prints. Its stderr is shown in the error on
// failure (it is the user's tool talking, never a secret of ours).
func RunMFAProcess(ctx context.Context, command string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, MFAProcessTimeout)
	defer cancel()
	cmd := ShellCommand(ctx, command)
	cmd.Env = append(os.Environ(), wire.ResolvingEnv+"=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return "", fmt.Errorf("mfa_process timed out after %s", MFAProcessTimeout)
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		if len(msg) > 200 {
			msg = msg[:200]
		}
		if msg != "" {
			return "", fmt.Errorf("mfa_process failed (%v): %s", err, msg)
		}
		return "", fmt.Errorf("mfa_process failed: %v", err)
	}
	code := strings.TrimSpace(stdout.String())
	if !mfaprompt.Valid(code) {
		return "", errors.New("mfa_process did not print a 6-digit code")
	}
	return code, nil
}
