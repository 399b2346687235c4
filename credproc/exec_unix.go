//go:build unix

package credproc

import (
	"fmt"
	"io"
	"syscall"
)

const stsdName = "stsd"

// execStsd replaces this process with stsd, so stsd's stdout, stderr (MFA
// prompts) and exit code are the caller's. It returns only on failure.
func execStsd(stderr io.Writer, path string, argv, env []string) int {
	err := syscall.Exec(path, argv, env)
	fmt.Fprintln(stderr, prefix+oneLine(fmt.Sprintf("exec %s: %v", path, err)))
	return exitFailure
}
