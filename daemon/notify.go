package daemon

import (
	"context"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/stsd/stsd/internal/shell"
	"github.com/stsd/stsd/internal/wire"
)

// notifyTimeout bounds notify_command.
const notifyTimeout = 10 * time.Second

// runNotify runs notify_command with the platform shell, without
// STSD_RESOLVING in its environment.
func runNotify(command string) error {
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	cmd := shell.Command(ctx, command)
	cmd.Env = slices.DeleteFunc(wire.ChildEnv(os.Environ()), func(kv string) bool {
		return strings.HasPrefix(kv, wire.ResolvingEnv+"=")
	})
	cmd.WaitDelay = time.Second
	return cmd.Run()
}
