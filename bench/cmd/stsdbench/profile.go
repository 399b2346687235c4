//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// profileTime is how long the load generator drives each endpoint while
// the daemon profiles itself.
const profileTime = 5 * time.Second

// profileEntry is one function's share of the daemon's CPU samples,
// itself and everything it called (perf's view, for the burst).
type profileEntry struct {
	Percent float64
	Symbol  string
}

// endpointProfile is where a daemon's CPU goes under perf.
type endpointProfile struct {
	Endpoint string
	Samples  string // perf's sample count line
	Kernel   float64
	Entries  []profileEntry
}

// pprofRow is one function of `go tool pprof -top`: its own share of the
// samples (flat) and that of it and everything it called (cum), in
// percent of all samples and in seconds.
type pprofRow struct {
	Flat, Cum       float64 // percent of all samples
	FlatSec, CumSec float64
	Func            string
}

// goProfile is one server's own CPU profile (runtime/pprof) of one
// endpoint's credential GET under load.
type goProfile struct {
	Endpoint string
	Header   string // pprof's "Duration: …, Total samples = …" line
	Rows     []pprofRow
	Requests int64 // the load generator's requests meanwhile
}

// profilePair is the daemon's profile of one endpoint and the floor's
// under the same load.
type profilePair struct {
	Endpoint    string
	Stsd, Floor goProfile
}

// profileEndpoints runs the daemon of world w with --cpu-profile, once
// per endpoint, while the load generator drives that endpoint's
// credential GET, then the floor (httpfloor -cpu-profile) with the same
// bytes under the same load, and reads each profile with `go tool pprof
// -top`.
func (b *bench) profileEndpoints(ctx context.Context, w *world) ([]profilePair, error) {
	server, client := "", ""
	if cpus := allowedCPUs(); len(cpus) >= 2 {
		server, client = cpus[0], cpus[1]
	}
	defer func() { w.runArgs = nil }()
	var out []profilePair
	for _, name := range []string{"IMDS", "ECS"} {
		path := filepath.Join(b.root, "cpu-"+name+".pprof")
		w.runArgs = []string{"--cpu-profile", path}
		if err := w.startDaemon(ctx, server); err != nil {
			return nil, err
		}
		spec, err := b.profileSpec(ctx, w, name)
		var r loadResult
		if err == nil {
			r, err = profileLoad(ctx, b.self, client, spec)
		}
		if serr := w.stopDaemon(); err == nil {
			err = serr // the profile is complete once the daemon has exited
		}
		if err != nil {
			return nil, err
		}
		pair := profilePair{Endpoint: name}
		if pair.Stsd, err = readPprof(ctx, path); err != nil {
			return nil, err
		}
		pair.Stsd.Requests = r.Requests
		floorPath := filepath.Join(b.root, "cpu-"+name+"-floor.pprof")
		fl, err := startFloorProgram(ctx, b.httpFloor, b.root, server, spec.Want, 1, "-cpu-profile", floorPath)
		if err != nil {
			return nil, err
		}
		spec.Addr = fl.addrs[0]
		r, err = profileLoad(ctx, b.self, client, spec)
		fl.stop() // writes the profile
		if err != nil {
			return nil, err
		}
		if pair.Floor, err = readPprof(ctx, floorPath); err != nil {
			return nil, err
		}
		pair.Floor.Requests = r.Requests
		b.logf("  profile %s: %s; floor: %s", name, pair.Stsd.Header, pair.Floor.Header)
		out = append(out, pair)
	}
	return out, nil
}

// writePGO merges the daemon's profiles of both endpoints into b.pgo
// (`go tool pprof -proto`), the profile go build optimizes cmd/stsd with.
func (b *bench) writePGO(ctx context.Context) error {
	var in []string
	for _, name := range []string{"IMDS", "ECS"} {
		in = append(in, filepath.Join(b.root, "cpu-"+name+".pprof"))
	}
	out, err := exec.CommandContext(ctx, "go", append([]string{"tool", "pprof", "-proto"}, in...)...).Output()
	if err != nil {
		return fmt.Errorf("go tool pprof -proto: %w", err)
	}
	if err := os.WriteFile(b.pgo, out, 0o644); err != nil {
		return err
	}
	b.logf("  wrote %s (%d bytes): rebuild to use it", b.pgo, len(out))
	return nil
}

// profileSpec is the load on endpoint name of w's running daemon while
// it profiles itself.
func (b *bench) profileSpec(ctx context.Context, w *world, name string) (loadSpec, error) {
	e, err := w.devEndpoints(ctx)
	if err != nil {
		return loadSpec{}, err
	}
	spec := loadSpec{Addr: e.imdsAddr, Request: httpRequest(e.imdsAddr, imdsCredsPath+"dev", "X-aws-ec2-metadata-token: "+e.imdsToken), Want: e.imdsBody}
	if name == "ECS" {
		spec = loadSpec{Addr: e.ecsAddr, Request: httpRequest(e.ecsAddr, "/v1/credentials/dev", "Authorization: "+e.ecsToken), Want: e.ecsBody}
	}
	// No warm-up: the profile covers the whole run, so every request counts.
	spec.Conns, spec.Duration = b.conns, profileTime
	return spec, nil
}

// profileLoad drives spec and fails on any bad reply.
func profileLoad(ctx context.Context, self, clientCPU string, spec loadSpec) (loadResult, error) {
	r, err := generate(ctx, self, clientCPU, spec)
	if err == nil && r.Errors > 0 {
		err = fmt.Errorf("profile load on %s: %d errors, first: %s", spec.Addr, r.Errors, r.FirstError)
	}
	return r, err
}

// readPprof summarises a CPU profile with `go tool pprof -top -cum`
// (the samples are already symbolized: the Go runtime names its own
// functions, even in a stripped binary).
func readPprof(ctx context.Context, path string) (goProfile, error) {
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-cum", "-nodecount=400", path).Output()
	if err != nil {
		return goProfile{}, fmt.Errorf("go tool pprof %s: %w", path, err)
	}
	return parsePprofTop(out), nil
}

// parsePprofTop reads `go tool pprof -top` output: header lines, then
// "flat flat% sum% cum cum% name" rows.
func parsePprofTop(out []byte) goProfile {
	var p goProfile
	rows := false
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "Duration:"):
			p.Header = strings.TrimSpace(line)
		case len(f) >= 5 && f[0] == "flat" && f[1] == "flat%":
			rows = true
		case rows && len(f) >= 6:
			flat, err1 := strconv.ParseFloat(strings.TrimSuffix(f[1], "%"), 64)
			cum, err2 := strconv.ParseFloat(strings.TrimSuffix(f[4], "%"), 64)
			if err1 == nil && err2 == nil {
				p.Rows = append(p.Rows, pprofRow{Flat: flat, Cum: cum, FlatSec: pprofSeconds(f[0]), CumSec: pprofSeconds(f[3]),
					Func: strings.Join(f[5:], " ")})
			}
		}
	}
	return p
}

// pprofSeconds reads one of pprof's sample times ("0", "10ms", "1.62s").
func pprofSeconds(s string) float64 {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0
	}
	return d.Seconds()
}

// stsdOrLibrary: stsd's own frames and the libraries it calls per request
// (gorilla/mux, log/slog, net/http's handler side, crypto, encoding…),
// not the runtime, the scheduler or the system calls underneath.
func stsdOrLibrary(fn string) bool {
	for _, pre := range []string{"runtime.", "internal/", "syscall.", "runtime/", "sync.", "sync/atomic.", "aeshashbody", "indexbyte", "memeqbody", "gogo", "type:"} {
		if strings.HasPrefix(fn, pre) {
			return false
		}
	}
	return true
}

// topRows are the n rows with the largest key among those keep admits.
func topRows(rows []pprofRow, n int, keep func(string) bool, key func(pprofRow) float64) []pprofRow {
	var out []pprofRow
	for _, r := range rows {
		if keep(r.Func) && key(r) >= 0.5 {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return key(out[i]) > key(out[j]) })
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func (r *report) writeProfiles(p printf) {
	if len(r.profiles) == 0 {
		return
	}
	p("### Where the daemon's CPU goes\n\n")
	p("The daemon's own CPU profile (`stsd run --cpu-profile FILE`, runtime/pprof, the whole run, written at exit), "+
		"one daemon run per endpoint while the load generator drives that endpoint's credential GET for %s "+
		"(%d connections; server and generator pinned as above), read with `go tool pprof -top`; then the floor "+
		"(`httpfloor -cpu-profile FILE`) under the same load. *Flat*: the function itself; *cum*: it and everything "+
		"it called; both in %% of all the run's samples (start-up included, a few ms). First the biggest self costs "+
		"of any kind (system calls and the runtime included), then stsd's and the libraries' frames by cumulative "+
		"share (≥ 0.5%%), then what the daemon spends per request beyond the floor: each function's samples over "+
		"the requests served meanwhile, the daemon's minus the floor's, largest first (a function the floor also "+
		"runs costs the same in both unless stsd makes it do more).\n\n", profileTime, r.b.conns)
	for _, pr := range r.profiles {
		p("**%s** (%s)\n\n", pr.Endpoint, pr.Stsd.Header)
		p("| flat | cum | function (top self cost) |\n| --- | --- | --- |\n")
		for _, row := range topRows(pr.Stsd.Rows, 15, func(string) bool { return true }, func(r pprofRow) float64 { return r.Flat }) {
			p("| %.1f%% | %.1f%% | `%s` |\n", row.Flat, row.Cum, row.Func)
		}
		p("\n| flat | cum | function (stsd and libraries, by cumulative share) |\n| --- | --- | --- |\n")
		for _, row := range topRows(pr.Stsd.Rows, 30, stsdOrLibrary, func(r pprofRow) float64 { return r.Cum }) {
			p("| %.1f%% | %.1f%% | `%s` |\n", row.Flat, row.Cum, row.Func)
		}
		writeProfileDiff(p, pr)
		p("\n")
	}
}

// perRequest is a function's samples per request, in µs, from one
// profile: its own (flat) and with its callees (cum).
type perRequest struct{ flat, cum float64 }

func (g goProfile) perRequest() map[string]perRequest {
	m := map[string]perRequest{}
	if g.Requests <= 0 {
		return m
	}
	n := float64(g.Requests) / 1e6
	for _, r := range g.Rows {
		fn := baseFunc(r.Func)
		v := m[fn]
		m[fn] = perRequest{v.flat + r.FlatSec/n, v.cum + r.CumSec/n}
	}
	return m
}

// baseFunc is a pprof function name without its inlining mark: a function
// the daemon's profile-guided build inlines where the floor's build calls
// it (or the other way round) is one function in both.
func baseFunc(fn string) string {
	for _, mark := range []string{" (inline)", " (partial-inline)"} {
		fn = strings.TrimSuffix(fn, mark)
	}
	return fn
}

// totalSeconds is the profile's "Total samples = 5.36s" figure.
func (g goProfile) totalSeconds() float64 {
	_, rest, ok := strings.Cut(g.Header, "Total samples = ")
	if !ok {
		return 0
	}
	f, _, _ := strings.Cut(rest, " ")
	return pprofSeconds(f)
}

// profileDiff is one function's µs per request in the daemon's profile
// and in the floor's.
type profileDiff struct {
	Func        string
	Stsd, Floor float64
}

// profileDiffs are the n functions whose key (flat or cum µs per
// request) grows most from the floor's profile to the daemon's, at least
// 0.1 µs.
func profileDiffs(pr profilePair, n int, key func(perRequest) float64) []profileDiff {
	s, f := pr.Stsd.perRequest(), pr.Floor.perRequest()
	var out []profileDiff
	for fn, v := range s {
		d := profileDiff{fn, key(v), key(f[fn])}
		if d.Stsd-d.Floor >= 0.1 {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		di, dj := out[i].Stsd-out[i].Floor, out[j].Stsd-out[j].Floor
		if di != dj {
			return di > dj
		}
		return out[i].Func < out[j].Func
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// writeProfileDiff writes what the daemon spends per request beyond the
// floor, by function.
func writeProfileDiff(p printf, pr profilePair) {
	if pr.Stsd.Requests <= 0 || pr.Floor.Requests <= 0 {
		return
	}
	st, ft := pr.Stsd.totalSeconds()*1e6/float64(pr.Stsd.Requests), pr.Floor.totalSeconds()*1e6/float64(pr.Floor.Requests)
	p("\nPer request, beyond the floor: the daemon's samples come to %.1f µs per request (%d requests), the floor's "+
		"(%s) to %.1f µs (%d requests), %+.1f µs.\n\n", st, pr.Stsd.Requests, pr.Floor.Header, ft, pr.Floor.Requests, st-ft)
	for _, part := range []struct {
		what string
		key  func(perRequest) float64
	}{{"its own time (flat)", func(v perRequest) float64 { return v.flat }}, {"with its callees (cum)", func(v perRequest) float64 { return v.cum }}} {
		p("| function, by %s | stsd µs/request | floor µs/request | difference |\n| --- | --- | --- | --- |\n", part.what)
		for _, d := range profileDiffs(pr, 15, part.key) {
			p("| `%s` | %.2f | %.2f | %+.2f |\n", d.Func, d.Stsd, d.Floor, d.Stsd-d.Floor)
		}
		p("\n")
	}
}

// symbolBuild builds stsd as `make build` does but keeping its symbol
// table, which perf needs to name Go functions, once, and returns its
// directory (with stsd-credential-process beside it).
func (b *bench) symbolBuild(ctx context.Context) (string, error) {
	dir := filepath.Join(b.root, "stsd-sym")
	if _, err := os.Stat(filepath.Join(dir, "stsd")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", filepath.Join(dir, "stsd"), "./cmd/stsd")
	cmd.Dir = moduleRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build stsd with symbols: %w\n%s", err, out)
	}
	small, err := os.ReadFile(filepath.Join(b.bin, "stsd-credential-process"))
	if err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "stsd-credential-process"), small, 0o755)
}

// burstProfileAbove is the burst p99 above which one more burst runs under
// perf, to show where the daemon's time goes.
const burstProfileAbove = 250 * time.Millisecond

// profileBurst runs one more burst against a symbol build of the daemon
// under perf.
func (b *bench) profileBurst(ctx context.Context) (*endpointProfile, error) {
	perf, err := exec.LookPath("perf")
	if err != nil {
		b.notef("No CPU profile of the burst: perf is not installed.")
		return nil, nil
	}
	symBin, err := b.symbolBuild(ctx)
	if err != nil {
		return nil, err
	}
	data := filepath.Join(b.root, "perf-burst.data")
	var recErr error
	var recOut []byte
	_, err = b.bursts(ctx, symBin, 1, func(pid int) {
		rec := exec.CommandContext(ctx, perf, "record", "-q", "-F", "999", "-g", "-o", data,
			"-p", strconv.Itoa(pid), "--", "sleep", "3")
		rec.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		recOut, recErr = rec.CombinedOutput()
	})
	if err != nil {
		return nil, err
	}
	if recErr != nil {
		b.notef("No CPU profile of the burst: perf record failed (%v): %s", recErr, strings.TrimSpace(string(recOut)))
		return nil, nil
	}
	p, err := readProfile(ctx, perf, data)
	if err != nil {
		return nil, err
	}
	p.Endpoint = "burst"
	return &p, nil
}

// interesting are the perf frames worth showing: stsd's own, the
// libraries it calls per request, and the runtime's big buckets.
var interesting = []string{
	"github.com/stsd/", "log/slog.(*Logger).", "github.com/gorilla/mux.(*Router).ServeHTTP",
	"encoding/json.(*Encoder).Encode", "crypto/hmac.", "net/http.(*conn).readRequest",
	"net/http.(*response).finishRequest", "net/http.(*conn).serve", "runtime.gcBgMarkWorker",
	"runtime.mallocgc", "syscall.write", "syscall.read", "os.(*File).Write", "context.WithDeadline",
	"os.ReadFile", "bytes.Fields",
}

// readProfile summarises a perf.data: inclusive shares of the
// interesting frames, and the kernel's share of self time.
func readProfile(ctx context.Context, perf, data string) (endpointProfile, error) {
	var p endpointProfile
	children, err := exec.CommandContext(ctx, perf, "report", "-i", data, "--children", "--sort", "sym", "--stdio", "-g", "none").Output()
	if err != nil {
		return p, fmt.Errorf("perf report: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(children))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# Samples:") {
			p.Samples = strings.TrimSpace(strings.TrimPrefix(line, "#"))
		}
		f := strings.Fields(line)
		if len(f) < 4 || f[2] != "[.]" || !strings.HasSuffix(f[0], "%") {
			continue
		}
		sym := strings.Join(f[3:], " ")
		if !matchesAny(sym, interesting) {
			continue
		}
		pct, err := strconv.ParseFloat(strings.TrimSuffix(f[0], "%"), 64)
		if err != nil || pct < 1 {
			continue
		}
		p.Entries = append(p.Entries, profileEntry{pct, sym})
	}
	dso, err := exec.CommandContext(ctx, perf, "report", "-i", data, "--no-children", "--sort", "dso", "--stdio", "-g", "none").Output()
	if err != nil {
		return p, fmt.Errorf("perf report: %w", err)
	}
	for _, line := range strings.Split(string(dso), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[1] == "[kernel.kallsyms]" {
			p.Kernel, _ = strconv.ParseFloat(strings.TrimSuffix(f[0], "%"), 64)
		}
	}
	return p, nil
}

func matchesAny(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
