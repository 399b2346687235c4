//go:build !windows

package install

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

const exeSuffix = ""

// quoteForbidden are characters a credential_process path may not hold:
// inside double quotes a shell expands or escapes them while shlex.split
// does not (or the reverse), and the Go SDK cuts values at " #" and " ;".
const quoteForbidden = "\"\\$`#;"

// pathSeparators are safe in an unquoted path.
const pathSeparators = "/"

// checkRootPath refuses, when running as root, to edit path unless every
// component of it, and of where its symlinks lead, is root's and not
// writable by anyone else (a sticky directory aside): otherwise another
// user could point the edit at a file of root's, or swap the file mid-way.
func checkRootPath(path string) error {
	if !isRoot() {
		return nil
	}
	// When the file does not exist yet, realPath is path: its directories
	// count.
	for _, p := range []string{path, realPath(path)} {
		for c := filepath.Clean(p); ; c = filepath.Dir(c) {
			if err := rootOnly(c); err != nil {
				return fmt.Errorf("refusing to edit %s as root: %w; run configure-profile as the user whose file it is (sudo -u USER stsd configure-profile …)", path, err)
			}
			if c == filepath.Dir(c) {
				break
			}
		}
	}
	return nil
}

// rootOnly checks one path component (a missing one is fine: nothing can
// be planted through it that a later component would not show).
func rootOnly(p string) error {
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("cannot tell who owns %s", p)
	}
	if st.Uid != 0 {
		return fmt.Errorf("%s is owned by uid %d", p, st.Uid)
	}
	m := fi.Mode()
	sticky := m.IsDir() && m&fs.ModeSticky != 0
	if m&fs.ModeSymlink == 0 && m.Perm()&0o022 != 0 && !sticky {
		return fmt.Errorf("%s is writable by others (mode %04o)", p, m.Perm())
	}
	return nil
}

// mkdirPrivate creates a directory for the user's files (and missing
// parents) mode 0700.
func mkdirPrivate(dir string) error { return os.MkdirAll(dir, 0o700) }
