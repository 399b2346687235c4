package cache

import (
	"errors"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/windows"

	"github.com/stsd/stsd/internal/winacl"
)

// Windows reports every file as 0666/0444, so privacy here is the DACL:
// what stsd creates gets an owner-only, protected one (internal/winacl),
// and what it reads must grant nobody else any access.

// secret is the rule cache files and the cache directory are held to.
func secret(path string) winacl.Rule {
	return winacl.Rule{Purpose: winacl.Secret, Layout: winacl.LayoutOf(path)}
}

// mkdirPrivate creates dir (and missing parents) with an owner-only DACL.
func mkdirPrivate(dir string) error { return winacl.MkdirAll(dir) }

// checkDir refuses a cache directory another user owns or whose DACL lets
// anyone else in.
func checkDir(dir string, fi fs.FileInfo) error {
	return winacl.Verify(dir, secret(dir))
}

// openPrivate opens an entry, refusing a symlink (reparse point), a
// non-regular file, or one another user owns or may read or write.
func openPrivate(p string) (*os.File, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return nil, &InvalidError{Path: p, Reason: "is a symlink"}
	}
	if !fi.Mode().IsRegular() {
		return nil, &InvalidError{Path: p, Reason: "not a regular file"}
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	err = winacl.VerifyFile(f, secret(p))
	var pr *winacl.Problem
	switch {
	case errors.As(err, &pr):
		f.Close()
		return nil, &InvalidError{Path: p, Reason: pr.What}
	case err != nil:
		f.Close()
		return nil, err
	}
	return f, nil
}

// makePrivate has nothing to do: atomicfile creates the temp file with an
// owner-only DACL.
func makePrivate(*os.File) error { return nil }

// openLockFile opens or creates (with an owner-only DACL) a lock file.
func openLockFile(p string) (*os.File, error) {
	if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return nil, errors.New("lock file is a symlink")
	}
	return winacl.OpenFile(p, os.O_RDWR|os.O_CREATE)
}

// tryLock takes an exclusive LockFileEx lock on the first byte without
// waiting. Locks belong to the handle, so separate opens exclude each other.
func tryLock(f *os.File) (bool, error) {
	var ol windows.Overlapped
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, windows.ERROR_LOCK_VIOLATION), errors.Is(err, windows.ERROR_IO_PENDING):
		return false, nil
	default:
		return false, err
	}
}

func unlockFile(f *os.File) {
	var ol windows.Overlapped
	_ = windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, &ol)
}

// stampOf: Windows offers no change time a user cannot set, so every file
// is hashed again.
func stampOf(*os.File) string { return "" }

// hasStamp: no stamps on Windows, so no file is trusted by one.
func hasStamp(string, string) bool { return false }

// readPrivate reads at most limit bytes of an entry with openPrivate's
// checks.
func readPrivate(p string, limit int) ([]byte, error) {
	f, err := openPrivate(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, int64(limit)))
}
