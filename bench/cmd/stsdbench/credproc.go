//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// credprocResult is the whole-process timing of credential_process.
type credprocResult struct {
	Variants []string    // names, Variants[0] is the floor
	Samples  [][]float64 // seconds, paired by round
	DocBytes int
	Inits    []initCost // package init of the floor, the small binary and stsd
}

// Variant names (the report keys its targets on them).
const (
	cpFloor      = "floor: static Go binary printing the JSON"
	cpSignal     = "anatomy: the floor + signal.NotifyContext"
	cpRawSock    = "anatomy: static Go binary asking the daemon, raw syscalls"
	cpNetSock    = "anatomy: static Go binary asking the daemon, package net"
	cpReadyFile  = "anatomy: static Go binary reading the daemon's ready file, raw syscalls"
	cpSmallWarm  = "stsd-credential-process, daemon warm"
	cpSmallCache = "stsd-credential-process, cache only (no daemon)"
	cpFullWarm   = "stsd credential-process, daemon warm"
	cpFullCache  = "stsd credential-process, cache only (no daemon)"
)

// benchCredproc times whole credential_process runs: with a warm daemon
// (world a), from the cache alone (world b: no daemon, a fresh cache
// entry), and the floor, interleaved round by round.
func (b *bench) benchCredproc(ctx context.Context, a *world, stsURL string) (*credprocResult, error) {
	if err := a.startDaemon(ctx, ""); err != nil {
		return nil, err
	}
	defer a.stopDaemon()
	docA, err := a.get(ctx, "/v1/credentials/dev")
	if err != nil {
		return nil, err
	}
	// World B never runs a daemon: one direct fetch fills its cache.
	bw, err := newWorld(b.root, "b", b.bin, stsURL, endpointConfig, []string{"dev"})
	if err != nil {
		return nil, err
	}
	defer bw.remove()
	docB, err := bw.run(ctx, "stsd", "credential-process", "--profile", "dev")
	if err != nil {
		return nil, err
	}
	if len(docA) == 0 || len(docB) == 0 {
		return nil, fmt.Errorf("empty credential document")
	}
	floors, err := buildFloors(ctx, filepath.Join(b.root, "floors"), docA)
	if err != nil {
		return nil, err
	}
	inst := filepath.Join(b.root, "installed")
	for name, path := range floors {
		if floors[name], err = installCopy(inst, path); err != nil {
			return nil, err
		}
	}
	small, err := installCopy(inst, filepath.Join(b.bin, "stsd-credential-process"))
	if err != nil {
		return nil, err
	}
	full, err := installCopy(inst, filepath.Join(b.bin, "stsd"))
	if err != nil {
		return nil, err
	}
	specs := []procSpec{
		{name: cpFloor, argv: []string{floors["print"], "--profile", "dev"}, env: a.env, dir: a.dir, want: docA},
		{name: cpSmallWarm, argv: []string{small, "--profile", "dev"}, env: a.env, dir: a.dir, want: docA},
		{name: cpSmallCache, argv: []string{small, "--profile", "dev"}, env: bw.env, dir: bw.dir, want: docB},
		{name: cpFullWarm, argv: []string{full, "credential-process", "--profile", "dev"}, env: a.env, dir: a.dir, want: docA},
		{name: cpFullCache, argv: []string{full, "credential-process", "--profile", "dev"}, env: bw.env, dir: bw.dir, want: docB},
		{name: cpSignal, argv: []string{floors["signal"], "--profile", "dev"}, env: a.env, dir: a.dir, want: docA},
		{name: cpRawSock, argv: []string{floors["rawsock"], "--profile", "dev"}, env: a.env, dir: a.dir, want: docA},
		{name: cpNetSock, argv: []string{floors["netsock"], "--profile", "dev"}, env: a.env, dir: a.dir, want: docA},
		{name: cpReadyFile, argv: []string{floors["readyfile"], "--profile", "dev"}, env: a.env, dir: a.dir, want: docA},
	}
	samples, err := pairedRuns(ctx, specs, 20, b.cpRounds, b.cpBudget)
	if err != nil {
		return nil, err
	}
	res := &credprocResult{Samples: samples, DocBytes: len(docA)}
	for i, s := range specs {
		res.Variants = append(res.Variants, s.name)
		b.logf("  %-50s median %.2f ms p99 %.2f ms", s.name, summarize(samples[i]).Median*1e3, summarize(samples[i]).P99*1e3)
	}
	for _, s := range specs {
		if s.name != cpFloor && s.name != cpSmallWarm && s.name != cpFullWarm {
			continue // package init of the floor, the small binary and stsd
		}
		c, err := measureInit(ctx, s.name, s.argv, s.env, initRuns)
		if err != nil {
			return nil, err
		}
		b.logf("  package init of %s: %.0f µs, %d bytes", s.name, c.TotalUS, c.Bytes)
		res.Inits = append(res.Inits, c)
	}
	return res, nil
}

// initRuns is how many runs each program's package-init medians come from.
const initRuns = 21

// installCopy copies the program at src into dir with plain writes, as
// install(1), package managers and `make install` put binaries in place,
// and returns the copy's path. Every timed program, floors included, runs
// from such a copy: on this kernel a file the Go linker wrote (through
// mmap) starts ~0.1 ms slower per run than the same bytes written with
// write(2) (its page cache is built from small folios), and more so the
// larger the binary, which would charge the linker's way of writing to
// the bigger binary.
func installCopy(dir, src string) (string, error) {
	b, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	dst := filepath.Join(dir, filepath.Base(src))
	return dst, os.WriteFile(dst, b, 0o755)
}

func (r *report) credprocTargets() []target {
	var out []target
	if c := r.credproc; c != nil {
		floor := summarize(c.Samples[0])
		for i, v := range c.Variants {
			var goal float64
			switch v {
			case cpSmallWarm:
				goal = 1.25
			case cpSmallCache:
				goal = 1.3
			default:
				continue
			}
			d := summarize(c.Samples[i])
			ratio := d.Median / floor.Median
			out = append(out, target{
				figure: "credential_process: " + v, median: ms(d.Median), p99: ms(d.P99),
				floor: ms(floor.Median), ratio: x(ratio), goal: fmt.Sprintf("≤ %.2f× floor", goal), met: ratio <= goal,
			})
		}
	}
	return out
}
