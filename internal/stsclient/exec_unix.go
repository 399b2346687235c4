//go:build !windows

package stsclient

import (
	"context"
	"os/exec"
)

// ShellCommand runs command with the platform shell, as the AWS SDKs run
// credential_process: sh -c (cmd.exe /C on Windows).
func ShellCommand(ctx context.Context, command string) *exec.Cmd {
	return exec.CommandContext(ctx, "/bin/sh", "-c", command)
}
