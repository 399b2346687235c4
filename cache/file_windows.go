package cache

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Windows reports every file as 0666/0444, so the checks here are on the
// owner SID. TODO(stsd): give created files an owner-only DACL and check it
// (design.md "Windows").

// checkDir refuses a cache directory another user owns.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	ok, err := ownedByMe(dir)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s is owned by another user: take ownership (takeown /f %s) or remove it", dir, dir)
	}
	return nil
}

// openPrivate opens an entry, refusing a symlink (reparse point), a
// non-regular file, or one another user owns.
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
	ok, err := ownedByMe(p)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &InvalidError{Path: p, Reason: "owned by another user"}
	}
	return os.Open(p)
}

// ownedByMe reports whether p's owner is this process's user or its
// token's default owner (BUILTIN\Administrators when elevated).
func ownedByMe(p string) (bool, error) {
	sd, err := windows.GetNamedSecurityInfo(p, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION)
	if err != nil {
		return false, err
	}
	owner, _, err := sd.Owner()
	if err != nil {
		return false, err
	}
	tok := windows.GetCurrentProcessToken()
	u, err := tok.GetTokenUser()
	if err != nil {
		return false, err
	}
	if owner.Equals(u.User.Sid) {
		return true, nil
	}
	if def, err := tokenOwner(tok); err == nil && owner.Equals(def) {
		return true, nil
	}
	return false, nil
}

func tokenOwner(t windows.Token) (*windows.SID, error) {
	var n uint32
	_ = windows.GetTokenInformation(t, windows.TokenOwner, nil, 0, &n)
	if n == 0 {
		return nil, errors.New("token owner: empty")
	}
	buf := make([]byte, n)
	if err := windows.GetTokenInformation(t, windows.TokenOwner, &buf[0], n, &n); err != nil {
		return nil, err
	}
	// TOKEN_OWNER is a single PSID pointing into buf.
	sid := *(**windows.SID)(unsafe.Pointer(&buf[0]))
	return sid.Copy()
}

func makePrivate(*os.File) error { return nil }

func openLockFile(p string) (*os.File, error) {
	if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return nil, errors.New("lock file is a symlink")
	}
	return os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
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
