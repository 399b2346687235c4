//go:build unix

package opener

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkOwner refuses a page directory another user owns or others can
// reach.
func checkOwner(dir string, fi fs.FileInfo) error {
	uid := os.Geteuid()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != uid {
		return fmt.Errorf("page directory %s is owned by uid %d, not %d: remove it", dir, st.Uid, uid)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("page directory %s is mode %04o: run chmod 700 %s", dir, perm, dir)
	}
	return nil
}
