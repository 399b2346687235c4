//go:build !unix

package main

import "os"

// memorySignal: none outside unix.
var memorySignal os.Signal
