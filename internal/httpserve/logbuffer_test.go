package httpserve

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// sink is an io.Writer that records each Write.
type sink struct {
	mu     sync.Mutex
	writes []string
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, string(p))
	return len(p), nil
}

func (s *sink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.writes, "")
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.writes)
}

// TestLogBufferFlushesWithinItsInterval: a batched line waits at most
// FlushAfter (bubble time: no real waiting), and many lines go out in
// one write.
func TestLogBufferFlushesWithinItsInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out sink
		b := NewLogBuffer(&out, LogBufferOptions{FlushAfter: 2 * time.Second})
		defer b.Close()
		for i := range 3 {
			fmt.Fprintf(b.Batched(), "line %d\n", i)
		}
		time.Sleep(2*time.Second - time.Nanosecond)
		synctest.Wait()
		if out.count() != 0 {
			t.Fatalf("written before FlushAfter: %q", out.String())
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if got := out.String(); got != "line 0\nline 1\nline 2\n" || out.count() != 1 {
			t.Fatalf("after FlushAfter: %d writes %q; want the 3 lines in one", out.count(), got)
		}
		// The next line starts a new interval.
		fmt.Fprintln(b.Batched(), "line 3")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if !strings.HasSuffix(out.String(), "line 3\n") {
			t.Fatalf("second interval: %q", out.String())
		}
	})
}

func TestLogBufferOptionsCapped(t *testing.T) {
	if got := NewLogBuffer(&sink{}, LogBufferOptions{FlushAfter: time.Hour}).o.FlushAfter; got != MaxLogFlushAfter {
		t.Errorf("FlushAfter of an hour = %s; want it capped at %s", got, MaxLogFlushAfter)
	}
	if got := NewLogBuffer(&sink{}, LogBufferOptions{}).o.FlushAfter; got != DefaultLogFlushAfter {
		t.Errorf("default FlushAfter = %s; want %s", got, DefaultLogFlushAfter)
	}
}

// TestLogBufferDirectKeepsOrder: a direct line is written at once, after
// the batched lines logged before it.
func TestLogBufferDirectKeepsOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out sink
		b := NewLogBuffer(&out, LogBufferOptions{})
		defer b.Close()
		fmt.Fprintln(b.Batched(), "access 1")
		fmt.Fprintln(b.Batched(), "access 2")
		fmt.Fprintln(b.Direct(), "refused")
		if got := out.String(); got != "access 1\naccess 2\nrefused\n" {
			t.Fatalf("after a direct line: %q", got)
		}
		fmt.Fprintln(b.Direct(), "warning")
		if got := out.String(); !strings.HasSuffix(got, "refused\nwarning\n") {
			t.Fatalf("a direct line with nothing batched: %q", got)
		}
	})
}

func TestLogBufferFlushesWhenFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out sink
		b := NewLogBuffer(&out, LogBufferOptions{Size: 64})
		defer b.Close()
		line := strings.Repeat("x", 31) + "\n"
		fmt.Fprint(b.Batched(), line)
		if out.count() != 0 {
			t.Fatal("written before the buffer filled")
		}
		fmt.Fprint(b.Batched(), line)
		if got := out.String(); got != line+line {
			t.Fatalf("full buffer: %q", got)
		}
	})
}

// TestLogBufferFlushesOnClose: Close writes what is batched; later lines
// go out at once.
func TestLogBufferFlushesOnClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out sink
		b := NewLogBuffer(&out, LogBufferOptions{})
		fmt.Fprintln(b.Batched(), "last request")
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if got := out.String(); got != "last request\n" {
			t.Fatalf("after Close: %q", got)
		}
		fmt.Fprintln(b.Batched(), "after close")
		if got := out.String(); !strings.HasSuffix(got, "after close\n") {
			t.Fatalf("a line after Close: %q", got)
		}
		time.Sleep(time.Minute) // no timer left to fire
	})
}

// TestLogBufferConcurrent: lines from many goroutines stay whole and
// none is lost (run with -race).
func TestLogBufferConcurrent(t *testing.T) {
	var out sink
	b := NewLogBuffer(&out, LogBufferOptions{Size: 512})
	access := slog.New(slog.NewTextHandler(b.Batched(), nil))
	audit := slog.New(slog.NewTextHandler(b.Direct(), nil))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				if i%50 == 0 {
					audit.Warn("refused", "g", g, "i", i)
				} else {
					access.Info("request", "g", g, "i", i)
				}
			}
		})
	}
	wg.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 8*200 {
		t.Fatalf("%d lines; want %d", len(lines), 8*200)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "time=") || bytes.Count([]byte(l), []byte("time=")) != 1 {
			t.Fatalf("torn line %q", l)
		}
	}
}
