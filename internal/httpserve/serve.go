// Package httpserve runs stsd's HTTP servers: one server runner with
// bounded limits and shutdown, the access log, the one JSON error writer,
// and the Host and proxy-header checks every local endpoint applies.
package httpserve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Limits bound what one connection may cost. NewServer's servers get them
// as net/http's timeouts; Serve's watchdog (watch.go) holds a connection
// to Idle while it reads a request or waits for one and to Write while a
// handler runs, so ReadHeader and Read bound only NewServer's.
type Limits struct {
	ReadHeader, Read, Write, Idle time.Duration
	MaxHeaderBytes                int
}

// LocalLimits are the local endpoints' limits. A credential GET may wait
// for a first fetch (the daemon bounds that at 15 s), hence the write
// timeout; SDKs send a few hundred bytes of headers.
var LocalLimits = Limits{ReadHeader: 5 * time.Second, Read: 10 * time.Second, Write: 30 * time.Second,
	Idle: time.Minute, MaxHeaderBytes: 8 << 10}

// Options configure NewServer and Serve. Zero values mean defaults.
type Options struct {
	Logger *slog.Logger // default: discard
	Limits Limits       // default LocalLimits
	// ConnContext adds per-connection values (the peer) to request
	// contexts.
	ConnContext func(context.Context, net.Conn) context.Context
	// ShutdownTimeout bounds in-flight requests when Serve stops; default 5s.
	ShutdownTimeout time.Duration

	watchTick time.Duration // Serve's watchdog tick; default watchTick (tests: shorter)
}

// Logger is l, or a logger that discards when l is nil: the default of
// every endpoint's Options.
func Logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// Clock is now, or time.Now when now is nil.
func Clock(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}

func (o Options) withDefaults() Options {
	o.Logger = Logger(o.Logger)
	if o.Limits == (Limits{}) {
		o.Limits = LocalLimits
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 5 * time.Second
	}
	if o.watchTick <= 0 {
		o.watchTick = watchTick
	}
	return o
}

// NewServer is an http.Server for h with o's limits and request contexts
// derived from ctx.
func NewServer(ctx context.Context, h http.Handler, o Options) *http.Server {
	o = o.withDefaults()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: o.Limits.ReadHeader,
		ReadTimeout:       o.Limits.Read,
		WriteTimeout:      o.Limits.Write,
		IdleTimeout:       o.Limits.Idle,
		MaxHeaderBytes:    o.Limits.MaxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ConnContext:       o.ConnContext,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug),
	}
}

// Serve serves h on ln until ctx ends, then lets in-flight requests finish
// (bounded by o.ShutdownTimeout) and returns. It closes ln. On a loopback
// listener it drops every connection from a non-loopback address. Its
// connections are held to o.Limits by a watchdog (watch.go) and carry the
// counts of AccessLog's summary lines, which are all written by the time
// it returns.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, o Options) error {
	o = o.withDefaults()
	if isLoopback(ln.Addr()) {
		ln = loopbackPeers{ln, o.Logger}
	}
	srv, ts := NewServer(ctx, busyMarks(h), o), newTallies(newWatchLimits(o.Limits, o.watchTick))
	// The watchdog holds connections to Limits (watch.go), not net/http.
	srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout = 0, 0, 0, 0
	// Each connection counts its requests for AccessLog's summaries.
	conn := srv.ConnContext
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		ctx = ts.open(ctx, c)
		if conn != nil {
			ctx = conn(ctx, c)
		}
		return ctx
	}
	srv.ConnState = ts.state
	err := Run(ctx, srv, ln, o.ShutdownTimeout)
	ts.close() // the summaries of connections that outlived the shutdown
	if err != nil {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	return nil
}

// loopbackPeers drops connections whose peer is not a loopback address.
// Loopback traffic never leaves its host and namespace, but a host with
// route_localnet=1 (kube-proxy, Docker without its userland proxy)
// delivers other machines' and containers' packets to 127.0.0.1 too.
type loopbackPeers struct {
	net.Listener
	log *slog.Logger
}

func (l loopbackPeers) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil || isLoopback(c.RemoteAddr()) {
			return c, err
		}
		l.log.Warn("caller refused", "event", "caller_refused", "reason", "non_loopback_peer",
			"remote", c.RemoteAddr().String(), "local", c.LocalAddr().String())
		c.Close()
	}
}

func isLoopback(a net.Addr) bool {
	t, ok := a.(*net.TCPAddr)
	return ok && t.AddrPort().Addr().Unmap().IsLoopback()
}

// Run serves srv on ln until ctx ends or serving fails, then shuts it
// down (in-flight requests get up to shutdown) and joins its goroutine.
func Run(ctx context.Context, srv *http.Server, ln net.Listener, shutdown time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdown)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil {
		srv.Close()
	}
	if ctx.Err() != nil {
		err = <-errc // joins the Serve goroutine
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
