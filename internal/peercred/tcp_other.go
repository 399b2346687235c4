//go:build !linux

package peercred

import (
	"errors"
	"net/netip"
)

// Supported: this OS has no way to tell which user owns the other end of
// a TCP connection, so there is no caller check; the config requires
// imds_any_local_user = true for imds_listen here, and ECS relies on its
// tokens.
const Supported = false

func lookupPeer(_, _ netip.AddrPort) (int, error) {
	return -1, errors.New("peer lookup: not supported on this OS")
}

// Listening: no socket tables to read here.
func Listening(netip.AddrPort) bool { return false }

// Listeners: no socket tables to read here.
func Listeners() []netip.AddrPort { return nil }
