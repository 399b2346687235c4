//go:build !windows

package shell

import (
	"context"
	"os/exec"
)

// Command runs command with sh -c.
func Command(ctx context.Context, command string) *exec.Cmd {
	return exec.CommandContext(ctx, "/bin/sh", "-c", command)
}
