package imds

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"sync"
)

// ErrNoPeer means the request did not come over a connection Serve
// accepted, so its peer cannot be looked up.
var ErrNoPeer = errors.New("peer unknown: not a connection accepted by imds.Serve")

type connKey struct{}

// connInfo is one accepted connection; its peer uid is looked up once, on
// the first request (not in the accept loop).
type connInfo struct {
	local, remote netip.AddrPort
	once          sync.Once
	uid           int
	err           error
}

// connContext records the connection's addresses for PeerUID.
func connContext(ctx context.Context, c net.Conn) context.Context {
	ci := &connInfo{}
	if a, ok := c.LocalAddr().(*net.TCPAddr); ok {
		ci.local = a.AddrPort()
	}
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		ci.remote = a.AddrPort()
	}
	return context.WithValue(ctx, connKey{}, ci)
}

// PeerUID returns the uid that owns the client end of r's TCP connection
// (Linux: /proc/net/tcp and tcp6). It works for connections accepted by
// Serve.
func PeerUID(r *http.Request) (int, error) {
	ci, ok := r.Context().Value(connKey{}).(*connInfo)
	if !ok || !ci.local.IsValid() || !ci.remote.IsValid() {
		return -1, ErrNoPeer
	}
	ci.once.Do(func() { ci.uid, ci.err = lookupPeer(ci.local, ci.remote) })
	return ci.uid, ci.err
}
