//go:build unix

package keys

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// privateDir creates dir 0700 when absent and refuses one another user
// owns or others may enter.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch uid := os.Geteuid(); {
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	case st != nil && int(st.Uid) != uid:
		return fmt.Errorf("%s is owned by uid %d, not %d: run chown %d %s", dir, st.Uid, uid, uid, dir)
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("%s is mode %04o, must not be group- or world-accessible: run chmod 700 %s", dir, fi.Mode().Perm(), dir)
	}
	return nil
}

// openPrivate opens a secret file for reading without following a
// symlink, refusing anything but a regular file of ours that nobody else
// may read or write.
func openPrivate(p string) (*os.File, error) {
	// O_NONBLOCK: a FIFO planted here must not hang the open.
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK) {
		return nil, fmt.Errorf("%s is a symlink: remove it", p)
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch uid := os.Geteuid(); {
	case !fi.Mode().IsRegular():
		err = fmt.Errorf("%s is not a regular file", p)
	case st != nil && int(st.Uid) != uid:
		err = fmt.Errorf("%s is owned by uid %d, not %d: remove it", p, st.Uid, uid)
	case fi.Mode().Perm()&0o077 != 0:
		err = fmt.Errorf("%s is mode %04o: run chmod 600 %s", p, fi.Mode().Perm(), p)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// makePrivate gives a new state file mode 0600 before anything is
// written to it.
func makePrivate(f *os.File) error { return f.Chmod(0o600) }
