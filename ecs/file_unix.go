//go:build !windows

package ecs

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// mkdirPrivate creates dir (and missing parents) mode 0700.
func mkdirPrivate(dir string) error { return os.MkdirAll(dir, 0o700) }

// createPrivate creates path, which must not exist, mode 0600.
func createPrivate(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
}

// checkPrivate returns what is wrong with a secret file (and the command
// that fixes it), or "": it must be owned by this user or root and not be
// group- or world-accessible.
func checkPrivate(path string, fi fs.FileInfo) string {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if owner := int(st.Uid); owner != os.Getuid() && owner != 0 {
			return fmt.Sprintf("ecs token %s is owned by uid %d, not by this user (%d): remove it and stsd writes a new one", path, owner, os.Getuid())
		}
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Sprintf("ecs token %s holds a secret but has mode %04o; run: chmod 600 %s", path, perm, path)
	}
	return ""
}
