//go:build !windows

package install

import "os"

const exeSuffix = ""

// quoteForbidden are characters a credential_process path may not hold:
// inside double quotes a shell expands or escapes them while shlex.split
// does not (or the reverse), and the Go SDK cuts values at " #" and " ;".
const quoteForbidden = "\"\\$`#;"

// pathSeparators are safe in an unquoted path.
const pathSeparators = "/"

// mkdirPrivate creates a directory for the user's files (and missing
// parents) mode 0700.
func mkdirPrivate(dir string) error { return os.MkdirAll(dir, 0o700) }
