package servetest

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stsd/stsd/internal/httpserve"
	"github.com/stsd/stsd/internal/wire"
)

// MemBench is a server's own CPU per request, without sockets or a
// client: serve (which serves the listener it is given until that is
// closed) gets GOMAXPROCS in-memory keep-alive connections, which hand it
// b.N copies of req back to back between them and drop its answers. The
// CPUs are kept busy, so ns/op is what the server spends per request,
// net/http's parsing and writing included and the kernel's share left
// out: compare a server with its floor (MemFloor). Each connection
// reports the addresses of a real loopback TCP connection this process
// holds open, so a peer lookup finds this process's uid. The first answer
// must be 200 and end with body, and every answer must be as long as the
// first.
func MemBench(b *testing.B, serve func(net.Listener), req, body []byte) {
	b.Helper()
	n := runtime.GOMAXPROCS(0)
	ln := &memListener{conns: make(chan net.Conn, n), done: make(chan struct{})}
	served := make(chan struct{})
	go func() { defer close(served); serve(ln) }()
	defer func() { ln.Close(); <-served }()
	conns := make([]*memConn, n)
	for i := range conns {
		local, remote := loopbackPair(b)
		conns[i] = &memConn{req: req, left: b.N / n, local: local, remote: remote, closed: make(chan struct{})}
	}
	conns[0].left += b.N % n
	b.ReportAllocs()
	b.ResetTimer()
	for _, c := range conns {
		ln.conns <- c
	}
	for _, c := range conns {
		<-c.closed
	}
	b.StopTimer()
	first := conns[0].first.Bytes()
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(first)), nil)
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.HasSuffix(first, body) {
		b.Fatalf("first answer (%v): %q", err, first)
	}
	for _, c := range conns {
		if want := int64(len(first)) * int64(c.sent); c.written != want {
			b.Fatalf("%d answers wrote %d bytes, want %d (%d each)", c.sent, c.written, want, len(first))
		}
	}
}

// MemFloor serves MemBench's connections from a bare http.Server
// answering body with Content-Type contentType (no routing, checks,
// limits or log): the floor the endpoints are measured against.
func MemFloor(contentType string, body []byte) func(net.Listener) {
	return func(ln net.Listener) { http.Serve(ln, floorHandler(contentType, body)) }
}

// MemServe serves MemBench's connections with h as the daemon serves an
// endpoint (httpserve.Serve with o).
func MemServe(h http.Handler, o httpserve.Options) func(net.Listener) {
	return func(ln net.Listener) { httpserve.Serve(context.Background(), ln, h, o) }
}

// Static is a Source that hands out C for every profile without taking a
// lock, as the daemon's Supervisor does; for MemBench, where a shared
// lock would be what is measured.
type Static struct{ C wire.Credentials }

func (s Static) CredentialsAt(_ context.Context, _ string, now time.Time) (wire.Credentials, time.Time, error) {
	return s.C, now, nil
}

// loopbackPair opens a loopback TCP connection that stays open until the
// benchmark ends and returns the addresses of its accepted end.
func loopbackPair(b *testing.B) (local, remote net.Addr) {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	s, err := l.Accept()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close(); s.Close() })
	return s.LocalAddr(), s.RemoteAddr()
}

// memListener hands out MemBench's connections until it is closed.
type memListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *memListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// memConn is one in-memory keep-alive connection: its reads are left
// copies of req, then io.EOF; its writes are counted (the first answer is
// kept) and dropped. net/http never reads a connection from two
// goroutines at once, nor writes it from two.
type memConn struct {
	req           []byte
	left, sent    int // copies of req still to hand out; handed out
	off           int // bytes of the current copy handed out
	local, remote net.Addr

	first   bytes.Buffer // the first answer
	written int64
	closed  chan struct{}
	once    sync.Once
}

func (c *memConn) Read(p []byte) (int, error) {
	if c.left == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.req[c.off:])
	if c.off += n; c.off == len(c.req) {
		c.off = 0
		c.left--
		c.sent++
	}
	return n, nil
}

func (c *memConn) Write(p []byte) (int, error) {
	if c.written == 0 {
		c.first.Write(p)
	}
	c.written += int64(len(p))
	return len(p), nil
}

func (c *memConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *memConn) LocalAddr() net.Addr              { return c.local }
func (c *memConn) RemoteAddr() net.Addr             { return c.remote }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }
