package httpserve

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stsd/stsd/internal/redact"
)

// TallyEvery is the longest a counted request waits before its
// connection's summary line is written: every credential hand-out is in
// the log within a second of it (plus the log writer's own batching),
// whether or not the connection stays open.
const TallyEvery = time.Second

// maxTallyEntries bounds what one connection keeps between summaries:
// more distinct (method, path, status) than this write the summary at once.
const maxTallyEntries = 16

// tallies are the connections of one server (Serve) and their counts.
// Each connection gets a connTally in its context; the summary lines are
// written when the connection closes, TallyEvery after its first
// uncounted request, and when the server stops.
type tallies struct {
	afterFunc func(d time.Duration, f func()) (stop func() bool)
	// The watchdog's limits and clock (watch.go): now is the tick count
	// since epoch at the watchdog's last tick.
	limits watchLimits
	epoch  time.Time
	now    atomic.Int64
	stop   chan struct{} // closed by close: the watchdog ends
	wg     sync.WaitGroup
	// done is set once the server has stopped: a request still counted
	// after that (one the shutdown timed out on) is written at once.
	done atomic.Bool

	mu       sync.Mutex // guards the fields that follow
	conns    map[net.Conn]*connTally
	closed   bool
	watching bool // the watchdog runs
}

// newTallies returns the tallies of one server whose connections are held
// to l (no watchdog when l is zero).
func newTallies(l watchLimits) *tallies {
	return &tallies{conns: map[net.Conn]*connTally{}, limits: l, epoch: time.Now(), stop: make(chan struct{}),
		afterFunc: func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }}
}

type tallyKey struct{}

// open gives connection c a tally in ctx (an http.Server's ConnContext).
func (ts *tallies) open(ctx context.Context, c net.Conn) context.Context {
	t := &connTally{ts: ts, remote: c.RemoteAddr().String()}
	ts.mu.Lock()
	if !ts.closed {
		ts.startWatch()
		t.mark(false)
		ts.conns[c] = t
	}
	ts.mu.Unlock()
	return context.WithValue(ctx, tallyKey{}, t)
}

// state writes a connection's summary when it ends (an http.Server's
// ConnState).
func (ts *tallies) state(c net.Conn, s http.ConnState) {
	if s != http.StateClosed && s != http.StateHijacked {
		return
	}
	ts.mu.Lock()
	t := ts.conns[c]
	ts.mu.Unlock()
	if t == nil {
		return
	}
	// Flushed before it leaves conns: a close meanwhile flushes it too,
	// and so returns only once its lines are written.
	t.flush()
	ts.mu.Lock()
	delete(ts.conns, c)
	ts.mu.Unlock()
}

// close writes every connection's summary: the server has stopped.
func (ts *tallies) close() {
	ts.mu.Lock()
	conns := ts.conns
	ts.conns, ts.closed = map[net.Conn]*connTally{}, true
	ts.mu.Unlock()
	close(ts.stop)
	ts.wg.Wait()
	ts.done.Store(true)
	for _, t := range conns {
		t.flush()
	}
}

// connTally counts one connection's requests by (access log, method,
// path, status) until its summary is written.
type connTally struct {
	ts     *tallies
	remote string
	since  atomic.Int64 // tick<<1 | busy: when it last went busy or idle (mark)
	// sw is AccessLog's StatusWriter for this connection's requests,
	// which come one at a time; it is in use while ResponseWriter is set.
	sw StatusWriter

	mu      sync.Mutex // guards the fields that follow
	entries []tallyEntry
	stop    func() bool // the pending timed flush; nil when none
}

type tallyEntry struct {
	log          *accessLog
	method, path string
	status       int
	requests     int
	bytes        int64
	since        time.Time // the first request counted
}

// writer returns the StatusWriter for a request on t's connection (t may
// be nil): the connection's own, or, off Serve's connections and for an
// AccessLog inside another, one from the pool (pooled).
func (t *connTally) writer() (sw *StatusWriter, pooled bool) {
	if t != nil && t.sw.ResponseWriter == nil {
		return &t.sw, false
	}
	return statusWriters.Get().(*StatusWriter), true
}

// count adds one request. It is called by the connection's own goroutine;
// the timer and the close hook flush concurrently.
func (t *connTally) count(l *accessLog, r *http.Request, status, size int) {
	t.mu.Lock()
	for i := range t.entries {
		e := &t.entries[i]
		if e.log == l && e.status == status && e.method == r.Method && e.path == r.URL.Path {
			e.requests++
			e.bytes += int64(size)
			t.mu.Unlock()
			return
		}
	}
	t.entries = append(t.entries, tallyEntry{log: l, method: r.Method, path: r.URL.Path, status: status, requests: 1, bytes: int64(size), since: l.now()})
	full := len(t.entries) >= maxTallyEntries || t.ts.done.Load()
	if !full && t.stop == nil {
		t.stop = t.ts.afterFunc(TallyEvery, t.flush)
	}
	t.mu.Unlock()
	if full {
		t.flush()
	}
}

// flush writes a summary line per entry and starts afresh. The lines are
// written under t.mu, so a flush that finds nothing left to write (the
// server's close) returns only after a concurrent one (the timer's, the
// connection's end) has written them.
func (t *connTally) flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	entries := t.entries
	t.entries = nil
	if t.stop != nil {
		t.stop()
		t.stop = nil
	}
	for _, e := range entries {
		e.log.summary(t.remote, e)
	}
}

// summary writes e's line: how many requests of this connection got this
// answer, and since when.
func (l *accessLog) summary(remote string, e tallyEntry) {
	ctx := context.Background()
	if !l.sum.Enabled(ctx, slog.LevelInfo) {
		return
	}
	rec := slog.NewRecord(l.now(), slog.LevelInfo, "requests", 0)
	rec.AddAttrs(slog.String("method", e.method), slog.String("path", redact.Path(e.path)),
		slog.Int("status", e.status), slog.Int("requests", e.requests), slog.Int64("bytes", e.bytes),
		slog.String("remote", remote), slog.Time("since", e.since))
	_ = l.sum.Handle(ctx, rec) // a log that cannot be written fails no request
}
