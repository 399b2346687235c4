package ecs

import (
	"io/fs"
	"os"

	"github.com/stsd/stsd/internal/winacl"
)

// Go reports Windows modes as 0666/0444, so privacy here is the DACL
// (internal/winacl).

// mkdirPrivate creates dir (and missing parents) with an owner-only DACL.
func mkdirPrivate(dir string) error { return winacl.MkdirAll(dir) }

// createPrivate creates path, which must not exist, with an owner-only
// DACL.
func createPrivate(path string) (*os.File, error) {
	return winacl.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
}

// checkPrivate returns what is wrong with a secret file (and the command
// that fixes it), or "": it must be owned by this user, SYSTEM or
// Administrators, and its DACL must give nobody else any access.
func checkPrivate(path string, _ fs.FileInfo) string {
	err := winacl.Verify(path, winacl.Rule{Purpose: winacl.Secret, Layout: winacl.LayoutOf(path)})
	if err == nil {
		return ""
	}
	return "ecs token " + err.Error()
}
