package install

// hostInit is the init system stsd installs with on this OS.
const hostInit = Launchd

func running(i Init) bool { return i == Launchd }
