//go:build windows

package config

import (
	"fmt"
	"io/fs"

	"github.com/stsd/stsd/internal/winacl"
)

// checkFileInfo returns one message per problem with the file at path, each
// with the command that fixes it. Go reports Windows modes as 0666/0444, so
// the DACL is checked instead: the owner must be you, SYSTEM or
// Administrators; config files must not be writable by anyone else, and
// secret files not readable or writable by anyone else. Administrators, like
// root on unix, may hold access (winacl.Rule.Edited).
func checkFileInfo(path string, _ fs.FileInfo, kind fileKind, system bool) []string {
	r := winacl.Rule{Purpose: winacl.Config, Layout: winacl.UserLayout, Edited: true}
	if kind == kindSecret {
		r.Purpose = winacl.Secret
	}
	if system {
		r.Layout = winacl.SystemLayout
	}
	ps, err := winacl.Problems(path, r)
	if err != nil {
		return []string{fmt.Sprintf("cannot check who may access %s: %v", path, err)}
	}
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.Error())
	}
	return out
}
