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
		wg       sync.WaitGroup
		errs     atomic.Int64
		total    atomic.Int64
		firstErr atomic.Pointer[string]
	)
	fail := func(err error) {
		errs.Add(1)
		msg := err.Error()
		firstErr.CompareAndSwap(nil, &msg)
	}
	lats := make([][]time.Duration, spec.Conns)
	// Requests that start in [warmEnd, end) are the sample: RPS is their
	// count over Duration.
	warmEnd := time.Now().Add(spec.Warmup)
	end := warmEnd.Add(spec.Duration)
	for c := range spec.Conns {
		wg.Go(func() {
			lats[c] = make([]time.Duration, 0, 1<<16)
			var conn net.Conn
			var br *bufio.Reader
			buf := make([]byte, 64<<10)
			first := true
			for {
				t0 := time.Now()
				if t0.After(end) || total.Load() >= maxRequests {
					break
				}
				if conn == nil {
					var err error
					conn, err = net.DialTimeout("tcp", spec.Addr, 5*time.Second)
					if err != nil {
						fail(err)
						time.Sleep(10 * time.Millisecond)
						continue
					}
					conn.SetDeadline(end.Add(10 * time.Second))
					br = bufio.NewReaderSize(conn, 16<<10)
					first = true
				}
				if _, err := conn.Write(spec.Request); err != nil {
					fail(err)
					conn.Close()
					conn = nil
					continue
				}
				status, body, keep, err := readResponse(br, buf)
				d := time.Since(t0)
				switch {
				case err != nil:
					fail(err)
				case status != 200:
					fail(fmt.Errorf("status %d: %.200s", status, body))
				case len(body) != len(spec.Want) || first && !bytes.Equal(body, spec.Want):
					fail(fmt.Errorf("body of %d bytes differs from the expected %d", len(body), len(spec.Want)))
				case t0.After(warmEnd):
					lats[c] = append(lats[c], d)
					total.Add(1)
				}
				first = false
				if err != nil || !keep {
					conn.Close()
					conn = nil
				}
			}
			if conn != nil {
				conn.Close()
			}
		})
	}
	wg.Wait()
	res := loadResult{Errors: errs.Load(), Seconds: spec.Duration.Seconds()}
	for _, l := range lats {
		for _, d := range l {
			res.Samples = append(res.Samples, int64(d))
		}
	}
	res.Requests = int64(len(res.Samples))
	res.RPS = float64(res.Requests) / res.Seconds
	if p := firstErr.Load(); p != nil {
		res.FirstError = *p
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		res.UserCPU = time.Duration(ru.Utime.Nano()).Seconds()
		res.SysCPU = time.Duration(ru.Stime.Nano()).Seconds()
	}
	return res
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
// loadResult as JSON on stdout.
func loadCmd() int {
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
	ctx, cancel := context.WithTimeout(ctx, spec.Warmup+spec.Duration+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, "load")
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
		return loadResult{}, fmt.Errorf("load generator: %w: %s", err, stderr.String())
	}
	out := stdout.Bytes()
	var res loadResult
	if err := json.Unmarshal(out, &res); err != nil {
		return loadResult{}, fmt.Errorf("load generator output: %w", err)
	}
	return res, nil
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
