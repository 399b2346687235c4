//go:build !windows

package daemon

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/stsd/stsd/internal/linklocal"
)

// Harden keeps the daemon's memory, which holds the long-term key, out of
// core dumps and away from other processes: the core size limit is 0
// (children inherit it), and on Linux the process is not dumpable, so
// even processes of the same user can neither ptrace it nor read its
// /proc files (mem, environ). It also drops every capability a child could
// inherit (linklocal.DropInherited): the system unit grants CAP_NET_ADMIN
// and CAP_NET_BIND_SERVICE for link-local listeners, and mfa_process, a
// source credential_process and notify_command must get none of them.
// Call it first thing in the daemon.
func Harden() error {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return fmt.Errorf("core size limit 0: %w", err)
	}
	if err := linklocal.DropInherited(); err != nil {
		return err
	}
	return notDumpable()
}
