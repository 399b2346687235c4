package keys

import (
	"fmt"
	"os"

	"github.com/stsd/stsd/internal/winacl"
)

// Windows reports every file as 0666: privacy is the DACL, owner-only and
// protected on what stsd creates, and checked on what it reads.

func secretRule(path string) winacl.Rule {
	return winacl.Rule{Purpose: winacl.Secret, Layout: winacl.LayoutOf(path)}
}

// privateDir creates dir with an owner-only DACL and refuses one that
// lets anyone else in.
func privateDir(dir string) error {
	if err := winacl.MkdirAll(dir); err != nil {
		return err
	}
	return winacl.Verify(dir, secretRule(dir))
}

// openPrivate opens a secret file, refusing a symlink, a non-regular file
// or one another user owns or may read or write.
func openPrivate(p string) (*os.File, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&os.ModeSymlink != 0 || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file: remove it", p)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	if err := winacl.VerifyFile(f, secretRule(p)); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// makePrivate has nothing to do: atomicfile creates the temp file with an
// owner-only DACL.
func makePrivate(*os.File) error { return nil }
