//go:build linux

package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// report is everything one run measured.
type report struct {
	date      time.Time
	cpus      int
	cpuModel  string
	kernel    string
	goVersion string
	commit    string
	pinning   string
	quick     bool
	elapsed   time.Duration
	notes     []string
	b         *bench

	loads []sectionLoad

	credproc  *credprocResult
	endpoints []endpointRun
	mem       []memResult   // the endpoints' in-memory benchmarks
	profiles  []profilePair // the daemon's and the floor's CPU profiles per endpoint
	bursts    []burstResult
	// burstProfile is the daemon's profile during one more burst, when
	// the measured ones were slow.
	burstProfile *endpointProfile
	rss          []rssResult
	clients      *clientsResult
	broker       *brokerResult
}

func newReport(b *bench) *report {
	r := &report{date: time.Now().UTC(), cpus: runtime.NumCPU(), goVersion: runtime.Version(), pinning: pinning(), b: b}
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(info), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				r.cpuModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if v, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		r.kernel = strings.TrimSpace(string(v))
	}
	if out, err := exec.Command("go", "version").Output(); err == nil {
		r.goVersion = strings.TrimSpace(strings.TrimPrefix(string(out), "go version "))
	}
	if out, err := exec.Command("git", "describe", "--tags", "--always", "--dirty").Output(); err == nil {
		r.commit = strings.TrimSpace(string(out))
	}
	return r
}

// sectionLoad is what else ran on the machine during one section.
type sectionLoad struct {
	name         string
	other, steal float64 // CPU-seconds
	wall         time.Duration
}

// target is one row of the targets table.
type target struct {
	figure       string
	median, p99  string
	floor, ratio string
	goal         string
	met          bool
}

func ms(s float64) string {
	switch v := s * 1e3; {
	case math.IsNaN(s):
		return "–"
	case math.Abs(v) < 1:
		return fmt.Sprintf("%.3f ms", v)
	case math.Abs(v) < 10:
		return fmt.Sprintf("%.2f ms", v)
	case math.Abs(v) < 100:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.0f ms", v)
	}
}

func x(r float64) string { return fmt.Sprintf("%.2f×", r) }

func metStr(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**MISSED**"
}

// targets is every section's rows of the targets table, in report order.
func (r *report) targets() []target {
	var out []target
	for _, f := range []func() []target{r.credprocTargets, r.endpointTargets, r.burstTargets, r.brokerTargets, r.rssTargets} {
		out = append(out, f()...)
	}
	return out
}

// writeTargets prints the targets table (to the report, and to the
// terminal at the end of the run).
func writeTargets(p printf, ts []target) {
	missed := 0
	for _, t := range ts {
		if !t.met {
			missed++
		}
	}
	if missed == 0 {
		p("All %d targets met.\n\n", len(ts))
	} else {
		p("%d of %d targets missed.\n\n", missed, len(ts))
	}
	p("| figure | median | p99 | floor | ratio | target | result |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, t := range ts {
		p("| %s | %s | %s | %s | %s | %s | %s |\n", t.figure, t.median, t.p99, t.floor, t.ratio, t.goal, metStr(t.met))
	}
	p("\n")
}

func (r *report) write(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("# stsd benchmarks\n\n")
	p("Written by `make bench` (`bench/cmd/stsdbench`); do not edit, run it again. ")
	p("Every figure is compared with a floor measured in the same run on the same machine.\n\n")
	if r.quick {
		p("> **-quick run: short samples, only good for checking the harness. Do not quote these numbers.**\n\n")
	}
	p("| | |\n| --- | --- |\n")
	p("| date | %s |\n", r.date.Format("2006-01-02 15:04 UTC"))
	p("| machine | %d CPUs (`nproc`), %s, Linux %s |\n", r.cpus, r.cpuModel, r.kernel)
	p("| Go | %s |\n", r.goVersion)
	p("| stsd | %s, built like `make build` (CGO_ENABLED=0, -trimpath, -s -w) |\n", r.commit)
	p("| run time | %s |\n", r.elapsed.Round(time.Second))
	var loads []string
	for _, l := range r.loads {
		loads = append(loads, fmt.Sprintf("%s %.1f CPU-s in %s (steal %.1f)", l.name, l.other, l.wall.Round(time.Second), l.steal))
	}
	p("| CPU used by other processes | %s: approximate (/proc/stat user+system time minus this run's own processes; irq time excluded): well above zero means those figures carry other work's noise |\n\n",
		strings.Join(loads, "; "))

	if ts := r.targets(); len(ts) > 0 {
		p("## Targets\n\n")
		writeTargets(p, ts)
	}
	r.writeCredproc(p)
	r.writeEndpoints(p)
	r.writeMem(p)
	r.writeProfiles(p)
	r.writeBursts(p)
	r.writeBroker(p)
	r.writeRSS(p)
	r.writeClients(p)
	if len(r.notes) > 0 {
		p("## Notes\n\n")
		for _, n := range r.notes {
			p("- %s\n", n)
		}
		p("\n")
	}
}

type printf func(format string, args ...any)

func (r *report) writeCredproc(p printf) {
	c := r.credproc
	if c == nil {
		return
	}
	floor := summarize(c.Samples[0])
	p("## credential_process, whole process\n\n")
	p("Wall time of whole runs (fork, exec, Go runtime start, work, exit, reap), timed by the harness with "+
		"stdout on a pipe read after exit; every output is checked byte for byte. %d rounds (after 20 warm-up rounds), each "+
		"running every variant once in a fresh random order, so drift and order effects cancel. "+
		"The floor is a static Go binary (CGO_ENABLED=0) that writes the same %d-byte document. "+
		"Every program, floors included, runs from a copy written with plain writes, as install(1) and packages "+
		"write binaries (a file the Go linker wrote through mmap starts slower on this kernel, the more so the larger it is). "+
		"*Warm*: a daemon serves the profile (its ready file, else its control socket). *Cache only*: no daemon, a fresh cache entry "+
		"(a second private HOME). *Anatomy* rows are minimal static binaries that each do one piece of the real "+
		"binary's work (signal handling; the same socket request with raw syscalls, the least any client asking the "+
		"daemon can cost; the same through package net; the daemon's ready file read with raw syscalls), so a gap to the floor can be attributed.\n\n", len(c.Samples[0]), c.DocBytes)
	p("| variant | median | p25 | p75 | p99 | ratio to floor (medians) | paired ratio, median [p25–p75] |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for i, v := range c.Variants {
		d := summarize(c.Samples[i])
		pr := summarize(ratios(c.Samples[i], c.Samples[0]))
		p("| %s | %s | %s | %s | %s | %s | %.2f [%.2f–%.2f] |\n", v, ms(d.Median), ms(d.P25), ms(d.P75), ms(d.P99),
			x(d.Median/floor.Median), pr.Median, pr.P25, pr.P75)
	}
	p("\n")
	if len(c.Inits) == 0 {
		return
	}
	p("Package initialization (`GODEBUG=inittrace=1`, each package's median over %d runs of the same command): "+
		"what the programs' package init functions cost before main runs, on top of the runtime's own start "+
		"(which the floor row above has too). The heap they allocate stays for the process's life.\n\n", c.Inits[0].Runs)
	p("| program | init time (sum of medians) | heap allocated at init | largest (µs) |\n| --- | --- | --- | --- |\n")
	for _, in := range c.Inits {
		var top []string
		for _, pk := range in.Packages[:min(5, len(in.Packages))] {
			top = append(top, fmt.Sprintf("`%s` %.0f", pk.Name, pk.ClockUS))
		}
		p("| %s | %.0f µs | %.1f KB in %d allocations | %s |\n", in.Program, in.TotalUS, float64(in.Bytes)/1e3, in.Allocs, strings.Join(top, ", "))
	}
	p("\n")
}

func (r *report) writeEndpoints(p printf) {
	if len(r.endpoints) == 0 {
		return
	}
	b := r.b
	p("## IMDS and ECS credential GETs\n\n")
	p("A closed-loop Go load generator (a child process) sends the request an SDK sends (IMDSv2 GET with a token; ECS GET "+
		"with the Authorization token) to the daemon, and to the floor: a bare `net/http` server (no routing, "+
		"checks, timeouts or logging) answering with the same bytes, in its own process. The two take turns in phases of %s, "+
		"floor and stsd ABBA ABBA (%d phases each, after %s of turns not recorded), each side with its own %d keep-alive connections "+
		"that send only in its phases (at most %d requests in flight); the first %s of a phase is not counted, while the other side's "+
		"last replies drain. Turns this short give both sides a like share of every spell of the machine's speed, which on this "+
		"shared host moves by half within seconds. Every reply is checked (status 200, length, and the first reply of each "+
		"connection byte for byte). *Pinned*: servers on one CPU, load generator on another (%s). The daemon runs with its default "+
		"config (log_level info: every request counted in the access log's per-connection summaries, written batched to a file). "+
		"*Ratio (totals)*: stsd's requests over the floor's in the same counted time; the targets judge it, since it holds every "+
		"cost the daemon has, however rare (a GC cycle, a log flush). *Paired ratio*: stsd's req/s over the floor's in each pair of "+
		"adjacent phases, median [p25–p75]. *A/A control*: the same run with a second floor in stsd's place: how far its ratios are "+
		"from 1 is the method's own error in that run, and a mode's rows are judged only when its control reads within %.2f of 1. *Server CPU per request*: each server's own CPU time (`/proc/PID/task/*/schedstat`) over "+
		"the run, idle turns included, divided by its counted requests; other work on the machine moves it less than it moves req/s. "+
		"*Peak RSS*: each server's VmHWM after its run (the daemon's since it started, the floor's since its own start). "+
		"*Phases*: the lowest and highest req/s of one side's phases, in thousands: how much the machine's own speed moved meanwhile.\n\n",
		loadPhase, b.loadPhases(), b.warmup, b.conns, b.conns, loadSettle, r.pinning, aaTolerance)
	p("| endpoint | mode | stsd req/s | floor req/s | ratio (totals) | paired ratio, median [p25–p75] | stsd p50 | stsd p99 | floor p50 | floor p99 | p99 ratio | errors (stsd / floor) | load generator CPU | server CPU per request (stsd / floor) | peak RSS (stsd / floor) | phases, k req/s (stsd / floor) |\n")
	p("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, e := range r.endpoints {
		sc, fc := cpuPerRequest(e.StsdCPU, e.Stsd), cpuPerRequest(e.FloorCPU, e.Floor)
		pr := e.pairedRatio()
		name := e.Endpoint
		if e.Control {
			name += " A/A control (a second floor as \"stsd\")"
		}
		p("| %s | %s | %.0f | %.0f | %s | %.2f [%.2f–%.2f] | %s | %s | %s | %s | %s | %d / %d | %.1f s | %.1f / %.1f µs (%s) | %.1f / %.1f MiB | %s / %s |\n", name, e.Mode,
			e.Stsd.RPS, e.Floor.RPS, x(e.Stsd.RPS/e.Floor.RPS), pr.Median, pr.P25, pr.P75,
			ms(e.Stsd.Latency.Median), ms(e.Stsd.Latency.P99), ms(e.Floor.Latency.Median), ms(e.Floor.Latency.P99),
			x(e.Stsd.Latency.P99/e.Floor.Latency.P99), e.Stsd.Errors, e.Floor.Errors,
			e.GenCPU, sc*1e6, fc*1e6, x(sc/fc), mib(e.StsdHWM), mib(e.FloorHWM), kiloRange(e.StsdSlices), kiloRange(e.FloorSlices))
	}
	for _, e := range r.endpoints {
		if e.Stsd.FirstError != "" {
			p("\nFirst error (%s %s): `%s`\n", e.Endpoint, e.Mode, e.Stsd.FirstError)
		}
	}
	p("\n")
}

func writeProfile(p printf, pr endpointProfile) {
	p("**%s** (%s; kernel self time %.0f%%)\n\n| inclusive | function |\n| --- | --- |\n", pr.Endpoint, pr.Samples, pr.Kernel)
	for _, e := range pr.Entries {
		p("| %.1f%% | `%s` |\n", e.Percent, e.Symbol)
	}
	p("\n")
}

func (r *report) writeBursts(p printf) {
	if len(r.bursts) == 0 {
		return
	}
	p("## Clients at the refresh moment\n\n")
	p("The STS stand-in issues credentials that live %s, so the daemon refreshes about every %s "+
		"(lifetime/2 ± 10%%). At each refresh moment (read from the daemon's status) %d clients are let go "+
		"%s before it, on fresh connections: a third IMDS (token PUT + GET), a third ECS, a third the control "+
		"socket (credential_process's request). The stand-in counts GetSessionToken calls from just before "+
		"the wave until the next refresh is scheduled. *Old/new key*: how many clients got the credentials "+
		"being replaced or the refreshed ones (both valid; a wave split across the two straddled the refresh).\n\n",
		burstLifetime, burstLifetime/2, r.bursts[0].Clients, burstLead)
	p("| burst | STS calls | errors | p50 | p99 | max | IMDS p50 / p99 | ECS p50 / p99 | socket p50 / p99 | wave (release to last reply) | old / new key | host TCP sockets before |\n")
	p("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for i, b := range r.bursts {
		kind := func(k string) string {
			d := b.ByKind[k]
			return ms(d.Median) + " / " + ms(d.P99)
		}
		p("| %d | %d | %d | %s | %s | %s | %s | %s | %s | %s | %d / %d | %d |\n", i+1, b.Calls, b.Errors, ms(b.Latency.Median), ms(b.Latency.P99),
			ms(b.Latency.Max), kind("imds"), kind("ecs"), kind("socket"), ms(b.Wave), b.OldKey, b.NewKey, b.HostSockets)
	}
	for i, b := range r.bursts {
		if b.FirstError != "" {
			p("\nFirst error (burst %d): `%s`\n", i+1, b.FirstError)
		}
	}
	p("\n")
	if pr := r.burstProfile; pr != nil {
		p("### Where the daemon's CPU goes in a burst (p99 above %s)\n\n", burstProfileAbove)
		p("One more burst against the same build with its symbol table, under `perf record -g -p` for the 3 s from " +
			"the release; shares are inclusive, of all the daemon's samples.\n\n")
		writeProfile(p, *pr)
	}
}

func (r *report) writeRSS(p printf) {
	if len(r.rss) == 0 {
		return
	}
	p("## Idle RSS\n\n")
	p("`VmRSS` from `/proc/PID/status` of a freshly started daemon (empty cache: every profile fetches at start) after "+
		"each IMDS listener served one credential GET and the process idled %s. %d fresh starts per row; the row shows the "+
		"start with the median VmRSS (idle RSS depends on where the start-up GC cycles fell). Floor: the bare `net/http` "+
		"server with as many listeners, same treatment.\n\n", rssSettle, rssStarts)
	p("| profiles (IMDS listeners) | daemon VmRSS (median start) | RssAnon / RssFile | VmHWM | VmRSS of each start | floor VmRSS | ratio | target |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, s := range r.rss {
		var starts []string
		for _, v := range s.Starts {
			starts = append(starts, fmt.Sprintf("%.1f", mib(v)))
		}
		goal := "–"
		if s.Profiles == 10 {
			goal = "≤ 20 MiB: " + metStr(s.RSS <= 20<<20)
		}
		p("| %d | %.1f MiB | %.1f / %.1f MiB | %.1f MiB | %s MiB | %.1f MiB | %s | %s |\n", s.Profiles, mib(s.RSS), mib(s.Anon), mib(s.File), mib(s.HWM),
			strings.Join(starts, ", "), mib(s.FloorRSS), x(float64(s.RSS)/float64(s.FloorRSS)), goal)
	}
	p("\n")
}

func (r *report) writeClients(p printf) {
	c := r.clients
	if c == nil {
		return
	}
	p("## Client cost\n\n")
	if c.BotocoreSkip != "" {
		p("botocore: skipped (%s).\n\n", c.BotocoreSkip)
	} else {
		p("botocore `Session().get_credentials()` plus `get_frozen_credentials()`, in one Python process (%s), "+
			"%d rounds, each case once per round in random order, each in a new session; the floor is static "+
			"credentials in the environment. Every case checks the access key it got.\n\n", c.Botocore, len(c.BotoSamples[0]))
		r.pairedTable(p, c.BotoCases, c.BotoSamples)
	}
	if c.CLISkip != "" {
		p("AWS CLI: skipped (%s).\n\n", c.CLISkip)
		return
	}
	p("Whole-process `aws sts get-caller-identity` against moto_server (%s), %d rounds, each running the three "+
		"cases once in random order. The floor is static credentials in the environment; the same floor again "+
		"is an A/A control that shows this machine's noise.\n\n", c.CLIVersion, len(c.CLISamples[0]))
	r.pairedTable(p, c.CLICases, c.CLISamples)
	floor, aa, cp := c.CLISamples[0], c.CLISamples[1], c.CLISamples[2]
	delta := summarize(diffs(cp, floor))
	noise := summarize(diffs(aa, floor))
	fd := summarize(floor)
	p("credential_process adds %s (median of paired differences; p25–p75 %s to %s) to a %s run: %s of it. "+
		"The A/A control's paired differences span %s to %s (p25–p75), and the floor's own runs %s to %s.",
		ms(delta.Median), ms(delta.P25), ms(delta.P75), ms(fd.Median), pct(delta.Median/fd.Median),
		ms(noise.P25), ms(noise.P75), ms(fd.P25), ms(fd.P75))
	if noiseSpan := noise.P75 - noise.P25; math.Abs(delta.Median) < noiseSpan {
		p(" The added cost is **below this machine's noise**: smaller than the A/A spread.\n\n")
	} else {
		p(" The added cost is **above** the A/A spread: measurable on this machine.\n\n")
	}
}

func pct(f float64) string { return fmt.Sprintf("%.1f%%", f*100) }

// pairedTable prints cases[0] as the floor and every case's ratio to it.
func (r *report) pairedTable(p printf, cases []string, samples [][]float64) {
	floor := summarize(samples[0])
	p("| case | median | p25 | p75 | p99 | ratio to floor (medians) | paired ratio, median [p25–p75] |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for i, c := range cases {
		d := summarize(samples[i])
		pr := summarize(ratios(samples[i], samples[0]))
		p("| %s | %s | %s | %s | %s | %s | %.2f [%.2f–%.2f] |\n", c, ms(d.Median), ms(d.P25), ms(d.P75), ms(d.P99),
			x(d.Median/floor.Median), pr.Median, pr.P25, pr.P75)
	}
	p("\n")
}
