package imds

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// proxyHeaderTimeout bounds reading a PROXY header (or the first bytes
// that show there is none) before the TLS handshake.
const proxyHeaderTimeout = 5 * time.Second

// errUntrustedProxy refuses a connection from an address outside
// trusted_proxies that starts with a PROXY header: it is claiming to speak
// for another address.
var errUntrustedProxy = errors.New("PROXY protocol header from an address outside trusted_proxies")

// brokerListener counts connections against max_connections and reads
// PROXY headers. Connections past the limit are still accepted, up to
// overflow more, and marked: the handler answers each of their requests
// with 503 and Retry-After, so a client learns to back off instead of
// seeing a reset. Past that they are closed at once.
type brokerListener struct {
	net.Listener
	max, overflow int64
	trusted       []netip.Prefix
	active        atomic.Int64
	onRefuse      func(remote, reason string) // audit of connection-level refusals
}

// Accept returns the next connection. It never blocks on the client: the
// PROXY header is read on the connection's own goroutine (first Read or
// RemoteAddr).
func (l *brokerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		n := l.active.Add(1)
		bc := &brokerConn{Conn: c, l: l, overflow: n > l.max}
		if n > l.max+l.overflow {
			bc.Close()
			l.onRefuse(c.RemoteAddr().String(), "connection_limit")
			continue
		}
		return bc, nil
	}
}

// brokerConn is one accepted connection: its PROXY header (if any) is
// read once, before the first TLS byte.
type brokerConn struct {
	net.Conn
	l        *brokerListener
	overflow bool // past max_connections: every request gets 503

	once    sync.Once
	br      *bufio.Reader
	remote  net.Addr // the client: the proxy's claim when trusted, else the peer
	proxied bool
	err     error // set when the connection must be dropped

	closeOnce sync.Once
}

// init reads the PROXY header, or the first bytes that show there is
// none, under its own deadline. http.Server calls RemoteAddr first thing
// on the connection's goroutine, before it sets its own deadlines and
// starts the TLS handshake, so clearing the deadline here clears only
// ours.
func (c *brokerConn) init() {
	c.once.Do(func() {
		c.remote = c.Conn.RemoteAddr()
		c.br = bufio.NewReaderSize(c.Conn, 512)
		c.Conn.SetReadDeadline(time.Now().Add(proxyHeaderTimeout))
		defer c.Conn.SetReadDeadline(time.Time{})
		peer := addrOf(c.remote)
		if !containsAddr(c.l.trusted, peer) {
			if yes, _ := startsWithProxyHeader(c.br); yes {
				c.err = errUntrustedProxy
				c.l.onRefuse(c.remote.String(), "untrusted_proxy_header")
			}
			return
		}
		h, err := readProxyHeader(c.br)
		switch {
		case errors.Is(err, errNoProxyHeader):
			// The proxy itself (a health check without a header).
		case err != nil:
			c.err = err
			c.l.onRefuse(c.remote.String(), "bad_proxy_header")
		case h.src.IsValid():
			c.remote = net.TCPAddrFromAddrPort(netip.AddrPortFrom(h.src.Addr().Unmap(), h.src.Port()))
			c.proxied = true
		}
	})
}

// Read reads through the buffer that looked for a PROXY header.
func (c *brokerConn) Read(b []byte) (int, error) {
	c.init()
	if c.err != nil {
		return 0, c.err
	}
	return c.br.Read(b)
}

// RemoteAddr is the client's address: the one a trusted proxy's header
// names, else the peer's.
func (c *brokerConn) RemoteAddr() net.Addr {
	c.init()
	return c.remote
}

// Close closes the connection and frees its slot.
func (c *brokerConn) Close() error {
	c.closeOnce.Do(func() { c.l.active.Add(-1) })
	return c.Conn.Close()
}

type brokerConnKey struct{}

// brokerConnContext remembers the connection for the handler. It runs on
// the accept loop, so it must not read from the connection.
func brokerConnContext(ctx context.Context, c net.Conn) context.Context {
	for {
		switch v := c.(type) {
		case *brokerConn:
			return context.WithValue(ctx, brokerConnKey{}, v)
		case interface{ NetConn() net.Conn }: // *tls.Conn
			c = v.NetConn()
		default:
			return ctx
		}
	}
}

func brokerConnOf(ctx context.Context) *brokerConn {
	c, _ := ctx.Value(brokerConnKey{}).(*brokerConn)
	return c
}

// addrOf is the IP of a net.Addr (IPv4-mapped IPv6 unmapped); invalid if
// it has none.
func addrOf(a net.Addr) netip.Addr {
	switch v := a.(type) {
	case *net.TCPAddr:
		ap := v.AddrPort()
		return ap.Addr().Unmap()
	case nil:
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func containsAddr(ps []netip.Prefix, a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
