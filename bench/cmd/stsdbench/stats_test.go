//go:build linux

package main

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestQuantile(t *testing.T) {
	t.Parallel()
	sorted := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct {
		name string
		q    float64
		want float64
	}{
		{"median is a measured value", 0.5, 5},
		{"p25", 0.25, 3},
		{"p99 of ten is the max", 0.99, 10},
		{"p100", 1, 10},
		{"tiny q is the min", 0.001, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := quantile(sorted, tt.q); got != tt.want {
				t.Errorf("quantile(1..10, %v) = %v; want %v", tt.q, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	got := summarize([]float64{3, 1, 2, 4})
	want := dist{N: 4, Min: 1, P25: 1, Median: 2, P75: 3, P90: 4, P99: 4, Max: 4, Mean: 2.5}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summarize mismatch (-want +got):\n%s", diff)
	}
	if empty := summarize(nil); empty.N != 0 || !math.IsNaN(empty.Median) {
		t.Errorf("summarize(nil) = %+v; want N 0 and NaN median", empty)
	}
}

func TestPaired(t *testing.T) {
	t.Parallel()
	a, b := []float64{2, 6, 9}, []float64{1, 3, 0}
	if diff := cmp.Diff([]float64{2, 2}, ratios(a, b)); diff != "" {
		t.Errorf("ratios skip zero floors (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]float64{1, 3, 9}, diffs(a, b)); diff != "" {
		t.Errorf("diffs (-want +got):\n%s", diff)
	}
}

func TestCombine(t *testing.T) {
	t.Parallel()
	got := combine([]loadResult{
		{Requests: 2, Seconds: 1, Samples: []int64{1e6, 3e6}},
		{Requests: 2, Seconds: 1, Errors: 1, FirstError: "boom", Samples: []int64{2e6, 4e6}},
	})
	if got.Requests != 4 || got.Errors != 1 || got.RPS != 2 || got.FirstError != "boom" {
		t.Errorf("combine = %+v; want 4 requests, 1 error, 2 req/s, first error boom", got)
	}
	if got.Latency.Median != 0.002 || got.Latency.Max != 0.004 {
		t.Errorf("combined latency = %+v; want median 2ms max 4ms", got.Latency)
	}
}

func TestKiloRates(t *testing.T) {
	rates := []float64{41_400, 57_600, 49_000}
	if got := kiloList(rates); got != "41 58 49" {
		t.Errorf("kiloList = %q, want %q", got, "41 58 49")
	}
	if got := kiloRange(rates); got != "41–58" {
		t.Errorf("kiloRange = %q, want %q", got, "41–58")
	}
	if got := kiloRange(nil); got != "–" {
		t.Errorf("kiloRange(nil) = %q, want –", got)
	}
}

// TestParseNsPerOp: the benchmark's own line is found, with or without
// the -N suffix, and a missing one is an error.
func TestParseNsPerOp(t *testing.T) {
	out := "goos: linux\nBenchmarkIMDSMemFloor-2   \t   20000\t      5123 ns/op\t    2289 B/op\nBenchmarkIMDSMem-2 \t 20000\t 6001.5 ns/op\nPASS\n"
	for name, want := range map[string]float64{"BenchmarkIMDSMem": 6001.5, "BenchmarkIMDSMemFloor": 5123} {
		if got, err := parseNsPerOp(out, name); err != nil || got != want {
			t.Errorf("parseNsPerOp(%s) = %v, %v; want %v", name, got, err, want)
		}
	}
	if _, err := parseNsPerOp(out, "BenchmarkECSMem"); err == nil {
		t.Error("a benchmark not in the output was found")
	}
}

// TestPairedRatio: each stsd phase is compared with the floor phase next
// to it, so a slow spell that hits both sides of a pair leaves the median
// alone; of an even count the median is the lower middle ratio.
func TestPairedRatio(t *testing.T) {
	t.Parallel()
	e := endpointRun{
		FloorSlices: []float64{40, 40, 10, 10, 40, 40},
		StsdSlices:  []float64{38, 36, 9.5, 9.4, 40, 37.2},
	}
	pr := e.pairedRatio()
	if pr.N != 6 || math.Abs(pr.Median-0.94) > 1e-9 {
		t.Errorf("paired ratio: n %d median %v; want 6, 0.94 (of 0.90 0.93 0.94 0.95 0.95 1.00)", pr.N, pr.Median)
	}
}

// TestEndpointTargetsNeedQuietControl: a row is met only when its ratio
// is and its mode's A/A control read close to 1; a noisy control fails
// even a good ratio, and the controls are no rows of their own.
func TestEndpointTargetsNeedQuietControl(t *testing.T) {
	t.Parallel()
	run := func(mode string, control bool, stsd, floor float64) endpointRun {
		return endpointRun{Endpoint: "IMDS", Mode: mode, Control: control,
			Stsd: loadResult{RPS: stsd}, Floor: loadResult{RPS: floor}}
	}
	r := &report{endpoints: []endpointRun{
		run("unpinned", false, 95, 100), run("unpinned", true, 101, 100),
		run("pinned", false, 95, 100), run("pinned", true, 93, 100),
		run("other", false, 85, 100), run("other", true, 100, 100),
	}}
	ts := r.endpointTargets()
	var got []bool
	for _, tg := range ts {
		got = append(got, tg.met)
	}
	if want := []bool{true, false, false}; !slices.Equal(got, want) {
		t.Errorf("met %v; want %v (quiet and fast, noisy control, too slow)", got, want)
	}
	if !strings.Contains(ts[1].ratio, "too noisy") {
		t.Errorf("a noisy run's ratio says %q; want it to say why it is not judged", ts[1].ratio)
	}
}
