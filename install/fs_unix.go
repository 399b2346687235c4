//go:build !windows

package install

import (
	"io/fs"
	"os"
	"syscall"
)

const exeSuffix = ""

// quoteForbidden are characters a credential_process path may not hold:
// inside double quotes a shell expands or escapes them while shlex.split
// does not (or the reverse), and the Go SDK cuts values at " #" and " ;".
const quoteForbidden = "\"\\$`#;"

// pathSeparators are safe in an unquoted path.
const pathSeparators = "/"

// chownLike gives f the owner of like when we run as root (editing another
// user's file must not hand it to root).
func chownLike(f *os.File, like fs.FileInfo) error {
	st, ok := like.Sys().(*syscall.Stat_t)
	if !ok || os.Geteuid() != 0 {
		return nil
	}
	return f.Chown(int(st.Uid), int(st.Gid))
}

// syncDir makes a rename in dir durable; best effort.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
