package daemon

import (
	"container/heap"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stsd/stsd/internal/clock"
	"github.com/stsd/stsd/internal/stsclient"
	"github.com/stsd/stsd/internal/wire"
)

// pairWorkers bounds the STS calls the pair scheduler makes at once.
const pairWorkers = 64

// pairDiskWriters bounds the cache entries pairs write at once: each
// write waits for fsync in a thread of its own, and the Go runtime keeps
// every thread it ever made (and its stacks) for the daemon's life.
const pairDiskWriters = 4

// pairScheduler refreshes the broker's (client, profile) pairs from one
// goroutine. A waiting pair holds no goroutine, timer or context: only its
// place in a heap of due times. A due pair is refreshed on a short-lived
// goroutine, at most pairWorkers at once, and never twice at the same
// time, so each refresh of a pair is one STS call.
type pairScheduler struct {
	clock clock.Clock
	wake  chan struct{} // buffered 1: the earliest due time moved, or a worker finished
	disk  chan struct{} // pairDiskWriters slots: see diskSlot

	mu      sync.Mutex // guards the fields that follow and every pair's slot
	queue   pairQueue  // waiting pairs, earliest due first
	running int        // refreshes under way
}

// pairSlot is a pair's state in its scheduler, guarded by the
// scheduler's mu.
type pairSlot struct {
	due     time.Time
	index   int      // in the queue; -1 when not queued
	run     *pairRun // the refresh under way, or nil
	again   bool     // a refresh was asked for during run: due again at once
	loaded  bool     // the cache was read (the first run reads it)
	stopped bool
}

// pairRun is one refresh under way.
type pairRun struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when the refresh has returned
}

func newPairScheduler(c clock.Clock) *pairScheduler {
	return &pairScheduler{clock: c, wake: make(chan struct{}, 1), disk: make(chan struct{}, pairDiskWriters)}
}

// diskSlot waits for one of the pairDiskWriters slots and returns its
// release; on a nil q (a local profile's refresher) it does nothing.
func (q *pairScheduler) diskSlot() (release func()) {
	if q == nil {
		return func() {}
	}
	q.disk <- struct{}{}
	return func() { <-q.disk }
}

func (q *pairScheduler) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// add queues a new pair, due now: its first run reads the cache and
// fetches unless the cache holds valid credentials.
func (q *pairScheduler) add(r *Refresher) {
	q.mu.Lock()
	r.slot.due = q.clock.Now()
	heap.Push(&q.queue, r)
	q.mu.Unlock()
	q.signal()
}

// kick makes r due now (`stsd clear`, a kick after a fix); a kick during
// a refresh makes one more refresh right after it.
func (q *pairScheduler) kick(r *Refresher) {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case r.slot.stopped:
		return
	case r.slot.run != nil:
		r.slot.again = true
		return
	case r.slot.index < 0: // the daemon is stopping
		return
	}
	r.slot.due = q.clock.Now()
	heap.Fix(&q.queue, r.slot.index)
	q.signal()
}

// stop takes r out for good: it is never refreshed again, and a refresh
// under way is cancelled and waited for.
func (q *pairScheduler) stop(r *Refresher) {
	q.mu.Lock()
	r.slot.stopped = true
	if r.slot.index >= 0 {
		heap.Remove(&q.queue, r.slot.index)
	}
	run := r.slot.run
	q.mu.Unlock()
	if run != nil {
		run.cancel()
		<-run.done
	}
}

// waiting is how many pairs wait for their due time.
func (q *pairScheduler) waiting() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.queue.Len()
}

// run dispatches due pairs until g stops.
func (q *pairScheduler) run(g *runGroup) {
	for {
		next, timed := q.dispatch(g)
		var fire <-chan time.Time
		var t clock.Timer
		if timed {
			t = q.clock.NewTimer(next.Sub(q.clock.Now()))
			fire = t.C()
		}
		select {
		case <-g.ctx.Done():
		case <-fire:
		case <-q.wake:
		}
		if t != nil {
			t.Stop()
		}
		if g.ctx.Err() != nil {
			return
		}
	}
}

// dispatch starts the due pairs, as many as there are free workers, and
// returns the next due time (timed false: none is queued, or every worker
// is busy and the first to finish wakes run).
func (q *pairScheduler) dispatch(g *runGroup) (next time.Time, timed bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	for q.queue.Len() > 0 && q.running < pairWorkers {
		r := q.queue[0]
		if r.slot.due.After(now) {
			return r.slot.due, true
		}
		heap.Pop(&q.queue)
		ctx, cancel := context.WithCancel(g.ctx)
		run := &pairRun{cancel: cancel, done: make(chan struct{})}
		first := !r.slot.loaded
		r.slot.run, r.slot.loaded = run, true
		q.running++
		if !g.Go(func(context.Context) { q.refresh(ctx, r, run, first) }) {
			cancel() // the daemon is stopping
			close(run.done)
			r.slot.run = nil
			q.running--
			return time.Time{}, false
		}
	}
	return time.Time{}, false
}

// refresh makes one refresh of r (on its first run: the cache, then STS
// if the cache has nothing valid) and queues r for its next one.
func (q *pairScheduler) refresh(ctx context.Context, r *Refresher, run *pairRun, first bool) {
	defer close(run.done)
	var next time.Time
	if first {
		next = r.loadCache()
	}
	if !next.After(r.clock.Now()) {
		next, _ = r.refresh(ctx, "", nil)
	}
	cancelled := ctx.Err() != nil // stopped, or the daemon is stopping
	run.cancel()
	q.mu.Lock()
	q.running--
	r.slot.run = nil
	if !r.slot.stopped && !cancelled {
		if r.slot.again {
			next, r.slot.again = q.clock.Now(), false
		}
		r.slot.due = next
		heap.Push(&q.queue, r)
	}
	q.mu.Unlock()
	q.signal()
}

// pairQueue is a min-heap of pairs by due time (container/heap).
type pairQueue []*Refresher

func (h pairQueue) Len() int           { return len(h) }
func (h pairQueue) Less(i, j int) bool { return h[i].slot.due.Before(h[j].slot.due) }
func (h pairQueue) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].slot.index, h[j].slot.index = i, j
}
func (h *pairQueue) Push(x any) {
	r := x.(*Refresher)
	r.slot.index = len(*h)
	*h = append(*h, r)
}
func (h *pairQueue) Pop() any {
	old := *h
	r := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	r.slot.index = -1
	return r
}

// pairKey names a broker pair.
type pairKey struct{ profile, client string }

// pairProfile is what every pair of one profile shares: one STS client
// and one logger.
type pairProfile struct {
	fetcher stsclient.Fetcher
	log     *slog.Logger
}

// clientRefresher is the refresher of (profile, client), made and
// scheduled now when there is none yet.
func (s *Supervisor) clientRefresher(profile, client string) (*Refresher, error) {
	cfg := s.cur().cfg
	if !brokerGrants(cfg, profile, client) {
		return nil, fmt.Errorf("%w %q for broker client %q", ErrUnknownProfile, profile, client)
	}
	key := pairKey{profile, client}
	s.clientsMu.RLock()
	r := s.clients[key]
	s.clientsMu.RUnlock()
	if r != nil {
		return r, nil
	}
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	if r := s.clients[key]; r != nil {
		return r, nil
	}
	if s.group.Load() == nil {
		return nil, fmt.Errorf("%w: the daemon is not serving", ErrUnavailable)
	}
	p := cfg.Profiles[profile]
	pp := s.pairProfiles[p.Name]
	if pp == nil {
		pp = &pairProfile{fetcher: s.o.NewFetcher(cfg, p), log: s.o.Logger.With("profile", p.Name)}
		s.pairProfiles[p.Name] = pp
	}
	r = newRefresher(refresherSpec{cfg: cfg, profile: p, client: client, fetcher: pp.fetcher, metrics: s.metrics,
		pairs: s.pairs, log: pp.log}, &s.o)
	s.pairs.add(r)
	s.clients[key] = r
	return r, nil
}

// stopClients stops the broker pairs that gone names: a profile a reload
// removed or changed, or a client it removed or no longer lets read the
// profile.
func (s *Supervisor) stopClients(gone func(profile, client string) bool) {
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	for key, r := range s.clients {
		if gone(key.profile, key.client) {
			s.pairs.stop(r)
			delete(s.clients, key)
			delete(s.pairProfiles, key.profile)
		}
	}
}

// clientStatus is every pair's status, by profile/client.
func (s *Supervisor) clientStatus() []ProfileStatus {
	s.clientsMu.RLock()
	defer s.clientsMu.RUnlock()
	if len(s.clients) == 0 {
		return nil
	}
	out := make([]ProfileStatus, 0, len(s.clients))
	for key, r := range s.clients {
		ps := r.Status()
		ps.Profile, ps.Endpoints = wire.CacheKey(key.profile, key.client), []string{"broker"}
		out = append(out, ps)
	}
	slices.SortFunc(out, func(a, b ProfileStatus) int { return strings.Compare(a.Profile, b.Profile) })
	return out
}

// pairDocument is c's ECS credentials document, as the broker serves it,
// ready-made: the broker writes it as it is. It shares one allocation
// with arn, and c's strings and arn are made to point into it, so a pair
// holds its credentials once, in one object.
func pairDocument(c *wire.Credentials, arn *string) string {
	doc := wire.ContainerDocument(*c)
	all := string(doc) + *arn
	d := all[:len(doc)]
	*arn = all[len(doc):]
	for _, f := range []*string{&c.AccessKeyID, &c.SecretAccessKey, &c.SessionToken, &c.AccountID} {
		if i := strings.Index(d, *f); *f != "" && i >= 0 { // a JSON-escaped value is not found, and stays
			*f = d[i : i+len(*f)]
		}
	}
	return d
}
