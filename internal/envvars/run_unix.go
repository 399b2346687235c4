//go:build !windows

package envvars

import (
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// forwarded are the signals Run passes on. Job-control signals (SIGTSTP,
// SIGCONT) keep their default: the terminal stops and resumes the whole
// process group.
var forwarded = []os.Signal{
	syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2,
}

// forward passes s to the child, except a terminal's Ctrl-C or Ctrl-\
// while we are in its foreground group: the terminal sent that to the
// child as well, and a second one would make many programs quit hard.
func forward(p *os.Process, s os.Signal) {
	if (s == syscall.SIGINT || s == syscall.SIGQUIT) && foreground() {
		return
	}
	_ = p.Signal(s)
}

// foreground reports whether this process group owns the controlling
// terminal.
func foreground() bool {
	f, err := os.Open("/dev/tty")
	if err != nil {
		return false
	}
	defer f.Close()
	pgrp, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCGPGRP)
	return err == nil && pgrp == unix.Getpgrp()
}

func exitCode(ee *exec.ExitError) int {
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ee.ExitCode()
}
