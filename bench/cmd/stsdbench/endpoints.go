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

// loadSlices is how many slices each side's load time is cut into. The
// machine's own speed moves in spells of seconds (one 2.5 s floor slice
// ran at 44k req/s, the next at 67k, the same binary; on a shared host
// the other guests' load takes up to 40% of the CPUs for minutes):
// twenty-four short slices, floor and stsd alternating ABBA, give both
// sides a like share of each spell, and pair each stsd slice with the
// floor slice next to it in time (pairedRatio).
const loadSlices = 24

// sliceWarmup is each slice's warm-up on its new connections, before the
// slice is measured.
func (b *bench) sliceWarmup() time.Duration { return b.warmup / 4 }

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
	// StsdSlices and FloorSlices are each slice's req/s.
	StsdSlices, FloorSlices []float64
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

// sliceRates is each slice's req/s: how far the machine's speed moved
// during the run.
func sliceRates(rs []loadResult) []float64 {
	f := make([]float64, len(rs))
	for i, r := range rs {
		f[i] = r.RPS
	}
	return f
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
		run := endpointRun{Endpoint: t.name, Mode: mode}
		fl, err := startFloor(ctx, b.httpFloor, b.root, serverCPU, t.body, 1)
		if err != nil {
			return nil, err
		}
		spec := func(addr string) loadSpec {
			return loadSpec{
				Addr: addr, Request: httpRequest(addr, t.path, t.header), Want: t.body,
				Conns: b.conns, Warmup: b.sliceWarmup(), Duration: b.loadTime / loadSlices,
			}
		}
		// Floor and stsd alternate in slices, ABBA ABBA: drift on a shared
		// machine cancels instead of favouring whichever ran first.
		b.logf("load %s %s: %d slices each, floor and stsd alternating", t.name, mode, loadSlices)
		var floorRs, stsdRs []loadResult
		for i := range 2 * loadSlices {
			floorTurn := i%4 == 0 || i%4 == 3
			addr, pid := t.addr, w.daemonPID()
			if floorTurn {
				addr, pid = fl.addrs[0], fl.pid()
			}
			cpu := processCPU(pid)
			r, err := generate(ctx, b.self, clientCPU, spec(addr))
			if err != nil {
				fl.stop()
				return nil, err
			}
			cpu = processCPU(pid) - cpu
			if floorTurn {
				floorRs, run.FloorCPU = append(floorRs, r), run.FloorCPU+cpu
			} else {
				stsdRs, run.StsdCPU = append(stsdRs, r), run.StsdCPU+cpu
			}
		}
		run.FloorSlices, run.StsdSlices = sliceRates(floorRs), sliceRates(stsdRs)
		b.logf("  slices, k req/s: floor %s; stsd %s", kiloList(run.FloorSlices), kiloList(run.StsdSlices))
		run.StsdHWM, run.FloorHWM = peakRSS(w.daemonPID()), peakRSS(fl.pid())
		fl.stop()
		run.Floor, run.Stsd = combine(floorRs), combine(stsdRs)
		b.logf("  floor %.0f req/s p99 %.2f ms %.1f µs CPU/req; stsd %.0f req/s p99 %.2f ms %.1f µs CPU/req (errors %d/%d)",
			run.Floor.RPS, run.Floor.Latency.P99*1e3, cpuPerRequest(run.FloorCPU, run.Floor)*1e6,
			run.Stsd.RPS, run.Stsd.Latency.P99*1e3, cpuPerRequest(run.StsdCPU, run.Stsd)*1e6, run.Floor.Errors, run.Stsd.Errors)
		runs = append(runs, run)
	}
	return runs, nil
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

// pairedRatio summarizes stsd's req/s over the floor's, slice by slice:
// in the ABBA order stsd's k-th slice ran right before or after the
// floor's k-th, so each ratio compares the two at one moment of the
// machine's speed, and the median is not moved by the spell of a few
// slices as the totals' ratio is.
func (e endpointRun) pairedRatio() dist { return summarize(ratios(e.StsdSlices, e.FloorSlices)) }

// endpointTargets judge the paired ratio's median (of an even count, the
// lower of the middle two): the totals' ratio is shown beside it.
func (r *report) endpointTargets() []target {
	var out []target
	for _, e := range r.endpoints {
		pr := e.pairedRatio()
		out = append(out, target{
			figure: fmt.Sprintf("%s credential GET throughput, %s", e.Endpoint, e.Mode),
			median: ms(e.Stsd.Latency.Median) + fmt.Sprintf(" (%.0f req/s)", e.Stsd.RPS), p99: ms(e.Stsd.Latency.P99),
			floor: fmt.Sprintf("%.0f req/s", e.Floor.RPS),
			ratio: fmt.Sprintf("%s (median of %d paired slices; totals %s)", x(pr.Median), pr.N, x(e.Stsd.RPS/e.Floor.RPS)),
			goal:  "≥ 0.9× floor req/s",
			met:   pr.Median >= 0.9 && e.Stsd.Errors == 0,
		})
	}
	return out
}
