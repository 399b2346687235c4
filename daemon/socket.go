package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/stsd/stsd/internal/paths"
)

// ErrAlreadyRunning is returned when a live daemon answers on the socket: a
// second daemon never displaces it.
var ErrAlreadyRunning = errors.New("another stsd is already running")

// listenSocket creates path's directory (0700, on Windows an owner-only
// DACL; owner-checked), replaces a stale socket left by a crashed daemon,
// and listens. group, when set, gets read/write access (0660) for system
// installs.
func listenSocket(path, group string) (net.Listener, error) {
	if len(path) > paths.MaxSocketPath {
		return nil, fmt.Errorf("socket %s: %w", path, paths.ErrTooLong)
	}
	dir := filepath.Dir(path)
	dirMode := os.FileMode(0o700)
	if group != "" {
		dirMode = 0o750
	}
	if err := mkdirSocketDir(dir, dirMode); err != nil {
		return nil, fmt.Errorf("socket dir: %w", err)
	}
	if err := checkSocketDir(dir, group != ""); err != nil {
		return nil, err
	}
	if _, err := os.Lstat(path); err == nil {
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("%w on %s: stop it first (stsd status shows it)", ErrAlreadyRunning, path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	}
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	mode := os.FileMode(0o600)
	if group != "" {
		mode = 0o660
		if err := chownGroup(path, group); err != nil {
			ln.Close()
			return nil, err
		}
	}
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("chmod socket: %w", err)
	}
	return ln, nil
}
