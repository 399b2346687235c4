package install

import "os"

// hostInit is the init system stsd installs with on this OS.
const hostInit = Systemd

// running reports whether i manages services here: systemd counts only
// when it is PID 1 (it creates /run/systemd/system at boot).
func running(i Init) bool {
	if i != Systemd {
		return false
	}
	fi, err := os.Stat("/run/systemd/system")
	return err == nil && fi.IsDir()
}
