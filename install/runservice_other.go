//go:build !windows

package install

import "context"

// RunService runs fn, the daemon, until ctx ends. Outside Windows a service
// manager needs nothing more than a process that stops on SIGTERM.
func RunService(ctx context.Context, fn func(context.Context) error) error {
	return fn(ctx)
}
