package metrics

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

// TestCounterWith: a series' handle and the family's own Inc count the
// same series, concurrently, and the exposition shows the sum.
func TestCounterWith(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	c := r.Counter("stsd_endpoint_requests_total", "x", "endpoint", "status")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			h := c.With("imds", "200")
			for range 1000 {
				if g%2 == 0 {
					h.Inc()
				} else {
					c.Inc("imds", "200")
				}
				r.WriteText(&bytes.Buffer{})
			}
		})
	}
	wg.Wait()
	if got := c.Value("imds", "200"); got != 8000 {
		t.Errorf("count = %v; want 8000", got)
	}
	var out bytes.Buffer
	r.WriteText(&out)
	if !strings.Contains(out.String(), `stsd_endpoint_requests_total{endpoint="imds",status="200"} 8000`) {
		t.Errorf("exposition:\n%s", out.String())
	}
}

func BenchmarkCounterWithInc(b *testing.B) {
	h := NewRegistry().Counter("x_total", "x", "endpoint", "status").With("imds", "200")
	b.ReportAllocs()
	for b.Loop() {
		h.Inc()
	}
}
