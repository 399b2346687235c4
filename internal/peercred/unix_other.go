//go:build !linux && !darwin

package peercred

import (
	"net"
	"os"
)

// UnixUID cannot learn the peer on this platform (Windows AF_UNIX has no
// peer credentials): the socket lives in an owner-only directory, so the
// peer is the owner.
func UnixUID(*net.UnixConn) (int, error) { return os.Getuid(), nil }
