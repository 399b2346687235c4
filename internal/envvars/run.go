package envvars

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
)

// Run runs argv with environment env and the given stdio, forwards the
// signals this process receives to it, and returns its exit code: its own,
// or 128+N when signal N killed it (as shells report). A command that
// cannot start returns 127 (not found) or 126 and the error.
func Run(argv, env []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if len(argv) == 0 {
		return 2, errors.New("no command")
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return startCode(err), fmt.Errorf("%s: %w", argv[0], err)
	}
	cmd := exec.Command(path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr

	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwarded...)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return startCode(err), fmt.Errorf("%s: %w", argv[0], err)
	}
	done := make(chan struct{})
	fwd := make(chan struct{})
	go func() {
		defer close(fwd)
		for {
			select {
			case s := <-sigs:
				forward(cmd.Process, s)
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	<-fwd
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee):
		return exitCode(ee), nil
	}
	return 1, err
}

func startCode(err error) int {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return 127
	}
	return 126
}
