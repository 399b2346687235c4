//go:build windows

package main

import "os"

// sigterm is nil: Windows cannot send SIGTERM to a child, so TestBinary skips.
var sigterm os.Signal
