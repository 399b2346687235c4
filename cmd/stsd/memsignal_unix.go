//go:build unix

package main

import (
	"os"
	"syscall"
)

// memorySignal makes `stsd run` return its unused memory to the OS. Only
// the daemon's user and root may send it (kill(2)).
var memorySignal os.Signal = syscall.SIGUSR1
