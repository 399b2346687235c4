//go:build unix

package main

import (
	"os"
	"syscall"
)

// sigterm stops the binary in TestBinary.
var sigterm os.Signal = syscall.SIGTERM
