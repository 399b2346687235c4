//go:build !linux && !darwin && !windows

package install

// hostInit is empty: stsd installs no service on this OS.
const hostInit Init = ""

func running(Init) bool { return false }
