//go:build !windows

package daemon

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/stsd/stsd/internal/atomicfile"
)

// readySupported: unix daemons keep ready files.
const readySupported = true

// prepareReadyDir creates dir 0700 and refuses it unless it is a
// directory this user owns that nobody else may enter.
func prepareReadyDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory: remove it", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s is owned by uid %d: remove it", dir, st.Uid)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s has mode %#o: run `chmod 700 %s`", dir, perm, dir)
	}
	return nil
}

// writeReady writes data to path atomically, mode 0600, and returns the
// descriptor that holds an exclusive flock on the new file: taken on a
// duplicate of the temp file's descriptor before the rename, so no reader
// ever sees the file unlocked while this daemon lives, and the lock
// outlives atomicfile closing its own descriptor (flock belongs to the
// open file description).
func writeReady(path string, data []byte) (io.Closer, error) {
	lock := -1
	err := atomicfile.Write(path, data, func(f *os.File) error {
		if err := f.Chmod(0o600); err != nil {
			return err
		}
		rc, err := f.SyscallConn()
		if err != nil {
			return err
		}
		var derr error
		if err := rc.Control(func(fd uintptr) { lock, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
			return err
		}
		if derr != nil {
			return derr
		}
		return unix.Flock(lock, unix.LOCK_EX|unix.LOCK_NB)
	})
	if err != nil {
		if lock >= 0 {
			unix.Close(lock)
		}
		return nil, err
	}
	return heldLock(lock), nil
}

// heldLock is a descriptor kept open for the flock it holds.
type heldLock int

func (l heldLock) Close() error { return unix.Close(int(l)) }
