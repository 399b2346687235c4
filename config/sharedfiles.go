package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/stsd/stsd/internal/paths"
)

// FileProblem is one reason stsd refuses to read a file, with the command
// that fixes it in Msg.
type FileProblem struct {
	Path string
	Msg  string
}

// SharedFileProblems checks the AWS shared files that source keys are read
// from: the credentials file (paths.AWSCredentialsFile) holds long-term
// keys, so it must be private (owned by this user or root, not group- or
// world-readable or writable; the system layout allows group read); the AWS
// config file can name a credential_process that stsd would run, so it
// must be owned by this user or root and not group- or world-writable. A
// file that does not exist is no problem here (reading it fails later with
// its own message).
func (c *Config) SharedFileProblems() []FileProblem {
	var out []FileProblem
	check := func(path string, kind fileKind) {
		fi, err := os.Stat(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			out = append(out, FileProblem{path, fmt.Sprintf("cannot read %s: %v", path, unwrapPath(err))})
		default:
			for _, msg := range checkFileInfo(path, fi, kind, c.System) {
				out = append(out, FileProblem{path, msg})
			}
		}
	}
	check(paths.AWSCredentialsFile(c.CredentialsFile), kindSecret)
	check(paths.AWSConfigFile(), kindConfig)
	return out
}
