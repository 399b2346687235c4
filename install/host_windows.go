package install

// hostInit is the init system stsd installs with on this OS.
const hostInit = Windows

func running(i Init) bool { return i == Windows }

// isRoot is left to the SCM, which refuses a non-elevated caller.
func isRoot() bool { return true }
