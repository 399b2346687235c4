// Package paths resolves where stsd keeps its config, cache, state and socket.
//
// It is the one place that reads HOME/XDG variables; everything else is
// handed the paths it needs.
package paths

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
)

// Home is the user's home directory: the one place stsd asks for it.
func Home() (string, error) { return os.UserHomeDir() }

// Layout selects the per-user paths or, with System set, the system-wide ones
// (what `stsd install --system` writes into the service).
type Layout struct {
	System bool
}

// ConfigFile is the default config path: os.UserConfigDir()/stsd/config.toml,
// or the system config file.
func (l Layout) ConfigFile() (string, error) {
	if l.System {
		return filepath.Join(systemConfigDir(), "config.toml"), nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "stsd", "config.toml"), nil
}

// CacheDir is where credential cache entries live.
func (l Layout) CacheDir() (string, error) {
	if l.System {
		return systemCacheDir(), nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "stsd"), nil
}

// StateDir holds long-lived state such as ECS tokens.
func (l Layout) StateDir() (string, error) {
	if l.System {
		return systemStateDir(), nil
	}
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "stsd"), nil
	}
	home, err := Home()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "state", "stsd"), nil
}

// Socket is the control socket this layout's daemon listens on:
// $STSD_SOCKET, else $XDG_RUNTIME_DIR/stsd/stsd.sock, else
// /run/user/$UID/stsd/stsd.sock when /run/user/$UID exists, else
// os.UserCacheDir()/stsd/run/stsd.sock. The system layout uses its fixed path
// unless STSD_SOCKET is set.
func (l Layout) Socket() (string, error) {
	if s := os.Getenv("STSD_SOCKET"); s != "" {
		return s, nil
	}
	if l.System {
		return systemSocket(), nil
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(d) {
		return filepath.Join(d, "stsd", "stsd.sock"), nil
	}
	if d := runUserDir(); d != "" {
		return filepath.Join(d, "stsd", "stsd.sock"), nil
	}
	c, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(c, "stsd", "run", "stsd.sock"), nil
}

// Sockets lists the sockets a client of this layout tries, in order: the
// user socket, then the system one (only the system one for the system
// layout). Duplicates are dropped.
func (l Layout) Sockets() []string {
	if l.System {
		s, _ := l.Socket()
		return []string{s}
	}
	var out []string
	if s, err := l.Socket(); err == nil {
		out = append(out, s)
	}
	if s := systemSocket(); os.Getenv("STSD_SOCKET") == "" && (len(out) == 0 || out[0] != s) {
		out = append(out, s)
	}
	return out
}

// ReadyDir is where a user daemon keeps ready-made credential_process
// documents for its own user: "ready" beside the user socket (so in the
// owner-only runtime directory). The system layout has none (""): its
// daemon serves other users, who must pass the socket's peer check.
func (l Layout) ReadyDir() string {
	if l.System {
		return ""
	}
	s, err := l.Socket()
	if err != nil {
		return ""
	}
	return filepath.Join(filepath.Dir(s), "ready")
}

func runUserDir() string {
	uid := os.Getuid()
	if uid < 0 { // Windows
		return ""
	}
	d := filepath.Join("/run/user", strconv.Itoa(uid))
	if fi, err := os.Stat(d); err == nil && fi.IsDir() {
		return d
	}
	return ""
}

// ErrTooLong reports a socket path over the portable sun_path limit.
var ErrTooLong = errors.New("socket path longer than 103 bytes: set STSD_SOCKET to a shorter path")

// MaxSocketPath is the longest socket path accepted: macOS's sun_path is 104
// bytes including the terminating NUL.
const MaxSocketPath = 103
