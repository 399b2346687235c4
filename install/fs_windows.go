package install

import (
	"io/fs"
	"os"
)

const exeSuffix = ".exe"

// quoteForbidden are characters a credential_process path may not hold:
// cmd.exe (the Go SDK's shell here) expands % and ! even inside quotes,
// and the Go SDK cuts values at " #" and " ;".
const quoteForbidden = "\"%!#;"

// pathSeparators are safe in an unquoted path.
const pathSeparators = `\`

// chownLike does nothing: the rename keeps the directory's inherited DACL.
func chownLike(*os.File, fs.FileInfo) error { return nil }

func syncDir(string) {}
