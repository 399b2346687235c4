//go:build !windows

package cpuprofile

import (
	"os"
	"syscall"
)

// createNew creates path, which must not exist, mode 0600. O_EXCL makes
// the kernel refuse an existing name, a symlink included; O_NOFOLLOW says
// so twice.
func createNew(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
}
