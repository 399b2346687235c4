package install

import "github.com/stsd/stsd/internal/winacl"

const exeSuffix = ".exe"

// quoteForbidden are characters a credential_process path may not hold:
// cmd.exe (the Go SDK's shell here) expands % and ! even inside quotes,
// and the Go SDK cuts values at " #" and " ;".
const quoteForbidden = "\"%!#;"

// pathSeparators are safe in an unquoted path.
const pathSeparators = `\`

// checkRootPath: the owner-only DACLs of the user's profile directory keep
// other users out of its files; there is no root to trick.
func checkRootPath(string) error { return nil }

// mkdirPrivate creates a directory for the user's files (and missing
// parents) with an owner-only, protected DACL.
func mkdirPrivate(dir string) error { return winacl.MkdirAll(dir) }
