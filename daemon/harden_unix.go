//go:build !windows

package daemon

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Harden keeps the daemon's memory, which holds the long-term key, out of
// core dumps and away from other processes: the core size limit is 0
// (children inherit it), and on Linux the process is not dumpable, so
// even processes of the same user can neither ptrace it nor read its
// /proc files (mem, environ). Call it first thing in the daemon.
func Harden() error {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return fmt.Errorf("core size limit 0: %w", err)
	}
	return notDumpable()
}
