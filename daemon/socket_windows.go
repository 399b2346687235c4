package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/stsd/stsd/internal/winacl"
)

// AF_UNIX has no peer credentials on Windows, so the socket is private by
// its directory alone: the socket file inherits the directory's
// owner-only DACL, and only the owner (SYSTEM and Administrators in the
// system layout) can connect.

// mkdirSocketDir creates the socket's directory (and missing parents) with
// an owner-only, protected DACL.
func mkdirSocketDir(dir string, _ os.FileMode) error { return winacl.MkdirAll(dir) }

// checkSocketDir refuses a socket directory owned by someone else or whose
// DACL lets anyone else in: they could connect, or swap the socket.
func checkSocketDir(dir string, _ bool) error {
	err := winacl.Verify(dir, winacl.Rule{Purpose: winacl.Secret, Layout: winacl.LayoutOf(dir)})
	var p *winacl.Problem
	if errors.As(err, &p) {
		return fmt.Errorf("socket dir %w, or set STSD_SOCKET", p)
	}
	if err != nil {
		return fmt.Errorf("socket dir: %w", err)
	}
	return nil
}

// trustSocket refuses, on the client side, a socket another user could have
// put where the daemon listens (winacl.TrustSocket): whoever answers there
// receives MFA codes. A directory whose descriptor cannot be read is
// refused too: it cannot be judged. Such a socket is skipped like an
// absent daemon.
func trustSocket(sock string) error {
	err := winacl.TrustSocket(sock)
	var p *winacl.Problem
	switch {
	case err == nil, errors.Is(err, fs.ErrNotExist):
		return nil // absent: the dial reports no daemon
	case errors.As(err, &p):
		return &UntrustedSocketError{Socket: sock, Reason: p.Error()}
	default:
		return &UntrustedSocketError{Socket: sock, Reason: err.Error()}
	}
}

func chownGroup(string, string) error {
	return errors.New("socket_group is not supported on Windows")
}
