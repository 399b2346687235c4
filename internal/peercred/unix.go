//go:build linux || darwin

package peercred

import "net"

// UnixUID returns the uid of the process at the other end of a unix socket
// connection, from the kernel (SO_PEERCRED on Linux, LOCAL_PEERCRED on
// macOS): the peer cannot choose it.
func UnixUID(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	uid := -1
	var serr error
	if err := raw.Control(func(fd uintptr) { uid, serr = socketUID(int(fd)) }); err != nil {
		return -1, err
	}
	return uid, serr
}
