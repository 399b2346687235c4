package httpserve

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// tallied is an AccessLog whose requests come over one connection with a
// tally, as Serve's do; it answers 404 for /missing and 200 otherwise.
type tallied struct {
	ts   *tallies
	conn net.Conn
	ctx  context.Context
	h    http.Handler
	out  *sink
}

func newTallied(t *testing.T, level slog.Level) *tallied {
	c1, c2 := net.Pipe()
	t.Cleanup(func() { c1.Close(); c2.Close() })
	ts := newTallies(watchLimits{})
	out := &sink{}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
	h := AccessLog(Log{Logger: log, Now: time.Now, Endpoint: "imds"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			NotFound(w, r)
			return
		}
		io.WriteString(w, "credentials")
	}))
	return &tallied{ts: ts, conn: c1, ctx: ts.open(context.Background(), c1), h: h, out: out}
}

func (tl *tallied) get(path string) {
	r := httptest.NewRequest("GET", "http://127.0.0.1:9912"+path, nil).WithContext(tl.ctx)
	tl.h.ServeHTTP(httptest.NewRecorder(), r)
}

// TestTallyWrittenWithinTallyEvery: on a connection that stays open, the
// counted requests are in the log TallyEvery after the first of them, one
// line per path and status.
func TestTallyWrittenWithinTallyEvery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tl := newTallied(t, slog.LevelInfo)
		for range 3 {
			tl.get("/creds")
		}
		tl.get("/missing")
		time.Sleep(TallyEvery - time.Nanosecond)
		synctest.Wait()
		if tl.out.count() != 0 {
			t.Fatalf("summaries before TallyEvery: %q", tl.out.String())
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		got := tl.out.String()
		for _, want := range []string{
			"msg=requests event=http_requests endpoint=imds method=GET path=/creds status=200 requests=3 bytes=33 remote=pipe since=",
			"msg=requests event=http_requests endpoint=imds method=GET path=/missing status=404 requests=1 bytes=41 remote=pipe since=",
		} {
			if !strings.Contains(got, want) {
				t.Errorf("summaries lack %q:\n%s", want, got)
			}
		}
		if strings.Count(got, "\n") != 2 || strings.Contains(got, "event=http_request ") {
			t.Errorf("want exactly the two summary lines:\n%s", got)
		}
		tl.get("/creds") // a new count, a new interval
		time.Sleep(TallyEvery)
		synctest.Wait()
		if !strings.HasSuffix(tl.out.String(), "requests=1 bytes=11 remote=pipe since=2000-01-01T00:00:01.000Z\n") || strings.Count(tl.out.String(), "\n") != 3 {
			t.Errorf("second interval:\n%s", tl.out.String())
		}
	})
}

// TestTallyWrittenWhenConnectionEnds: a closed (or hijacked) connection's
// counts are written at once, and so is everything when the server stops;
// a request counted after that is written at once too.
func TestTallyWrittenWhenConnectionEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tl := newTallied(t, slog.LevelInfo)
		tl.get("/creds")
		tl.ts.state(tl.conn, http.StateIdle)
		if tl.out.count() != 0 {
			t.Fatal("written when the connection went idle")
		}
		tl.ts.state(tl.conn, http.StateClosed)
		if !strings.Contains(tl.out.String(), "path=/creds status=200 requests=1") {
			t.Fatalf("closed connection: %q", tl.out.String())
		}

		other := newTallied(t, slog.LevelInfo)
		other.get("/creds")
		other.get("/creds")
		other.ts.close()
		if !strings.Contains(other.out.String(), "requests=2") {
			t.Fatalf("stopped server: %q", other.out.String())
		}
		other.get("/missing")
		if !strings.Contains(other.out.String(), "path=/missing status=404 requests=1") {
			t.Fatalf("a request after the stop: %q", other.out.String())
		}
		time.Sleep(time.Minute) // no timer left behind
	})
}

// TestTallyDebugKeepsEveryLine: at the debug level each request also
// gets its own line.
func TestTallyDebugKeepsEveryLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tl := newTallied(t, slog.LevelDebug)
		tl.get("/creds")
		tl.get("/creds")
		if got := strings.Count(tl.out.String(), "level=DEBUG msg=request event=http_request endpoint=imds method=GET path=/creds status=200"); got != 2 {
			t.Errorf("%d request lines at debug; want 2:\n%s", got, tl.out.String())
		}
		tl.ts.close()
		if !strings.Contains(tl.out.String(), "level=INFO msg=requests event=http_requests endpoint=imds method=GET path=/creds status=200 requests=2") {
			t.Errorf("no summary at debug:\n%s", tl.out.String())
		}
	})
}

// TestTallyBounded: a connection with many distinct answers writes its
// summary before it keeps more than maxTallyEntries.
func TestTallyBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tl := newTallied(t, slog.LevelInfo)
		for i := range maxTallyEntries {
			tl.get("/p" + strings.Repeat("x", i))
		}
		if got := tl.out.count(); got != maxTallyEntries {
			t.Errorf("%d lines after %d distinct paths; want them all written", got, maxTallyEntries)
		}
	})
}

// TestServeWritesEverySummary: through Serve, every request of a
// keep-alive connection is counted, and the summaries are all written by
// the time Serve returns.
func TestServeWritesEverySummary(t *testing.T) {
	out := &sink{}
	h := AccessLog(Log{Logger: slog.New(slog.NewTextHandler(out, nil)), Now: time.Now, Endpoint: "ecs"},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h, Options{}) }()
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	const n = 20
	for range n {
		resp, err := c.Get("http://" + ln.Addr().String() + "/v1/credentials/dev")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.Contains(got, "event=http_requests endpoint=ecs method=GET path=/v1/credentials/dev status=200 requests=20 bytes=40 ") {
		t.Errorf("after Serve returned:\n%s", got)
	}
}

// gate is a writer whose first Write blocks until release is closed.
type gate struct {
	sink
	entered, release chan struct{}
	once             sync.Once
}

func (g *gate) Write(p []byte) (int, error) {
	g.once.Do(func() { close(g.entered); <-g.release })
	return g.sink.Write(p)
}

// TestCloseWaitsForAConnectionsSummary: a connection's end is writing its
// summary when the server stops; the server's close returns only once
// that line is written ("all written by the time Serve returns").
func TestCloseWaitsForAConnectionsSummary(t *testing.T) {
	g := &gate{entered: make(chan struct{}), release: make(chan struct{})}
	c1, c2 := net.Pipe()
	defer c2.Close()
	ts := newTallies(watchLimits{})
	h := AccessLog(Log{Logger: slog.New(slog.NewTextHandler(g, nil)), Now: time.Now, Endpoint: "imds"},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	ctx := ts.open(context.Background(), c1)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "http://127.0.0.1/x", nil).WithContext(ctx))
	go ts.state(c1, http.StateClosed)
	<-g.entered // the connection's summary is being written
	closed := make(chan struct{})
	go func() { ts.close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("close returned while the connection's summary was still being written")
	case <-time.After(100 * time.Millisecond):
	}
	close(g.release)
	<-closed
	if got := g.String(); !strings.Contains(got, "requests=1 ") {
		t.Errorf("summary after close: %q", got)
	}
}

// TestConnectionWriterStartsClean: the StatusWriter a connection lends
// its requests carries nothing from one to the next (each status and size
// is the request's own), and an AccessLog inside another, which finds it
// lent, gets its own.
func TestConnectionWriterStartsClean(t *testing.T) {
	type seen struct{ outer, inner int }
	var got []seen
	var inner int
	answer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			NotFound(w, r)
		case "/empty": // writes nothing: 200
		default:
			io.WriteString(w, "credentials")
		}
	})
	in := AccessLog(Log{Endpoint: "imds", OnRequest: func(_ string, status int) { inner = status }}, answer)
	h := AccessLog(Log{Endpoint: "imds", OnRequest: func(_ string, status int) { got = append(got, seen{status, inner}) }}, in)
	tl := newTallied(t, slog.LevelInfo)
	tl.h = h
	for _, p := range []string{"/missing", "/empty", "/creds", "/missing", "/empty"} {
		tl.get(p)
	}
	want := []seen{{404, 404}, {200, 200}, {200, 200}, {404, 404}, {200, 200}}
	if !slices.Equal(got, want) {
		t.Errorf("statuses (outer, inner) %v, want %v", got, want)
	}
	tally := tl.ctx.Value(tallyKey{}).(*connTally)
	if tally.sw != (StatusWriter{}) {
		t.Errorf("the connection's writer kept %+v after its request", tally.sw)
	}
}
