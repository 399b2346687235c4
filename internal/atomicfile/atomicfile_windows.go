package atomicfile

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stsd/stsd/internal/winacl"
)

// createTemp is os.CreateTemp, except that the file is created with the
// owner-only, protected DACL of its layout (internal/winacl) instead of the
// directory's inherited one: a handle opened on an inherited DACL would
// keep its access after a later change.
func createTemp(dir, pattern string) (*os.File, error) {
	prefix, suffix, _ := strings.Cut(pattern, "*")
	for range 10000 {
		name := filepath.Join(dir, prefix+strconv.FormatUint(uint64(rand.Uint32()), 10)+suffix)
		f, err := winacl.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, &fs.PathError{Op: "createtemp", Path: filepath.Join(dir, pattern), Err: fs.ErrExist}
}

// chownLike does nothing: the file keeps the owner-only DACL it was
// created with.
func chownLike(*os.File, fs.FileInfo) error { return nil }

func syncDir(string) error { return nil }
