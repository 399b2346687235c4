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
// samples (flat) and that of it and everything it called (cum).
type pprofRow struct {
	Flat, Cum float64 // percent of all samples
	Func      string
}

// goProfile is the daemon's own CPU profile (stsd run --cpu-profile) of
// one endpoint under load.
type goProfile struct {
	Endpoint string
	Header   string // pprof's "Duration: …, Total samples = …" line
	Rows     []pprofRow
}

// profileEndpoints runs the daemon of world w with --cpu-profile, once
// per endpoint, while the load generator drives that endpoint's
// credential GET, and reads each profile with `go tool pprof -top`.
func (b *bench) profileEndpoints(ctx context.Context, w *world) ([]goProfile, error) {
	server, client := "", ""
	if cpus := allowedCPUs(); len(cpus) >= 2 {
		server, client = cpus[0], cpus[1]
	}
	defer func() { w.runArgs = nil }()
	var out []goProfile
	for _, name := range []string{"IMDS", "ECS"} {
		path := filepath.Join(b.root, "cpu-"+name+".pprof")
		w.runArgs = []string{"--cpu-profile", path}
		if err := w.startDaemon(ctx, server); err != nil {
			return nil, err
		}
		err := b.profileLoad(ctx, w, name, client)
		if serr := w.stopDaemon(); err == nil {
			err = serr // the profile is complete once the daemon has exited
		}
		if err != nil {
			return nil, err
		}
		p, err := readPprof(ctx, path)
		if err != nil {
			return nil, err
		}
		p.Endpoint = name
		b.logf("  profile %s: %s", name, p.Header)
		out = append(out, p)
	}
	return out, nil
}

// profileLoad drives endpoint name of w's running daemon for profileTime.
func (b *bench) profileLoad(ctx context.Context, w *world, name, clientCPU string) error {
	e, err := w.devEndpoints(ctx)
	if err != nil {
		return err
	}
	spec := loadSpec{Addr: e.imdsAddr, Request: httpRequest(e.imdsAddr, imdsCredsPath+"dev", "X-aws-ec2-metadata-token: "+e.imdsToken), Want: e.imdsBody}
	if name == "ECS" {
		spec = loadSpec{Addr: e.ecsAddr, Request: httpRequest(e.ecsAddr, "/v1/credentials/dev", "Authorization: "+e.ecsToken), Want: e.ecsBody}
	}
	spec.Conns, spec.Warmup, spec.Duration = b.conns, b.warmup, profileTime
	r, err := generate(ctx, b.self, clientCPU, spec)
	if err == nil && r.Errors > 0 {
		err = fmt.Errorf("profile load on %s: %d errors, first: %s", name, r.Errors, r.FirstError)
	}
	return err
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
				p.Rows = append(p.Rows, pprofRow{Flat: flat, Cum: cum, Func: strings.Join(f[5:], " ")})
			}
		}
	}
	return p
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
		"(%d connections; server and generator pinned as above), read with `go tool pprof -top`. "+
		"*Flat*: the function itself; *cum*: it and everything it called; both in %% of all the run's samples "+
		"(start-up included, a few ms). First the biggest self costs of any kind (system calls and the runtime "+
		"included), then stsd's and the libraries' frames by cumulative share (≥ 0.5%%).\n\n", profileTime, r.b.conns)
	for _, pr := range r.profiles {
		p("**%s** (%s)\n\n", pr.Endpoint, pr.Header)
		p("| flat | cum | function (top self cost) |\n| --- | --- | --- |\n")
		for _, row := range topRows(pr.Rows, 15, func(string) bool { return true }, func(r pprofRow) float64 { return r.Flat }) {
			p("| %.1f%% | %.1f%% | `%s` |\n", row.Flat, row.Cum, row.Func)
		}
		p("\n| flat | cum | function (stsd and libraries, by cumulative share) |\n| --- | --- | --- |\n")
		for _, row := range topRows(pr.Rows, 30, stsdOrLibrary, func(r pprofRow) float64 { return r.Cum }) {
			p("| %.1f%% | %.1f%% | `%s` |\n", row.Flat, row.Cum, row.Func)
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
