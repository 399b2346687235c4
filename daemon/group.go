package daemon

import (
	"context"
	"sync"
)

// runGroup is the daemon's one run group: every goroutine Serve starts
// (servers, refreshers, the manager) runs in it, ends with its context and
// is joined before Serve returns. It lives only while Serve runs; its
// context is the daemon's lifetime.
type runGroup struct {
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex // guards closed; held while a goroutine is added
	closed bool
	wg     sync.WaitGroup
}

func newRunGroup(parent context.Context) *runGroup {
	ctx, cancel := context.WithCancel(parent)
	return &runGroup{ctx: ctx, cancel: cancel}
}

// Go runs f in the group, unless the group is stopping; it reports
// whether f was started.
func (g *runGroup) Go(f func(ctx context.Context)) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.wg.Go(func() { f(g.ctx) })
	return true
}

// stop cancels every goroutine of the group and waits for them; nothing
// starts in it afterwards.
func (g *runGroup) stop() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.cancel()
	g.wg.Wait()
}
