//go:build !linux && !darwin && !windows

package install

import "os"

// hostInit is empty: stsd installs no service on this OS.
const hostInit Init = ""

func running(Init) bool { return false }

func isRoot() bool { return os.Geteuid() == 0 }
