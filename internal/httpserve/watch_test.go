package httpserve

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// The watchdog's tests run Serve with 50 ms ticks and limits of a few
// hundred milliseconds.
const testTick = 50 * time.Millisecond

var testLimits = Limits{Idle: 300 * time.Millisecond, Write: 300 * time.Millisecond, MaxHeaderBytes: 8 << 10}

// watched serves h as Serve does, with limits l, and returns its
// address; the server stops when the test ends.
func watched(t *testing.T, h http.Handler, l Limits) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ln, h, Options{Limits: l, watchTick: testTick, ShutdownTimeout: time.Second})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return ln.Addr().String()
}

// dialWatched serves h as watched does and opens a connection to it,
// closed when the test ends; it returns the connection and the moment
// just before it was dialled.
func dialWatched(t *testing.T, h http.Handler, l Limits) (net.Conn, time.Time) {
	t.Helper()
	addr := watched(t, h, l)
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, start
}

// closedWithin reads c until the server closes it and returns how long
// that took; it fails the test if c is still open after max.
func closedWithin(t *testing.T, c net.Conn, start time.Time, max time.Duration) time.Duration {
	t.Helper()
	c.SetReadDeadline(start.Add(max))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v", max)
	}
	return time.Since(start)
}

var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })

// A connection that never sends a request is closed once it has been idle
// longer than Limits.Idle, and not before.
func TestWatchdogClosesSilentConnection(t *testing.T) {
	c, start := dialWatched(t, ok, testLimits)
	if d := closedWithin(t, c, start, testLimits.Idle+3*testTick+time.Second); d < testLimits.Idle {
		t.Errorf("closed after %v, before the idle limit %v", d, testLimits.Idle)
	}
}

// A client trickling a request's headers a byte at a time (slowloris) is
// closed like a silent one: reading a request counts as idle.
func TestWatchdogClosesTricklingHeaders(t *testing.T) {
	c, start := dialWatched(t, ok, testLimits)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		req := "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + strings.Repeat("a", 4000)
		for i := 0; i < len(req); i++ {
			select {
			case <-stop:
				return
			case <-time.After(testTick / 5):
			}
			if _, err := c.Write([]byte{req[i]}); err != nil {
				return
			}
		}
	}()
	if d := closedWithin(t, c, start, testLimits.Idle+3*testTick+time.Second); d < testLimits.Idle {
		t.Errorf("closed after %v, before the idle limit %v", d, testLimits.Idle)
	}
}

// A handler that runs past Limits.Write loses its connection; the client
// gets no answer.
func TestWatchdogClosesBusyConnection(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	c, _ := dialWatched(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done(): // the watchdog closed the connection
		}
	}), testLimits)
	start := time.Now()
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	if d := closedWithin(t, c, start, testLimits.Write+3*testTick+time.Second); d < testLimits.Write {
		t.Errorf("closed after %v, before the write limit %v", d, testLimits.Write)
	}
}

// A keep-alive connection that keeps asking stays open however long it
// lives: each answer starts its idle time afresh. (An idle limit of a
// second, so a loaded machine's pauses between two requests stay under it.)
func TestWatchdogKeepsBusyClients(t *testing.T) {
	l := testLimits
	l.Idle = time.Second
	c, _ := dialWatched(t, ok, l)
	br := bufio.NewReader(c)
	for end := time.Now().Add(5 * testLimits.Idle); time.Now().Before(end); time.Sleep(testTick) {
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("the connection was closed while in use: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// The watchdog runs only while the server has connections.
// gcPercent reads the runtime's GC percentage.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// TestWatchdogStopsWithoutConnections: the watchdog, and with it the
// collector's extra room (gcroom), ends once the server has no connection.
func TestWatchdogStopsWithoutConnections(t *testing.T) {
	_, userGOGC := os.LookupEnv("GOGC")
	runtime.GC() // something live for gcroom to make room above
	if p := gcPercent(); p != 100 && !userGOGC {
		t.Fatalf("GC percent %d before any connection, want 100", p)
	}
	ts := newTallies(newWatchLimits(testLimits, testTick))
	c1, c2 := net.Pipe()
	defer c2.Close()
	ts.open(context.Background(), c1)
	if p := gcPercent(); p <= 100 && !userGOGC {
		t.Errorf("GC percent %d with a connection open, want > 100 (gcroom held)", p)
	}
	ts.state(c1, http.StateClosed)
	deadline := time.Now().Add(5 * time.Second)
	for {
		ts.mu.Lock()
		watching := ts.watching
		ts.mu.Unlock()
		if !watching {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the watchdog still runs without connections")
		}
		time.Sleep(testTick)
	}
	ts.close()
	if p := gcPercent(); p != 100 && !userGOGC {
		t.Errorf("GC percent %d after the watchdog ended, want 100 back", p)
	}
}
