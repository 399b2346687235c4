package install

import "os"

// hostInit is the init system stsd installs with on this OS.
const hostInit = Launchd

func running(i Init) bool { return i == Launchd }

func isRoot() bool { return os.Geteuid() == 0 }
