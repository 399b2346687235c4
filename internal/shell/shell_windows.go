package shell

import (
	"context"
	"os/exec"
)

// Command runs command with cmd.exe /C.
func Command(ctx context.Context, command string) *exec.Cmd {
	return exec.CommandContext(ctx, "cmd.exe", "/C", command)
}
