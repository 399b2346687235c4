//go:build linux

package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// memBench is one endpoint's in-memory benchmark pair (servetest.MemBench):
// the endpoint served as the daemon serves it, and its floor, each the
// server's own CPU per request with no socket, client or kernel.
type memBench struct {
	Endpoint, Pkg, Stsd, Floor string // display name, package, benchmark names
}

var memBenches = []memBench{
	{"IMDS", "imds", "BenchmarkIMDSMem", "BenchmarkIMDSMemFloor"},
	{"ECS", "ecs", "BenchmarkECSMem", "BenchmarkECSMemFloor"},
}

// memResult is what rounds of one memBench measured, ns per request.
type memResult struct {
	memBench
	Stsd, Floor []float64
}

// benchMem builds each package's test binary and runs its pair in
// alternating order, one short run each per round, so that the
// machine's drift falls on both alike.
func (b *bench) benchMem(ctx context.Context) ([]memResult, error) {
	rounds, iters := 20, "20000x"
	if b.quick {
		rounds, iters = 2, "2000x"
	}
	var out []memResult
	for _, mb := range memBenches {
		// The stsd side is built with the daemon's profile, as `go build
		// ./cmd/stsd` builds the daemon; the floor plain, as the socket
		// rows' floor is.
		bin, err := b.testBinary(ctx, mb.Pkg, mb.Pkg+".test", "-pgo="+filepath.Join(moduleRoot(), "cmd", "stsd", "default.pgo"))
		if err != nil {
			return nil, err
		}
		floorBin, err := b.testBinary(ctx, mb.Pkg, mb.Pkg+"-floor.test")
		if err != nil {
			return nil, err
		}
		dir := filepath.Join(moduleRoot(), mb.Pkg)
		r := memResult{memBench: mb}
		for i := range rounds {
			names := []string{mb.Stsd, mb.Floor}
			if i%2 == 1 {
				names[0], names[1] = names[1], names[0]
			}
			for _, name := range names {
				exe := bin
				if name == mb.Floor {
					exe = floorBin
				}
				ns, err := runGoBench(ctx, exe, dir, name, iters)
				if err != nil {
					return nil, err
				}
				if name == mb.Stsd {
					r.Stsd = append(r.Stsd, ns)
				} else {
					r.Floor = append(r.Floor, ns)
				}
			}
		}
		b.logf("  in memory %s: stsd %.0f ns, floor %.0f ns per request (medians of %d rounds)",
			mb.Endpoint, summarize(r.Stsd).Median, summarize(r.Floor).Median, rounds)
		out = append(out, r)
	}
	return out, nil
}

// testBinary builds package pkg's test binary, named name in the work
// directory, with extra go build flags.
func (b *bench) testBinary(ctx context.Context, pkg, name string, flags ...string) (string, error) {
	bin := filepath.Join(b.root, name)
	cmd := exec.CommandContext(ctx, "go", append(append([]string{"test", "-c", "-o", bin}, flags...), "./"+pkg)...)
	cmd.Dir = moduleRoot()
	if o, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go test -c ./%s: %w\n%s", pkg, err, o)
	}
	return bin, nil
}

// runGoBench runs benchmark name of test binary bin in its package's
// directory dir for iters and returns its ns/op.
func runGoBench(ctx context.Context, bin, dir, name, iters string) (float64, error) {
	cmd := exec.CommandContext(ctx, bin, "-test.run", "^$", "-test.bench", "^"+name+"$", "-test.benchtime", iters)
	cmd.Dir = dir
	o, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%s -test.bench %s: %w\n%s", filepath.Base(bin), name, err, o)
	}
	return parseNsPerOp(string(o), name)
}

// parseNsPerOp finds benchmark name's ns/op in go test's output.
func parseNsPerOp(out, name string) (float64, error) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && (f[0] == name || strings.HasPrefix(f[0], name+"-")) && f[3] == "ns/op" {
			return strconv.ParseFloat(f[2], 64)
		}
	}
	return 0, fmt.Errorf("no ns/op for %s in:\n%s", name, out)
}

func (r *report) writeMem(p printf) {
	if len(r.mem) == 0 {
		return
	}
	p("### The server's own CPU, in memory\n\n")
	p("`BenchmarkIMDSMem` and `BenchmarkECSMem` (`internal/servetest.MemBench`): the endpoint served as the daemon "+
		"serves it (the same checks, peer lookup and access log) over in-memory keep-alive connections that replay the "+
		"request above, against a bare `net/http` server on the same connections; no socket, client or kernel, so "+
		"ns per request is each server's own CPU and moves far less than the rows above. The stsd side is built with the "+
		"daemon's profile (`cmd/stsd/default.pgo`, as `go build ./cmd/stsd` builds the daemon), the floor plain. %d rounds, one short run "+
		"of each per round, in alternating order.\n\n", len(r.mem[0].Stsd))
	p("| endpoint | stsd ns per request (median) | floor | ratio (medians) | paired ratio, median [p25–p75] |\n| --- | --- | --- | --- | --- |\n")
	for _, m := range r.mem {
		s, f, pr := summarize(m.Stsd), summarize(m.Floor), summarize(ratios(m.Stsd, m.Floor))
		p("| %s | %.0f | %.0f | %s | %.2f [%.2f–%.2f] |\n", m.Endpoint, s.Median, f.Median, x(s.Median/f.Median), pr.Median, pr.P25, pr.P75)
	}
	p("\n")
}
