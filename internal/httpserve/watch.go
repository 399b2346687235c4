package httpserve

import (
	"net"
	"net/http"
	"time"

	"github.com/stsd/stsd/internal/gcroom"
)

// Serve holds its connections to their limits with a watchdog instead of
// net/http's deadlines, which re-arm up to four runtime timers per request
// (some 5% of an endpoint's CPU under load). Each connection records, in
// a clock of whole ticks, when it last went busy (a handler started) or
// idle (the connection opened or a handler returned). Once a tick, while
// the server has connections, the watchdog closes every connection idle
// longer than Limits.Idle and every one busy longer than Limits.Write.
// Idle covers waiting for a request, reading its headers and body (so a
// client trickling bytes is closed like a silent one) and writing the
// last answer out; busy is the handler's own time. A connection is closed
// after its limit has passed, and at most two ticks after.
const watchTick = time.Second

// watchLimits are the tallies' limits in ticks: a connection is closed
// once it has been idle or busy for more ticks than these.
type watchLimits struct {
	tick       time.Duration
	idle, busy int64
}

func newWatchLimits(l Limits, tick time.Duration) watchLimits {
	ticks := func(d time.Duration) int64 { return int64((d + tick - 1) / tick) }
	return watchLimits{tick: tick, idle: ticks(l.Idle), busy: ticks(l.Write)}
}

// ticks is how many whole ticks have passed since the tallies began.
func (ts *tallies) ticks() int64 { return int64(time.Since(ts.epoch) / ts.limits.tick) }

// mark records that t went busy or idle now.
func (t *connTally) mark(busy bool) {
	m := t.ts.now.Load() << 1
	if busy {
		m |= 1
	}
	t.since.Store(m)
}

// startWatch runs the watchdog unless it runs already. ts.mu must be held.
func (ts *tallies) startWatch() {
	if ts.watching || ts.closed || ts.limits.tick <= 0 {
		return
	}
	ts.watching = true
	ts.now.Store(ts.ticks())
	gcroom.Hold() // released when the watchdog ends
	ts.wg.Go(ts.watch)
}

// watch closes the connections past their limits, once a tick, until the
// server has none left or has stopped. While it runs the collector has
// gcroom's room: the requests of a busy endpoint trigger collections as
// rarely as a bare server's would.
func (ts *tallies) watch() {
	defer gcroom.Release()
	tk := time.NewTicker(ts.limits.tick)
	defer tk.Stop()
	var over []net.Conn
	for {
		select {
		case <-tk.C:
		case <-ts.stop:
			return
		}
		now := ts.ticks()
		ts.now.Store(now)
		gcroom.Adjust()
		over = over[:0]
		ts.mu.Lock()
		if len(ts.conns) == 0 || ts.closed {
			ts.watching = false
			ts.mu.Unlock()
			return
		}
		for c, t := range ts.conns {
			m := t.since.Load()
			limit := ts.limits.idle
			if m&1 == 1 {
				limit = ts.limits.busy
			}
			if limit > 0 && now-m>>1 > limit {
				over = append(over, c)
			}
		}
		ts.mu.Unlock()
		for _, c := range over {
			c.Close() // net/http sees the error and ends the connection (ConnState closed)
		}
		clear(over)
	}
}

// busyMarks wraps h so that each request marks its connection busy while
// the handler runs.
func busyMarks(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, ok := r.Context().Value(tallyKey{}).(*connTally)
		if !ok {
			h.ServeHTTP(w, r)
			return
		}
		t.mark(true)
		defer t.mark(false)
		h.ServeHTTP(w, r)
	})
}
