//go:build linux

package main

import (
	"strings"
	"testing"
)

const pprofTop = `File: stsd
Build ID: 6c2dcc6c1eecea2cdde86f12d4b2ae672f44b23b
Type: cpu
Time: 2026-12-01 20:43:37 UTC
Duration: 6.03s, Total samples = 3.57s (59.16%)
Showing nodes accounting for 2.95s, 82.63% of 3.57s total
Dropped 171 nodes (cum <= 0.02s)
      flat  flat%   sum%        cum   cum%
     1.62s 45.38% 45.38%      1.62s 45.38%  internal/runtime/syscall/linux.Syscall6
     0.04s  1.12% 54.62%      1.06s 29.69%  github.com/stsd/stsd/imds.NewIMDS.AccessLog.func17
         0     0% 54.62%      0.43s 12.04%  log/slog.(*Logger).Info
     0.02s  0.56% 72.27%      0.02s  0.56%  time.appendInt
     0.01s  0.28% 77.59%      0.06s  1.68%  crypto/internal/fips140/hmac.New[go.shape.interface { BlockSize int; Reset; Size int; Sum []uint8; Write  }]
`

func TestParsePprofTop(t *testing.T) {
	p := parsePprofTop([]byte(pprofTop))
	if p.Header != "Duration: 6.03s, Total samples = 3.57s (59.16%)" {
		t.Errorf("header = %q", p.Header)
	}
	if len(p.Rows) != 5 {
		t.Fatalf("rows = %d; want 5: %+v", len(p.Rows), p.Rows)
	}
	if r := p.Rows[2]; r.Flat != 0 || r.Cum != 12.04 || r.Func != "log/slog.(*Logger).Info" {
		t.Errorf("row 2 = %+v", r)
	}
	if r := p.Rows[4]; !strings.HasPrefix(r.Func, "crypto/internal/fips140/hmac.New[go.shape.interface { BlockSize int;") {
		t.Errorf("a name with spaces = %q", r.Func)
	}
	flat := topRows(p.Rows, 2, func(string) bool { return true }, func(r pprofRow) float64 { return r.Flat })
	if len(flat) != 2 || flat[0].Func != "internal/runtime/syscall/linux.Syscall6" {
		t.Errorf("top flat = %+v", flat)
	}
	lib := topRows(p.Rows, 10, stsdOrLibrary, func(r pprofRow) float64 { return r.Cum })
	if len(lib) != 4 || lib[0].Func != "github.com/stsd/stsd/imds.NewIMDS.AccessLog.func17" || lib[1].Func != "log/slog.(*Logger).Info" {
		t.Errorf("stsd and library rows by cum = %+v", lib)
	}
}

func TestProfileDiffs(t *testing.T) {
	stsd := goProfile{Header: "Duration: 5s, Total samples = 4s (80%)", Requests: 100_000, Rows: []pprofRow{
		{FlatSec: 0.5, CumSec: 4, Func: "net/http.(*conn).serve"},
		{FlatSec: 0.2, CumSec: 0.3, Func: "github.com/stsd/stsd/x.F"},
		{FlatSec: 0.005, CumSec: 0.005, Func: "tiny"},
		{FlatSec: 0.1, CumSec: 0.1, Func: "bufio.(*Reader).Peek (inline)"},
		{FlatSec: 0.1, CumSec: 0.2, Func: "bufio.(*Reader).Peek"},
	}}
	floor := goProfile{Header: "Duration: 5s, Total samples = 4s (80%)", Requests: 200_000, Rows: []pprofRow{
		{FlatSec: 1, CumSec: 4, Func: "net/http.(*conn).serve"},
		{FlatSec: 0.4, CumSec: 0.6, Func: "bufio.(*Reader).Peek (partial-inline)"},
	}}
	if got := stsd.totalSeconds(); got != 4 {
		t.Errorf("totalSeconds = %v", got)
	}
	pr := profilePair{Stsd: stsd, Floor: floor}
	// cum per request: serve 40 vs 20 µs, F 3 vs 0, tiny 0.05 vs 0 (left out).
	cum := profileDiffs(pr, 10, func(v perRequest) float64 { return v.cum })
	// Peek, inlined or not: 1 + 2 = 3 µs cum and 2 flat in the daemon's, 3 and 2 in the floor's.
	if len(cum) != 2 || cum[0].Func != "net/http.(*conn).serve" || cum[0].Stsd != 40 || cum[0].Floor != 20 || cum[1].Func != "github.com/stsd/stsd/x.F" {
		t.Errorf("cum diffs = %+v", cum)
	}
	// flat: serve 5 vs 5 µs is no difference; F 2 vs 0.
	flat := profileDiffs(pr, 10, func(v perRequest) float64 { return v.flat })
	if len(flat) != 1 || flat[0].Func != "github.com/stsd/stsd/x.F" {
		t.Errorf("flat diffs = %+v", flat)
	}
	if pprofSeconds("10ms") != 0.01 || pprofSeconds("0") != 0 || pprofSeconds("1.62s") != 1.62 {
		t.Error("pprofSeconds")
	}
}
