// Package metrics keeps stsd's counters, gauges and histograms and writes
// them in the Prometheus text exposition format (version 0.0.4).
//
// It is a few hundred lines of standard library instead of
// prometheus/client_golang: stsd exports a dozen series, needs no
// protobuf, push or process collectors, and every megabyte of RSS counts
// on a per-host daemon. Tests check the output with Prometheus's own
// parser.
package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Registry holds metric families in registration order.
type Registry struct {
	mu       sync.Mutex // guards families
	families []family
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry { return &Registry{} }

type family interface {
	write(w *bufio.Writer)
}

func (r *Registry) add(f family) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.families = append(r.families, f)
}

// WriteText writes every family in the Prometheus text format.
func (r *Registry) WriteText(w io.Writer) error {
	r.mu.Lock()
	fams := slices.Clone(r.families)
	r.mu.Unlock()
	bw := bufio.NewWriter(w)
	for _, f := range fams {
		f.write(bw)
	}
	return bw.Flush()
}

// Handler serves WriteText.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		r.WriteText(w)
	})
}

// header describes a family.
type header struct {
	name, help, kind string
	labels           []string
}

func (h *header) writeHeader(w *bufio.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", h.name, escapeHelp(h.help), h.name, h.kind)
}

// series formats name{l1="v1",...} with extra appended labels.
func (h *header) series(name string, values []string, extra ...string) string {
	var b strings.Builder
	b.WriteString(name)
	n := len(h.labels) + len(extra)/2
	if n == 0 {
		return b.String()
	}
	b.WriteByte('{')
	first := true
	put := func(k, v string) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(k)
		b.WriteString(`="`)
		b.WriteString(escapeValue(v))
		b.WriteByte('"')
	}
	for i, l := range h.labels {
		put(l, values[i])
	}
	for i := 0; i+1 < len(extra); i += 2 {
		put(extra[i], extra[i+1])
	}
	b.WriteByte('}')
	return b.String()
}

func (h *header) check(values []string) {
	if len(values) != len(h.labels) {
		panic(fmt.Sprintf("metrics: %s takes %d label values, got %d", h.name, len(h.labels), len(values)))
	}
}

// seriesSet holds one metric's series by label values.
type seriesSet[T any] struct {
	mu     sync.Mutex // guards values
	values map[string]*T
}

// update runs do on the series of values under the lock, making it with
// mk when it is new.
func (f *seriesSet[T]) update(values []string, mk func() *T, do func(*T)) {
	// The key is built on the stack: looking a series up by string(k)
	// allocates nothing, so counting a request costs no garbage.
	var buf [128]byte
	k := buf[:0]
	for i, v := range values {
		if i > 0 {
			k = append(k, '\xff')
		}
		k = append(k, v...)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.values == nil {
		f.values = map[string]*T{}
	}
	v := f.values[string(k)]
	if v == nil {
		v = mk()
		f.values[string(k)] = v
	}
	do(v)
}

// each calls do for every series, in label order, under the lock.
func (f *seriesSet[T]) each(do func(*T)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range sortedKeys(f.values) {
		do(f.values[k])
	}
}

// CounterVec is a counter family with labels.
type CounterVec struct {
	header
	seriesSet[counterValue]
}

type counterValue struct {
	labels []string
	bits   atomic.Uint64 // the float64 value's bits: Counter adds without the lock
}

func (cv *counterValue) add(v float64) {
	for {
		old := cv.bits.Load()
		if cv.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

func (cv *counterValue) value() float64 { return math.Float64frombits(cv.bits.Load()) }

// Counter is one series of a CounterVec, counted with neither a lookup
// nor the family's lock: for a series counted on every request.
type Counter struct{ cv *counterValue }

// With returns the series with these label values, making it if new.
func (c *CounterVec) With(values ...string) *Counter {
	c.check(values)
	var cv *counterValue
	c.update(values, func() *counterValue { return &counterValue{labels: slices.Clone(values)} },
		func(v *counterValue) { cv = v })
	return &Counter{cv}
}

// Inc adds 1.
func (c *Counter) Inc() { c.cv.add(1) }

// Counter registers a counter family.
func (r *Registry) Counter(name, help string, labels ...string) *CounterVec {
	c := &CounterVec{header: header{name, help, "counter", labels}}
	r.add(c)
	return c
}

// Inc adds 1 to the series with these label values.
func (c *CounterVec) Inc(values ...string) { c.Add(1, values...) }

// Add adds v (≥ 0) to the series with these label values.
func (c *CounterVec) Add(v float64, values ...string) {
	c.check(values)
	c.update(values, func() *counterValue { return &counterValue{labels: slices.Clone(values)} },
		func(cv *counterValue) { cv.add(v) })
}

// Value returns the series' current value (tests, status).
func (c *CounterVec) Value(values ...string) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cv := c.values[strings.Join(values, "\xff")]; cv != nil {
		return cv.value()
	}
	return 0
}

func (c *CounterVec) write(w *bufio.Writer) {
	c.writeHeader(w)
	c.each(func(cv *counterValue) {
		fmt.Fprintf(w, "%s %s\n", c.series(c.name, cv.labels), formatFloat(cv.value()))
	})
}

// HistogramVec is a histogram family with labels.
type HistogramVec struct {
	header
	buckets []float64
	seriesSet[histValue]
}

type histValue struct {
	labels []string
	counts []uint64 // per bucket, not cumulative
	sum    float64
	count  uint64
}

// Histogram registers a histogram family with upper bounds buckets.
func (r *Registry) Histogram(name, help string, buckets []float64, labels ...string) *HistogramVec {
	h := &HistogramVec{header: header{name, help, "histogram", labels}, buckets: slices.Sorted(slices.Values(buckets))}
	r.add(h)
	return h
}

// Observe records v in the series with these label values.
func (h *HistogramVec) Observe(v float64, values ...string) {
	h.check(values)
	mk := func() *histValue {
		return &histValue{labels: slices.Clone(values), counts: make([]uint64, len(h.buckets))}
	}
	h.update(values, mk, func(hv *histValue) {
		if i, _ := slices.BinarySearch(h.buckets, v); i < len(h.buckets) {
			hv.counts[i]++
		}
		hv.sum += v
		hv.count++
	})
}

func (h *HistogramVec) write(w *bufio.Writer) {
	h.writeHeader(w)
	h.each(func(hv *histValue) {
		var cum uint64
		for i, b := range h.buckets {
			cum += hv.counts[i]
			fmt.Fprintf(w, "%s %d\n", h.series(h.name+"_bucket", hv.labels, "le", formatFloat(b)), cum)
		}
		fmt.Fprintf(w, "%s %d\n", h.series(h.name+"_bucket", hv.labels, "le", "+Inf"), hv.count)
		fmt.Fprintf(w, "%s %s\n", h.series(h.name+"_sum", hv.labels), formatFloat(hv.sum))
		fmt.Fprintf(w, "%s %d\n", h.series(h.name+"_count", hv.labels), hv.count)
	})
}

// GaugeFunc is a gauge family whose values are read at scrape time.
type GaugeFunc struct {
	header
	collect func(emit func(v float64, values ...string))
}

// GaugeFunc registers a gauge family; collect emits each series' value.
func (r *Registry) GaugeFunc(name, help string, labels []string, collect func(emit func(v float64, values ...string))) {
	r.add(&GaugeFunc{header: header{name, help, "gauge", labels}, collect: collect})
}

func (g *GaugeFunc) write(w *bufio.Writer) {
	g.writeHeader(w)
	g.collect(func(v float64, values ...string) {
		g.check(values)
		fmt.Fprintf(w, "%s %s\n", g.series(g.name, values), formatFloat(v))
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	valueEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeValue(s string) string { return valueEscaper.Replace(s) }
