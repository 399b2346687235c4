//go:build !windows

package daemon

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// mkdirSocketDir creates the socket's directory (and missing parents).
func mkdirSocketDir(dir string, mode os.FileMode) error { return os.MkdirAll(dir, mode) }

// trustSocket: on unix a client relies on the daemon's own checks
// (checkSocketDir) and on peer credentials.
func trustSocket(string) error { return nil }

// checkSocketDir refuses a socket directory owned by someone else or open to
// others: whoever controls it could swap the socket.
func checkSocketDir(dir string, groupShared bool) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("socket dir: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if ok && int(st.Uid) != os.Getuid() && st.Uid != 0 {
		return fmt.Errorf("socket dir %s is owned by uid %d: run `chown %d %s` or set STSD_SOCKET", dir, st.Uid, os.Getuid(), dir)
	}
	bad := os.FileMode(0o077)
	if groupShared {
		bad = 0o022 | 0o007
	}
	if fi.Mode().Perm()&bad != 0 {
		return fmt.Errorf("socket dir %s has mode %#o: run `chmod 700 %s`", dir, fi.Mode().Perm(), dir)
	}
	return nil
}

func chownGroup(path, group string) error {
	g, err := user.LookupGroup(group)
	if err != nil {
		return fmt.Errorf("socket_group %q: %w", group, err)
	}
	gid, _ := strconv.Atoi(g.Gid)
	if err := os.Chown(path, -1, gid); err != nil {
		return fmt.Errorf("socket_group %q: %w", group, err)
	}
	return nil
}
