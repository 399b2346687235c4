//go:build linux

package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// rssSettle is how long a process idles before its RSS is read: past the
// first refreshes, the first GC cycles and the scavenger's first passes.
const rssSettle = 5 * time.Second

// rssStarts is how many fresh daemons are measured per profile count:
// idle RSS depends on where the start-up GC cycles happened to fall.
const rssStarts = 3

// rssResult is the idle resident memory of the daemon with n profiles
// (each with its own IMDS listener) and of the floor (a bare net/http
// server with as many listeners): the start with the median VmRSS.
type rssResult struct {
	Profiles          int
	RSS, HWM          int64 // bytes
	Anon, File        int64 // RssAnon (heap, stacks), RssFile (binary pages touched)
	FloorRSS, FloorHW int64
	Starts            []int64 // VmRSS of every start, in order
}

func (b *bench) benchRSS(ctx context.Context, stsURL string) ([]rssResult, error) {
	var out []rssResult
	for _, n := range []int{1, 10} {
		var cfg strings.Builder
		var names []string
		for i := range n {
			name := fmt.Sprintf("p%d", i)
			names = append(names, name)
			fmt.Fprintf(&cfg, "[profiles.%s]\nsource_profile = \"src\"\nduration = \"1h\"\nimds_listen = \"127.0.0.1:0\"\n\n", name)
		}
		var starts []rssResult
		var all []int64
		for range rssStarts {
			w, err := newWorld(b.root, fmt.Sprintf("rss%d", n), b.bin, stsURL, cfg.String(), names)
			if err != nil {
				return nil, err
			}
			r, err := b.rssOf(ctx, w, n)
			w.remove()
			if err != nil {
				return nil, err
			}
			b.logf("  %d profile(s): daemon VmRSS %.1f MiB (HWM %.1f), floor %.1f MiB", n, mib(r.RSS), mib(r.HWM), mib(r.FloorRSS))
			starts = append(starts, r)
			all = append(all, r.RSS)
		}
		slices.SortFunc(starts, func(a, b rssResult) int { return cmp.Compare(a.RSS, b.RSS) })
		med := starts[len(starts)/2]
		med.Starts = all
		out = append(out, med)
	}
	return out, nil
}

func (b *bench) rssOf(ctx context.Context, w *world, n int) (rssResult, error) {
	r := rssResult{Profiles: n}
	if err := w.startDaemon(ctx, ""); err != nil {
		return r, err
	}
	defer w.stopDaemon()
	fl, err := startFloor(ctx, b.httpFloor, b.root, "", []byte("{}"), n)
	if err != nil {
		return r, err
	}
	defer fl.stop()
	// One credential GET per listener first, as a client would: idle
	// means after serving, not never having served.
	st, err := w.status(ctx)
	if err != nil {
		return r, err
	}
	for _, p := range st.Profiles {
		addr := st.endpoint(p.Profile, "imds")
		tok, err := imdsToken(ctx, addr)
		if err != nil {
			return r, err
		}
		if _, err := imdsBody(ctx, addr, tok, p.Profile); err != nil {
			return r, err
		}
	}
	for _, a := range fl.addrs {
		if _, err := doGetURL(ctx, "http://"+a+"/"); err != nil {
			return r, err
		}
	}
	select {
	case <-time.After(rssSettle):
	case <-ctx.Done():
		return r, ctx.Err()
	}
	m, err := procMem(w.daemonPID())
	if err != nil {
		return r, err
	}
	r.RSS, r.HWM, r.Anon, r.File = m["VmRSS"], m["VmHWM"], m["RssAnon"], m["RssFile"]
	if m, err = procMem(fl.pid()); err != nil {
		return r, err
	}
	r.FloorRSS, r.FloorHW = m["VmRSS"], m["VmHWM"]
	return r, nil
}

// procMem reads the kB fields of /proc/PID/status (VmRSS, VmHWM, RssAnon,
// RssFile, …) in bytes.
func procMem(pid int) (map[string]int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	m := map[string]int64{}
	for line := range bytes.Lines(b) {
		f := strings.Fields(string(line))
		if len(f) != 3 || f[2] != "kB" {
			continue
		}
		if v, err := strconv.ParseInt(f[1], 10, 64); err == nil {
			m[strings.TrimSuffix(f[0], ":")] = v << 10
		}
	}
	if m["VmRSS"] == 0 {
		return nil, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	return m, nil
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func (r *report) rssTargets() []target {
	var out []target
	for _, s := range r.rss {
		if s.Profiles != 10 {
			continue
		}
		out = append(out, target{
			figure: fmt.Sprintf("daemon idle RSS, 10 profiles (10 IMDS listeners), median of %d starts", len(s.Starts)),
			median: fmt.Sprintf("%.1f MiB", mib(s.RSS)), p99: fmt.Sprintf("%.1f MiB (largest start)", mib(slices.Max(s.Starts))), floor: fmt.Sprintf("%.1f MiB", mib(s.FloorRSS)),
			ratio: x(float64(s.RSS) / float64(s.FloorRSS)), goal: "≤ 20 MiB", met: s.RSS <= 20<<20,
		})
	}
	return out
}
