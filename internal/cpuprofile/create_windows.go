package cpuprofile

import (
	"os"

	"github.com/stsd/stsd/internal/winacl"
)

// createNew creates path, which must not exist, with an owner-only DACL;
// a final symlink is not followed.
func createNew(path string) (*os.File, error) {
	return winacl.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
}
