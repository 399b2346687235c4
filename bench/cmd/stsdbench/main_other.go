//go:build !linux

// Command stsdbench is `make bench`; it runs on Linux only (it reads
// /proc and pins processes to CPUs).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "stsdbench: Linux only")
	os.Exit(2)
}
