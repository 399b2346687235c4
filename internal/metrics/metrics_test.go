package metrics

import (
	"bytes"
	"math"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestExpositionParsesWithPrometheus(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	c := r.Counter("stsd_refreshes_total", "Refreshes by profile and result.", "profile", "result")
	h := r.Histogram("stsd_sts_request_duration_seconds", "STS call latency.", []float64{0.1, 0.5, 1}, "profile")
	r.GaugeFunc("stsd_credentials_expiry_seconds", "Seconds until expiry.", []string{"profile"}, func(emit func(float64, ...string)) {
		emit(3600, "dev")
		emit(math.Inf(1), `we"ird\name`)
	})
	c.Inc("dev", "ok")
	c.Add(2, "dev", "ok")
	c.Inc("ci", "error")
	h.Observe(0.05, "dev")
	h.Observe(0.7, "dev")
	h.Observe(3, "dev")

	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type = %q", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatalf("Prometheus parser: %v\n%s", err, rec.Body.String())
	}
	if got := fams["stsd_refreshes_total"].Metric; len(got) != 2 || got[1].GetCounter().GetValue() != 3 {
		t.Errorf("counter = %v", got)
	}
	hist := fams["stsd_sts_request_duration_seconds"].Metric[0].GetHistogram()
	if hist.GetSampleCount() != 3 || hist.GetBucket()[1].GetCumulativeCount() != 1 || hist.GetBucket()[2].GetCumulativeCount() != 2 {
		t.Errorf("histogram = %v", hist)
	}
	if g := fams["stsd_credentials_expiry_seconds"].Metric; len(g) != 2 || g[1].GetLabel()[0].GetValue() != `we"ird\name` {
		t.Errorf("gauge = %v", g)
	}
	if c.Value("dev", "ok") != 3 || c.Value("nope", "x") != 0 {
		t.Errorf("Value() wrong")
	}
}

func TestWrongLabelCountPanics(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("no panic for a wrong label count")
		}
	}()
	NewRegistry().Counter("x_total", "x", "a").Inc()
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	c := r.Counter("x_total", "x", "p")
	h := r.Histogram("y_seconds", "y", []float64{1}, "p")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				c.Inc("a")
				h.Observe(0.5, "a")
				r.WriteText(&bytes.Buffer{})
			}
		})
	}
	wg.Wait()
	if c.Value("a") != 8000 {
		t.Errorf("count = %v", c.Value("a"))
	}
}

func BenchmarkCounterInc(b *testing.B) {
	c := NewRegistry().Counter("x_total", "x", "profile", "result")
	for b.Loop() {
		c.Inc("dev", "ok")
	}
}
