package credproc

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
)

const stsdName = "stsd.exe"

// execStsd runs stsd with this process's stdio and returns its exit code:
// Windows has no exec(2).
func execStsd(stderr io.Writer, path string, argv, env []string) int {
	cmd := exec.Command(path, argv[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		fmt.Fprintln(stderr, prefix+oneLine(fmt.Sprintf("run %s: %v", path, err)))
		return exitFailure
	}
	return exitOK
}
