package imds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server limits. The credential GET may wait for a first fetch (the
// daemon bounds that at 15 s), hence the write timeout.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = time.Minute
	maxHeaderBytes    = 8 << 10 // SDKs send a few hundred bytes
)

// newServer is an http.Server with stsd's limits, request contexts derived
// from ctx, and the peer lookup wired in.
func newServer(ctx context.Context, h http.Handler, o Options) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ConnContext:       connContext,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug),
	}
}

// Serve serves h on ln until ctx ends, then lets in-flight requests finish
// (bounded by o.ShutdownTimeout) and returns. It closes ln. On a loopback
// listener it drops every connection from a non-loopback address.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, o Options) error {
	o = o.withDefaults()
	if isLoopback(ln.Addr()) {
		ln = loopbackPeers{ln, o.Logger}
	}
	if err := runServer(ctx, newServer(ctx, h, o), ln, o.ShutdownTimeout); err != nil {
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

// runServer serves srv on ln until ctx ends or serving fails, then shuts
// it down (in-flight requests get up to shutdown) and joins its goroutine.
func runServer(ctx context.Context, srv *http.Server, ln net.Listener, shutdown time.Duration) error {
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

// Ephemeral is an ECS endpoint serving one profile with one token on
// 127.0.0.1 (JS fromContainerMetadata accepts no other host), for
// `stsd exec` when no daemon serves the profile.
type Ephemeral struct {
	URL   string // the full credentials URL
	Token string

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// StartEphemeral listens on 127.0.0.1:0 and serves p from src until Close.
func StartEphemeral(src Source, p Profile, o Options) (*Ephemeral, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("ephemeral ecs endpoint: %w", err)
	}
	tokens := NewTokens(o.Now)
	tok := tokens.Issue(p.Name, 0)
	ctx, cancel := context.WithCancel(context.Background())
	e := &Ephemeral{
		URL:    "http://" + ln.Addr().String() + ECSPath(p.Name),
		Token:  tok.Token,
		cancel: cancel,
	}
	h := NewECS(src, []Profile{p}, tokens, o)
	e.wg.Go(func() { Serve(ctx, ln, h, o) })
	return e, nil
}

// Close stops the endpoint and waits for it.
func (e *Ephemeral) Close() {
	e.cancel()
	e.wg.Wait()
}
