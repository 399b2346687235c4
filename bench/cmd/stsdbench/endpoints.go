//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Paths the SDKs request (design.md "Local endpoints").
const (
	imdsTokenPath = "/latest/api/token"
	imdsCredsPath = "/latest/meta-data/iam/security-credentials/"
)

// imdsToken mints an IMDSv2 token as an SDK does.
func imdsToken(ctx context.Context, addr string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+addr+imdsTokenPath, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("X-aws-ec2-metadata-token-ttl-seconds", "21600")
	b, err := doGet(req)
	return string(b), err
}

// imdsBody is what the IMDS credential GET returns.
func imdsBody(ctx context.Context, addr, token, profile string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+imdsCredsPath+profile, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-aws-ec2-metadata-token", token)
	return doGet(req)
}

// ecsBody is what the ECS credential GET returns.
func ecsBody(ctx context.Context, addr, token, profile string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/credentials/"+profile, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", token)
	return doGet(req)
}

func doGet(req *http.Request) ([]byte, error) {
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %s", req.Method, req.URL.Path, resp.Status)
	}
	return b, nil
}

// floorServer is a running floor program (httpfloor, tlsfloor): it reads
// its -body file, prints "ADDR=host:port" for each listener, and exits
// when its stdin closes.
type floorServer struct {
	addrs []string
	cmd   *exec.Cmd
	stdin io.Closer
}

// startFloor runs httpfloor serving body on n listeners (on cpu, if set).
func startFloor(ctx context.Context, bin, dir, cpu string, body []byte, n int) (*floorServer, error) {
	return startFloorProgram(ctx, bin, dir, cpu, body, n, "-listeners", fmt.Sprint(n))
}

// startFloorProgram runs the floor program bin with -body (body, in a
// file in dir) and args, on cpu if set, until it listens n times.
func startFloorProgram(ctx context.Context, bin, dir, cpu string, body []byte, n int, args ...string) (*floorServer, error) {
	f, err := os.CreateTemp(dir, "floor-body-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name()) // read before the program listens
	f.Write(body)
	f.Close()
	cmd := exec.CommandContext(context.WithoutCancel(ctx), bin, append([]string{"-body", f.Name()}, args...)...)
	cmd.Env = cleanEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := startOn(cmd, cpu); err != nil {
		return nil, err
	}
	fs := &floorServer{cmd: cmd, stdin: stdin}
	sc := bufio.NewScanner(stdout)
	for len(fs.addrs) < n && sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "ADDR="); ok {
			fs.addrs = append(fs.addrs, a)
		}
	}
	if len(fs.addrs) < n {
		fs.stop()
		return nil, fmt.Errorf("%s did not listen", filepath.Base(bin))
	}
	go io.Copy(io.Discard, stdout)
	return fs, nil
}

func (f *floorServer) pid() int { return f.cmd.Process.Pid }

func (f *floorServer) stop() {
	f.stdin.Close() // a floor program exits when its stdin closes
	done := make(chan struct{})
	go func() { f.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		f.cmd.Process.Kill()
		<-done
	}
}

// The endpoint runs alternate floor and stsd in phases of loadPhase,
// ABBA ABBA (altSpec). The machine's own speed moves in spells of seconds
// (on a shared host one floor run went from 44k req/s to 67k and back,
// the same binary, and the other guests' load takes up to 40% of the
// CPUs for minutes): turns of a tenth of a second give both sides a like
// share of every spell, so the ratio of their totals needs no pairing to
// cancel drift. loadSettle is the start of each phase not counted, while
// the other side's last replies drain (a reply takes about a millisecond).
const (
	loadPhase  = 100 * time.Millisecond
	loadSettle = 5 * time.Millisecond
)

// loadPhases is how many phases each side gets: even, so ABBA quads are
// whole.
func (b *bench) loadPhases() int { return max(2, int(b.loadTime/loadPhase)/2*2) }

// endpointRun is one load run against an endpoint or its floor.
type endpointRun struct {
	Endpoint string // "IMDS", "ECS"
	Mode     string // "unpinned", "pinned"
	Stsd     loadResult
	Floor    loadResult
	// StsdCPU and FloorCPU are the servers' own CPU time over their
	// measured slices (warm-ups included), in seconds.
	StsdCPU, FloorCPU float64
	// StsdHWM and FloorHWM are the servers' peak RSS (VmHWM) after the
	// run: what the load cost in memory (the daemon's since it started).
	StsdHWM, FloorHWM int64
	// StsdSlices and FloorSlices are each phase's req/s.
	StsdSlices, FloorSlices []float64
	// GenCPU is the load generator's CPU time, both sides, in seconds.
	GenCPU float64
	// Control is the A/A control: the "stsd" side is a second floor.
	Control bool
}

// processCPU is the CPU time pid's threads have run, in seconds, from
// /proc/PID/task/*/schedstat (nanoseconds on a CPU): a server's own cost,
// which other work on the machine changes less than its throughput.
func processCPU(pid int) float64 {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var ns float64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			v, _ := strconv.ParseFloat(f[0], 64)
			ns += v
		}
	}
	return ns / 1e9
}

// kiloRange is the lowest and highest of rates in thousands, "41–57".
func kiloRange(rates []float64) string {
	if len(rates) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f–%.0f", slices.Min(rates)/1e3, slices.Max(rates)/1e3)
}

// kiloList is rates in thousands, "41 57 …".
func kiloList(rates []float64) string {
	f := make([]string, len(rates))
	for i, r := range rates {
		f[i] = fmt.Sprintf("%.0f", r/1e3)
	}
	return strings.Join(f, " ")
}

// peakRSS is pid's VmHWM in bytes, 0 when unreadable.
func peakRSS(pid int) int64 {
	m, err := procMem(pid)
	if err != nil {
		return 0
	}
	return m["VmHWM"]
}

// cpuPerRequest is a server's CPU per measured request, in seconds; the
// warm-up's requests are not counted, so it errs a little high.
func cpuPerRequest(cpu float64, r loadResult) float64 {
	if r.Requests == 0 {
		return math.NaN()
	}
	return cpu / float64(r.Requests)
}

// benchEndpoints loads the IMDS and ECS credential GETs of world w's
// profile dev, and the floor server with the same bytes, unpinned then
// pinned (server on the first CPU we may use, generator on the second).
func (b *bench) benchEndpoints(ctx context.Context, w *world) ([]endpointRun, error) {
	modes := []struct{ name, server, client string }{{"unpinned", "", ""}}
	if cpus := allowedCPUs(); len(cpus) >= 2 {
		modes = append(modes, struct{ name, server, client string }{"pinned", cpus[0], cpus[1]})
	} else {
		b.notef("Pinned endpoint runs skipped: this process may use %d CPU.", len(cpus))
	}
	var runs []endpointRun
	for _, m := range modes {
		if err := w.startDaemon(ctx, m.server); err != nil {
			return nil, err
		}
		rs, err := b.loadEndpoints(ctx, w, m.name, m.server, m.client)
		if serr := w.stopDaemon(); err == nil {
			err = serr
		}
		if err != nil {
			return nil, err
		}
		runs = append(runs, rs...)
	}
	return runs, nil
}

func (b *bench) loadEndpoints(ctx context.Context, w *world, mode, serverCPU, clientCPU string) ([]endpointRun, error) {
	e, err := w.devEndpoints(ctx)
	if err != nil {
		return nil, err
	}
	imdsAddr, ecsAddr, tok, ecsTok, imds, ecs := e.imdsAddr, e.ecsAddr, e.imdsToken, e.ecsToken, e.imdsBody, e.ecsBody
	targets := []struct {
		name, addr, path string
		header           string
		body             []byte
	}{
		{"IMDS", imdsAddr, imdsCredsPath + "dev", "X-aws-ec2-metadata-token: " + tok, imds},
		{"ECS", ecsAddr, "/v1/credentials/dev", "Authorization: " + ecsTok, ecs},
	}
	var runs []endpointRun
	for _, t := range targets {
		fl, err := startFloor(ctx, b.httpFloor, b.root, serverCPU, t.body, 1)
		if err != nil {
			return nil, err
		}
		run := endpointRun{Endpoint: t.name, Mode: mode}
		err = b.alternate(ctx, &run, clientCPU, t.path, t.header, t.body, fl.addrs[0], fl.pid(), t.addr, w.daemonPID())
		if err == nil {
			run.StsdHWM, run.FloorHWM = peakRSS(w.daemonPID()), peakRSS(fl.pid())
		}
		fl.stop()
		if err != nil {
			return nil, err
		}
		runs = append(runs, run)
	}
	// The A/A control: the IMDS bytes from two floors, the same program,
	// measured the same way; how far its ratio is from 1 is the method's
	// own error.
	t := targets[0]
	var fls [2]*floorServer
	for i := range fls {
		if fls[i], err = startFloor(ctx, b.httpFloor, b.root, serverCPU, t.body, 1); err != nil {
			if i > 0 {
				fls[0].stop()
			}
			return nil, err
		}
	}
	run := endpointRun{Endpoint: t.name, Mode: mode, Control: true}
	err = b.alternate(ctx, &run, clientCPU, t.path, t.header, t.body, fls[0].addrs[0], fls[0].pid(), fls[1].addrs[0], fls[1].pid())
	if err == nil {
		run.FloorHWM, run.StsdHWM = peakRSS(fls[0].pid()), peakRSS(fls[1].pid())
	}
	fls[0].stop()
	fls[1].stop()
	if err != nil {
		return nil, err
	}
	return append(runs, run), nil
}

// alternate loads the floor (at floorAddr, process floorPID) and stsd in
// turns with the GET of path, and fills run in.
func (b *bench) alternate(ctx context.Context, run *endpointRun, clientCPU, path, header string, body []byte, floorAddr string, floorPID int, stsdAddr string, stsdPID int) error {
	target := func(addr string) loadTarget {
		return loadTarget{Addr: addr, Request: httpRequest(addr, path, header), Want: body}
	}
	spec := altSpec{
		Targets: [2]loadTarget{target(floorAddr), target(stsdAddr)},
		Conns:   b.conns, Warmup: b.warmup, Phase: loadPhase, Settle: loadSettle, Phases: b.loadPhases(),
	}
	name := run.Endpoint
	if run.Control {
		name += " A/A control"
	}
	b.logf("load %s %s: %d phases of %s each, floor and stsd taking turns", name, run.Mode, spec.Phases, loadPhase)
	fc, sc := processCPU(floorPID), processCPU(stsdPID)
	res, err := generateAlternating(ctx, b.self, clientCPU, spec)
	if err != nil {
		return err
	}
	run.FloorCPU, run.StsdCPU = processCPU(floorPID)-fc, processCPU(stsdPID)-sc
	run.Floor, run.Stsd = combine(res.Sides[:1]), combine(res.Sides[1:])
	run.FloorSlices, run.StsdSlices = res.PhaseRPS[0], res.PhaseRPS[1]
	run.GenCPU = res.UserCPU + res.SysCPU
	b.logf("  phases, k req/s: floor %s; stsd %s", kiloList(run.FloorSlices), kiloList(run.StsdSlices))
	b.logf("  floor %.0f req/s p99 %.2f ms %.1f µs CPU/req; stsd %.0f req/s p99 %.2f ms %.1f µs CPU/req (errors %d/%d); ratio %.3f, paired median %.3f",
		run.Floor.RPS, run.Floor.Latency.P99*1e3, cpuPerRequest(run.FloorCPU, run.Floor)*1e6,
		run.Stsd.RPS, run.Stsd.Latency.P99*1e3, cpuPerRequest(run.StsdCPU, run.Stsd)*1e6, run.Floor.Errors, run.Stsd.Errors,
		run.Stsd.RPS/run.Floor.RPS, run.pairedRatio().Median)
	return nil
}

// doGetURL is a plain GET.
func doGetURL(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	return doGet(req)
}

// devEndpoints are profile dev's bound IMDS and ECS endpoints, their
// tokens, and the credential bodies they serve (the floors' bytes).
type devEndpoints struct {
	imdsAddr, ecsAddr   string
	imdsToken, ecsToken string
	imdsBody, ecsBody   []byte
}

func (w *world) devEndpoints(ctx context.Context) (*devEndpoints, error) {
	st, err := w.status(ctx)
	if err != nil {
		return nil, err
	}
	e := &devEndpoints{imdsAddr: st.endpoint("dev", "imds"), ecsAddr: st.endpoint("dev", "ecs")}
	if e.imdsToken, err = imdsToken(ctx, e.imdsAddr); err != nil {
		return nil, err
	}
	if e.imdsBody, err = imdsBody(ctx, e.imdsAddr, e.imdsToken, "dev"); err != nil {
		return nil, err
	}
	if e.ecsToken, err = w.ecsToken("dev"); err != nil {
		return nil, err
	}
	if e.ecsBody, err = ecsBody(ctx, e.ecsAddr, e.ecsToken, "dev"); err != nil {
		return nil, err
	}
	return e, nil
}

// pairedRatio summarizes stsd's req/s over the floor's, phase by phase:
// in the ABBA order stsd's k-th phase ran right before or after the
// floor's k-th, so each ratio compares the two at one moment of the
// machine's speed.
func (e endpointRun) pairedRatio() dist { return summarize(ratios(e.StsdSlices, e.FloorSlices)) }

// aaTolerance is how far from 1 a mode's A/A control may read for its
// rows to be judged. On this shared 2-CPU host 23 pinned controls read
// 0.97–1.05 (SD ~0.02), and one under heavy steal (other guests taking a
// quarter of the CPUs) 0.93: a control outside this says the run was
// noisier than the rows' margin over their target.
const aaTolerance = 0.03

// endpointTargets judge the ratio of the totals, which holds every cost
// however rare; the paired median is shown beside it. A row is met only
// when its mode's A/A control shows the run could tell (aaTolerance).
// The controls are no target.
func (r *report) endpointTargets() []target {
	control := map[string]float64{}
	for _, e := range r.endpoints {
		if e.Control {
			control[e.Mode] = e.Stsd.RPS / e.Floor.RPS
		}
	}
	var out []target
	for _, e := range r.endpoints {
		if e.Control {
			continue
		}
		pr := e.pairedRatio()
		ratio := e.Stsd.RPS / e.Floor.RPS
		aa, ok := control[e.Mode]
		quiet := ok && math.Abs(aa-1) <= aaTolerance
		text := fmt.Sprintf("%s (totals over %d phases each; paired median %s; A/A control %s)", x(ratio), pr.N, x(pr.Median), x(aa))
		switch {
		case !ok:
			text += "; no A/A control ran, so the run cannot be judged"
		case !quiet:
			text += fmt.Sprintf("; run too noisy to judge (A/A control more than %.2f from 1): run again on a quieter machine", aaTolerance)
		}
		out = append(out, target{
			figure: fmt.Sprintf("%s credential GET throughput, %s", e.Endpoint, e.Mode),
			median: ms(e.Stsd.Latency.Median) + fmt.Sprintf(" (%.0f req/s)", e.Stsd.RPS), p99: ms(e.Stsd.Latency.P99),
			floor: fmt.Sprintf("%.0f req/s", e.Floor.RPS),
			ratio: text,
			goal:  fmt.Sprintf("≥ 0.9× floor req/s, A/A control within %.2f of 1", aaTolerance),
			met:   ratio >= 0.9 && e.Stsd.Errors == 0 && quiet,
		})
	}
	return out
}
