//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// loadSpec is one closed-loop load run: Conns keep-alive connections, each
// sending Request and reading the reply, back to back, for Warmup (not
// recorded) then Duration. The generator is bounded: at most Conns
// requests in flight, a deadline on every connection, a cap on requests.
type loadSpec struct {
	Addr     string
	Request  []byte // a whole HTTP/1.1 request
	Want     []byte // the body every 200 must carry
	Conns    int
	Warmup   time.Duration
	Duration time.Duration
}

// maxRequests caps one run's requests (memory for latencies: 8 B each).
const maxRequests = 20_000_000

// loadResult is what a load run measured.
type loadResult struct {
	Requests   int64
	Errors     int64
	FirstError string
	Seconds    float64
	RPS        float64
	Latency    dist // seconds
	UserCPU    float64
	SysCPU     float64
	// Samples are the latencies in nanoseconds, so that slices of a run
	// merge exactly (combine); the report never prints them.
	Samples []int64 `json:",omitempty"`
}

// combine merges the results of slices of one run.
func combine(rs []loadResult) loadResult {
	var out loadResult
	var all []float64
	for _, r := range rs {
		out.Requests += r.Requests
		out.Errors += r.Errors
		out.Seconds += r.Seconds
		out.UserCPU += r.UserCPU
		out.SysCPU += r.SysCPU
		if out.FirstError == "" {
			out.FirstError = r.FirstError
		}
		for _, ns := range r.Samples {
			all = append(all, time.Duration(ns).Seconds())
		}
	}
	if out.Seconds > 0 {
		out.RPS = float64(out.Requests) / out.Seconds
	}
	out.Latency = summarize(all)
	return out
}

// runLoad is the generator; it runs in its own process (see loadCmd) so it
// can be pinned to its own core.
func runLoad(spec loadSpec) loadResult {
	var (
		wg    sync.WaitGroup
		total atomic.Int64
		fails failures
	)
	lats := make([][]time.Duration, spec.Conns)
	// Requests that start in [warmEnd, end) are the sample: RPS is their
	// count over Duration.
	warmEnd := time.Now().Add(spec.Warmup)
	end := warmEnd.Add(spec.Duration)
	for c := range spec.Conns {
		wg.Go(func() {
			lats[c] = make([]time.Duration, 0, 1<<16)
			cl := newClient(loadTarget{spec.Addr, spec.Request, spec.Want}, end.Add(10*time.Second), &fails)
			defer cl.close()
			for {
				t0 := time.Now()
				if t0.After(end) || total.Load() >= maxRequests {
					break
				}
				if cl.do() && t0.After(warmEnd) {
					lats[c] = append(lats[c], time.Since(t0))
					total.Add(1)
				}
			}
		})
	}
	wg.Wait()
	res := loadResult{Seconds: spec.Duration.Seconds()}
	fails.into(&res)
	res.Samples = flatten(lats)
	res.Requests = int64(len(res.Samples))
	res.RPS = float64(res.Requests) / res.Seconds
	res.UserCPU, res.SysCPU = selfCPU()
	return res
}

// loadTarget is a server and the request it is sent.
type loadTarget struct {
	Addr    string
	Request []byte // a whole HTTP/1.1 request
	Want    []byte // the body every 200 must carry
}

// altSpec is a closed-loop load on two servers that take turns: time is
// cut into phases of Phase each, owned A B B A, A B B A, …, and each
// side's Conns keep-alive connections send only in that side's phases.
// Turns this short put both sides through every spell of the machine's
// speed alike (on a shared host those last seconds), so their totals
// compare without drift. The phases of the first Warmup are not recorded,
// and neither are requests that start in a phase's first Settle, while
// the other side's last replies drain.
type altSpec struct {
	Targets [2]loadTarget
	Conns   int // per side
	Warmup  time.Duration
	Phase   time.Duration
	Settle  time.Duration
	Phases  int // measured phases per side; even, so ABBA quads are whole
}

// altResult is what an alternating load measured.
type altResult struct {
	// Sides are each side's requests over its measured phases (Seconds:
	// their counted time; UserCPU and SysCPU are zero: see the fields
	// below).
	Sides [2]loadResult
	// PhaseRPS is each side's req/s in each of its measured phases, in
	// order: side 0's k-th phase ran right before or after side 1's k-th.
	PhaseRPS [2][]float64
	// UserCPU and SysCPU are the generator's own, both sides together.
	UserCPU, SysCPU float64
}

// abbaOwner is the side that owns phase i: A B B A, A B B A, ….
func abbaOwner(i int) int {
	if i%4 == 0 || i%4 == 3 {
		return 0
	}
	return 1
}

// warmPhases is how many phases cover d, rounded up to whole ABBA quads.
func warmPhases(d, phase time.Duration) int {
	n := int((d + phase - 1) / phase)
	return (n + 3) / 4 * 4
}

// runAlternating is the generator of an altSpec.
func runAlternating(spec altSpec) altResult {
	warm := warmPhases(spec.Warmup, spec.Phase)
	all := warm + 2*spec.Phases
	t0 := time.Now()
	end := t0.Add(time.Duration(all) * spec.Phase)
	var (
		wg    sync.WaitGroup
		total atomic.Int64
		fails [2]failures
	)
	lats := make([][]time.Duration, 2*spec.Conns)
	counts := make([][]int32, 2*spec.Conns) // by connection, then phase
	for c := range 2 * spec.Conns {
		side := c % 2
		wg.Go(func() {
			lats[c] = make([]time.Duration, 0, 1<<14)
			counts[c] = make([]int32, all)
			cl := newClient(spec.Targets[side], end.Add(10*time.Second), &fails[side])
			defer cl.close()
			for {
				now := time.Now()
				i := int(now.Sub(t0) / spec.Phase)
				if i >= all || total.Load() >= maxRequests {
					return
				}
				if abbaOwner(i) != side {
					j := i + 1
					for abbaOwner(j) != side {
						j++
					}
					if j >= all {
						return
					}
					time.Sleep(time.Until(t0.Add(time.Duration(j) * spec.Phase)))
					continue
				}
				counted := i >= warm && now.Sub(t0.Add(time.Duration(i)*spec.Phase)) >= spec.Settle
				if cl.do() && counted {
					lats[c] = append(lats[c], time.Since(now))
					counts[c][i]++
					total.Add(1)
				}
			}
		})
	}
	wg.Wait()
	var res altResult
	counted := (spec.Phase - spec.Settle).Seconds()
	for side := range 2 {
		var sideLats [][]time.Duration
		for c := side; c < len(lats); c += 2 {
			sideLats = append(sideLats, lats[c])
		}
		r := loadResult{Seconds: float64(spec.Phases) * counted}
		fails[side].into(&r)
		r.Samples = flatten(sideLats)
		r.Requests = int64(len(r.Samples))
		r.RPS = float64(r.Requests) / r.Seconds
		res.Sides[side] = r
		for i := warm; i < all; i++ {
			if abbaOwner(i) != side {
				continue
			}
			var n int32
			for c := side; c < len(counts); c += 2 {
				n += counts[c][i]
			}
			res.PhaseRPS[side] = append(res.PhaseRPS[side], float64(n)/counted)
		}
	}
	res.UserCPU, res.SysCPU = selfCPU()
	return res
}

// failures counts a generator's bad replies and keeps the first.
type failures struct {
	n     atomic.Int64
	first atomic.Pointer[string]
}

func (f *failures) add(err error) {
	f.n.Add(1)
	msg := err.Error()
	f.first.CompareAndSwap(nil, &msg)
}

func (f *failures) into(r *loadResult) {
	r.Errors = f.n.Load()
	if p := f.first.Load(); p != nil {
		r.FirstError = *p
	}
}

// client is one keep-alive connection of a generator to its target,
// redialled when the server closes it.
type client struct {
	t        loadTarget
	deadline time.Time
	fails    *failures
	conn     net.Conn
	br       *bufio.Reader
	buf      []byte
	first    bool // the next reply is the connection's first
}

func newClient(t loadTarget, deadline time.Time, f *failures) *client {
	return &client{t: t, deadline: deadline, fails: f, buf: make([]byte, 64<<10)}
}

// do sends the request once and checks the reply (status 200, the body's
// length, and on a connection's first reply its bytes); false, counted
// as a failure, when anything is wrong.
func (c *client) do() bool {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.t.Addr, 5*time.Second)
		if err != nil {
			c.fails.add(err)
			time.Sleep(10 * time.Millisecond)
			return false
		}
		conn.SetDeadline(c.deadline)
		c.conn, c.br, c.first = conn, bufio.NewReaderSize(conn, 16<<10), true
	}
	if _, err := c.conn.Write(c.t.Request); err != nil {
		c.fails.add(err)
		c.close()
		return false
	}
	status, body, keep, err := readResponse(c.br, c.buf)
	first := c.first
	c.first = false
	if err != nil || !keep {
		c.close()
	}
	switch {
	case err != nil:
		c.fails.add(err)
	case status != 200:
		c.fails.add(fmt.Errorf("status %d: %.200s", status, body))
	case len(body) != len(c.t.Want) || first && !bytes.Equal(body, c.t.Want):
		c.fails.add(fmt.Errorf("body of %d bytes differs from the expected %d", len(body), len(c.t.Want)))
	default:
		return true
	}
	return false
}

func (c *client) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// flatten is the latencies of every connection, in nanoseconds.
func flatten(lats [][]time.Duration) []int64 {
	var out []int64
	for _, l := range lats {
		for _, d := range l {
			out = append(out, int64(d))
		}
	}
	return out
}

// selfCPU is this process's user and system CPU time, in seconds.
func selfCPU() (user, sys float64) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()).Seconds(), time.Duration(ru.Stime.Nano()).Seconds()
}

// readResponse reads one HTTP/1.1 response with a Content-Length body
// into buf. keep is false when the server will close the connection.
func readResponse(br *bufio.Reader, buf []byte) (status int, body []byte, keep bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, nil, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, nil, false, fmt.Errorf("bad status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, false, fmt.Errorf("bad status line %q", line)
	}
	keep = line[7] == '1' // HTTP/1.1 keeps the connection by default
	length := -1
	for {
		h, err := br.ReadSlice('\n')
		if err != nil {
			return 0, nil, false, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		k, v, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			return 0, nil, false, fmt.Errorf("bad header %q", h)
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			length, err = strconv.Atoi(string(v))
			if err != nil || length < 0 || length > len(buf) {
				return 0, nil, false, fmt.Errorf("bad Content-Length %q", v)
			}
		case bytes.EqualFold(k, []byte("Connection")):
			if bytes.EqualFold(v, []byte("close")) {
				keep = false
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			return 0, nil, false, fmt.Errorf("unsupported Transfer-Encoding %q", v)
		}
	}
	if length < 0 {
		return 0, nil, false, errors.New("no Content-Length")
	}
	if _, err := io.ReadFull(br, buf[:length]); err != nil {
		return 0, nil, false, err
	}
	return status, buf[:length], keep, nil
}

// loadCmd is the `load` subcommand: a loadSpec as JSON on stdin, a
// loadResult as JSON on stdout; with "-alternate", an altSpec and an
// altResult.
func loadCmd(args []string) int {
	if len(args) == 1 && args[0] == "-alternate" {
		var spec altSpec
		err := json.NewDecoder(os.Stdin).Decode(&spec)
		if err == nil && (spec.Conns <= 0 || spec.Phase <= spec.Settle || spec.Phases <= 0 || spec.Phases%2 != 0 ||
			time.Duration(spec.Phases)*spec.Phase > 5*time.Minute) {
			err = errors.New("bad spec")
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "stsdbench load:", err)
			return 2
		}
		json.NewEncoder(os.Stdout).Encode(runAlternating(spec))
		return 0
	}
	var spec loadSpec
	if err := json.NewDecoder(os.Stdin).Decode(&spec); err != nil {
		fmt.Fprintln(os.Stderr, "stsdbench load:", err)
		return 2
	}
	if spec.Conns <= 0 || spec.Duration <= 0 || spec.Duration > 5*time.Minute {
		fmt.Fprintln(os.Stderr, "stsdbench load: bad spec")
		return 2
	}
	json.NewEncoder(os.Stdout).Encode(runLoad(spec))
	return 0
}

// generate runs the load generator in a child process (on cpus when set,
// with GOMAXPROCS matching) and returns its result.
func generate(ctx context.Context, self, cpus string, spec loadSpec) (loadResult, error) {
	var res loadResult
	err := runGenerator(ctx, self, cpus, spec.Warmup+spec.Duration, spec, &res)
	return res, err
}

// generateAlternating runs an alternating load in a child process, as
// generate does.
func generateAlternating(ctx context.Context, self, cpus string, spec altSpec) (altResult, error) {
	var res altResult
	d := time.Duration(warmPhases(spec.Warmup, spec.Phase)+2*spec.Phases) * spec.Phase
	err := runGenerator(ctx, self, cpus, d, spec, &res, "-alternate")
	return res, err
}

// runGenerator runs `self load args` for about d with spec on its stdin
// and decodes its stdout into res.
func runGenerator(ctx context.Context, self, cpus string, d time.Duration, spec, res any, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, d+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, append([]string{"load"}, args...)...)
	cmd.Env = cleanEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, _ := json.Marshal(spec)
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := startOn(cmd, cpus)
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		return fmt.Errorf("load generator: %w: %s", err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), res); err != nil {
		return fmt.Errorf("load generator output: %w", err)
	}
	return nil
}

// httpRequest is a GET of path on addr with extra header lines.
func httpRequest(addr, path string, headers ...string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: stsdbench\r\nAccept: */*\r\n", path, addr)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}
