//go:build linux

package main

import (
	"math"
	"slices"
	"time"
)

// dist summarises a sample of durations (or any values in seconds).
type dist struct {
	N                  int
	Min, P25, Median   float64
	P75, P90, P99, Max float64
	Mean               float64
}

// quantile is the nearest-rank q-quantile (0 < q ≤ 1) of sorted values:
// always a value that was measured, never an interpolation.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func summarize(vals []float64) dist {
	if len(vals) == 0 {
		nan := math.NaN()
		return dist{Min: nan, P25: nan, Median: nan, P75: nan, P90: nan, P99: nan, Max: nan, Mean: nan}
	}
	s := slices.Clone(vals)
	slices.Sort(s)
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	return dist{
		N: len(s), Min: s[0], Max: s[len(s)-1], Mean: sum / float64(len(s)),
		P25: quantile(s, 0.25), Median: quantile(s, 0.5), P75: quantile(s, 0.75),
		P90: quantile(s, 0.90), P99: quantile(s, 0.99),
	}
}

// seconds converts durations to float seconds.
func seconds(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = d.Seconds()
	}
	return out
}

// ratios is a[i]/b[i] for paired samples.
func ratios(a, b []float64) []float64 {
	out := make([]float64, 0, min(len(a), len(b)))
	for i := range min(len(a), len(b)) {
		if b[i] > 0 {
			out = append(out, a[i]/b[i])
		}
	}
	return out
}

// diffs is a[i]-b[i] for paired samples.
func diffs(a, b []float64) []float64 {
	out := make([]float64, 0, min(len(a), len(b)))
	for i := range min(len(a), len(b)) {
		out = append(out, a[i]-b[i])
	}
	return out
}
