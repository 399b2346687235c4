//go:build !windows

package install

import "os"

// isRoot reports whether we may install a system service.
func isRoot() bool { return os.Geteuid() == 0 }
