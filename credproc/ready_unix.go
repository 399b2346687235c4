//go:build !windows

package credproc

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/stsd/stsd/internal/wire"
)

// readReady reads the ready file name in dir, refusing anything a daemon
// of this user did not leave there for it: dir must be a directory (not a
// symlink) this user owns that nobody else may enter; the file a regular
// file (not a symlink, one link) this user owns, mode 0600, and locked by
// a live daemon. A daemon holds an exclusive flock on each of its ready
// files while it runs, so a file nobody holds was left by one that died
// (its config may have changed since): the socket and the cache, whose
// files are checked, decide instead. Plain syscalls: os.Open would start
// the runtime's poller.
func readReady(dir, name string) ([]byte, bool) {
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false
	}
	uid := uint32(os.Geteuid())
	var st unix.Stat_t
	if unix.Fstat(dfd, &st) != nil || st.Uid != uid || uint32(st.Mode)&0o077 != 0 {
		unix.Close(dfd)
		return nil, false
	}
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	unix.Close(dfd)
	if err != nil {
		return nil, false
	}
	defer unix.Close(fd)
	if unix.Fstat(fd, &st) != nil || uint32(st.Mode)&unix.S_IFMT != unix.S_IFREG || uint32(st.Mode)&0o7777 != 0o600 ||
		st.Uid != uid || uint64(st.Nlink) != 1 || st.Size <= 0 || st.Size > wire.MaxReadySize {
		return nil, false
	}
	// EWOULDBLOCK: the daemon holds it. Getting the lock (closing the fd
	// drops it) or any other answer: nobody vouches for the file.
	if err := unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB); err != unix.EWOULDBLOCK {
		return nil, false
	}
	// The daemon writes the whole file before it renames it into place,
	// so its size is final: read that much, no more.
	buf := make([]byte, st.Size)
	for n := 0; n < len(buf); {
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || m == 0 {
			return nil, false
		}
		n += m
	}
	return buf, true
}
