//go:build unix

package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
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
	owner := os.Geteuid()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		owner = int(st.Uid)
	}
	if reason := privateProblem(fi.Mode().IsRegular(), fi.Mode().Perm(), owner); reason != "" {
		f.Close()
		return nil, &InvalidError{Path: p, Reason: reason}
	}
	return f, nil
}

// privateProblem says why a file may not be read as a cache file ("" when
// it may): it must be a regular 0600 file owned by the current user.
func privateProblem(regular bool, perm fs.FileMode, owner int) string {
	uid := os.Geteuid()
	switch {
	case !regular:
		return "not a regular file"
	case owner != uid:
		return fmt.Sprintf("owned by uid %d, not %d", owner, uid)
	case perm != 0o600:
		return fmt.Sprintf("mode %04o, want 0600", perm)
	}
	return ""
}

// readPrivate reads at most limit bytes of an entry with openPrivate's
// checks, through plain syscalls: an os.File would start the runtime's
// poller (an epoll instance, an eventfd and their registration), a cost
// the small binary pays on every run.
func readPrivate(p string, limit int) ([]byte, error) {
	fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	for err == syscall.EINTR {
		fd, err = syscall.Open(p, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	}
	if err == syscall.ELOOP || err == syscall.EMLINK {
		return nil, &InvalidError{Path: p, Reason: "is a symlink"}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: p, Err: err}
	}
	regular := uint32(st.Mode)&syscall.S_IFMT == syscall.S_IFREG
	if reason := privateProblem(regular, fs.FileMode(st.Mode&0o777), int(st.Uid)); reason != "" {
		return nil, &InvalidError{Path: p, Reason: reason}
	}
	buf := make([]byte, 0, min(max(st.Size, 0), int64(limit))+1)
	for len(buf) < limit {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, 4096)
		}
		n, err := syscall.Read(fd, buf[len(buf):min(cap(buf), limit)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: p, Err: err}
		}
		if n == 0 {
			break
		}
		buf = buf[:len(buf)+n]
	}
	return buf, nil
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

// hasStamp reports whether the file at p (following symlinks, as reading
// it does) has stamp want, without allocating: the small binary checks
// every recorded file this way on every run.
func hasStamp(p, want string) bool {
	var st syscall.Stat_t
	if want == "" || syscall.Stat(p, &st) != nil {
		return false
	}
	var buf [96]byte
	b, ok := appendStamp(buf[:0], &st)
	return ok && string(b) == want
}

func stamp(fi os.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	b, ok := appendStamp(nil, st)
	if !ok {
		return ""
	}
	return string(b)
}

// appendStamp appends st's stamp, dev:ino:size:sec.nsec (hex, hex,
// decimal, decimal ctime); false where ctime is unknown.
func appendStamp(b []byte, st *syscall.Stat_t) ([]byte, bool) {
	sec, nsec, ok := ctime(st)
	if !ok {
		return b, false
	}
	b = strconv.AppendUint(b, uint64(st.Dev), 16)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(st.Ino), 16)
	b = append(b, ':')
	b = strconv.AppendInt(b, st.Size, 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, sec, 10)
	b = append(b, '.')
	return strconv.AppendInt(b, nsec, 10), true
}
