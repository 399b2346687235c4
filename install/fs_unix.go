//go:build !windows

package install

const exeSuffix = ""

// quoteForbidden are characters a credential_process path may not hold:
// inside double quotes a shell expands or escapes them while shlex.split
// does not (or the reverse), and the Go SDK cuts values at " #" and " ;".
const quoteForbidden = "\"\\$`#;"

// pathSeparators are safe in an unquoted path.
const pathSeparators = "/"
