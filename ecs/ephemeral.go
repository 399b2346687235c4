package ecs

import (
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/stsd/stsd/internal/httpserve"
	"github.com/stsd/stsd/internal/peercred"
)

// Ephemeral is an endpoint serving one profile with one token on
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
		URL:    "http://" + ln.Addr().String() + Path(p.Name),
		Token:  tok.Token,
		cancel: cancel,
	}
	h := New(src, []Profile{p}, tokens, o)
	so := httpserve.Options{Logger: o.Logger, ShutdownTimeout: o.ShutdownTimeout, ConnContext: peercred.ConnContext}
	e.wg.Go(func() { httpserve.Serve(ctx, ln, h, so) })
	return e, nil
}

// Close stops the endpoint and waits for it.
func (e *Ephemeral) Close() {
	e.cancel()
	e.wg.Wait()
}
