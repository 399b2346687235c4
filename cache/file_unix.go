//go:build unix

package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// mkdirPrivate creates dir (and missing parents) mode 0700.
func mkdirPrivate(dir string) error { return os.MkdirAll(dir, 0o700) }

// checkDir refuses a cache directory another user owns or others can reach.
func checkDir(dir string, fi fs.FileInfo) error {
	uid := os.Geteuid()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != uid {
		return fmt.Errorf("%s is owned by uid %d, not %d: run chown %d %s", dir, st.Uid, uid, uid, dir)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s is mode %04o, must not be group- or world-accessible: run chmod 700 %s", dir, perm, dir)
	}
	return nil
}

// openPrivate opens an entry for reading without following a symlink and
// refuses anything but a regular 0600 file owned by the current user.
func openPrivate(p string) (*os.File, error) {
	// O_NONBLOCK: opening a FIFO planted in the directory must not hang.
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK) {
		return nil, &InvalidError{Path: p, Reason: "is a symlink"}
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	reason := ""
	uid := os.Geteuid()
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		reason = "not a regular file"
	case st != nil && int(st.Uid) != uid:
		reason = fmt.Sprintf("owned by uid %d, not %d", st.Uid, uid)
	case fi.Mode().Perm() != 0o600:
		reason = fmt.Sprintf("mode %04o, want 0600", fi.Mode().Perm())
	}
	if reason != "" {
		f.Close()
		return nil, &InvalidError{Path: p, Reason: reason}
	}
	return f, nil
}

// makePrivate gives a file stsd just created mode 0600.
func makePrivate(f *os.File) error { return f.Chmod(0o600) }

func openLockFile(p string) (*os.File, error) {
	return os.OpenFile(p, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
}

// tryLock takes an exclusive flock without waiting. flock locks belong to
// the open file description, so separate opens exclude each other within
// one process too.
func tryLock(f *os.File) (bool, error) {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.EWOULDBLOCK), errors.Is(err, unix.EINTR):
		return false, nil
	default:
		return false, err
	}
}

func unlockFile(f *os.File) { _ = unix.Flock(int(f.Fd()), unix.LOCK_UN) }

// stampOf is f's identity and change time: device, inode, size and ctime
// in nanoseconds. The kernel sets ctime on every write, chmod, chown and
// link change, and no call lets a user set it back, so an unchanged stamp
// means unchanged bytes. "" when f cannot be stat'ed.
func stampOf(f *os.File) string {
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	return stamp(fi)
}

// pathStamp is stampOf for the file at p (following symlinks, as reading
// it does); "" when there is none.
func pathStamp(p string) string {
	fi, err := os.Stat(p)
	if err != nil {
		return ""
	}
	return stamp(fi)
}

func stamp(fi os.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	sec, nsec, ok := ctime(st)
	if !ok {
		return ""
	}
	return strconv.FormatUint(uint64(st.Dev), 16) + ":" + strconv.FormatUint(uint64(st.Ino), 16) + ":" +
		strconv.FormatInt(fi.Size(), 10) + ":" + strconv.FormatInt(sec, 10) + "." + strconv.FormatInt(nsec, 10)
}
