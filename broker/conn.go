package broker

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

// listener counts connections against max_connections and reads
// PROXY headers. Connections past the limit are still accepted, up to
// overflow more, and marked: the handler answers each of their requests
// with 503 and Retry-After, so a client learns to back off instead of
// seeing a reset. Past that they are closed at once. One client address
// (an IPv6 /64, after PROXY protocol) may hold at most perAddr of them:
// more are dropped before TLS, so one host cannot take every slot.
type listener struct {
	net.Listener
	max, overflow int64
	perAddr       int
	trusted       []netip.Prefix
	active        atomic.Int64
	onRefuse      func(remote, reason string) // audit of connection-level refusals

	mu     sync.Mutex // guards the field that follows
	byAddr map[netip.Prefix]int
}

// admit counts one more connection of key; false when key is at perAddr.
func (l *listener) admit(key netip.Prefix) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byAddr[key] >= l.perAddr {
		return false
	}
	l.byAddr[key]++
	return true
}

// release gives key's slot back.
func (l *listener) release(key netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byAddr[key]--; l.byAddr[key] <= 0 {
		delete(l.byAddr, key)
	}
}

// Accept returns the next connection. It never blocks on the client: the
// PROXY header is read on the connection's own goroutine (first Read or
// RemoteAddr).
func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		n := l.active.Add(1)
		bc := &conn{Conn: c, l: l, overflow: n > l.max}
		if n > l.max+l.overflow {
			bc.Close()
			l.onRefuse(c.RemoteAddr().String(), "connection_limit")
			continue
		}
		return bc, nil
	}
}

// conn is one accepted connection: its PROXY header (if any) is
// read once, before the first TLS byte.
type conn struct {
	net.Conn
	l        *listener
	overflow bool // past max_connections: every request gets 503

	once    sync.Once
	br      *bufio.Reader
	remote  net.Addr // the client: the proxy's claim when trusted, else the peer
	proxied bool
	err     error // set when the connection must be dropped
	addrKey netip.Prefix
	counted bool // holds a slot of addrKey

	closeOnce sync.Once
}

// init reads the PROXY header, or the first bytes that show there is
// none, under its own deadline, then takes a slot of the client's address. http.Server calls RemoteAddr first thing
// on the connection's goroutine, before it sets its own deadlines and
// starts the TLS handshake, so clearing the deadline here clears only
// ours.
func (c *conn) init() {
	c.once.Do(func() {
		defer c.admit()
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

// admit takes a slot of the client's address, or marks the connection
// for dropping.
func (c *conn) admit() {
	if c.err != nil {
		return
	}
	c.addrKey = failureKey(addrOf(c.remote))
	if !c.l.admit(c.addrKey) {
		c.err = errAddressLimit
		c.l.onRefuse(c.remote.String(), "address_connection_limit")
		return
	}
	c.counted = true
}

// errAddressLimit drops a connection past max_connections_per_address.
var errAddressLimit = errors.New("too many connections from this address")

// Read reads through the buffer that looked for a PROXY header.
func (c *conn) Read(b []byte) (int, error) {
	c.init()
	if c.err != nil {
		return 0, c.err
	}
	return c.br.Read(b)
}

// RemoteAddr is the client's address: the one a trusted proxy's header
// names, else the peer's.
func (c *conn) RemoteAddr() net.Addr {
	c.init()
	return c.remote
}

// Close closes the connection and frees its slots.
func (c *conn) Close() error {
	err := c.Conn.Close() // first: it ends a PROXY header read under way
	c.closeOnce.Do(func() {
		c.l.active.Add(-1)
		c.once.Do(func() {}) // waits for a running init; none starts after
		if c.counted {
			c.l.release(c.addrKey)
		}
	})
	return err
}

type connKey struct{}

// connContext remembers the connection for the handler. It runs on
// the accept loop, so it must not read from the connection.
func connContext(ctx context.Context, c net.Conn) context.Context {
	for {
		switch v := c.(type) {
		case *conn:
			return context.WithValue(ctx, connKey{}, v)
		case interface{ NetConn() net.Conn }: // *tls.Conn
			c = v.NetConn()
		default:
			return ctx
		}
	}
}

func connOf(ctx context.Context) *conn {
	c, _ := ctx.Value(connKey{}).(*conn)
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
