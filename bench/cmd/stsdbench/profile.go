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
	"strconv"
	"strings"
	"syscall"
	"time"
)

// profileTime is how long perf samples the daemon under load.
const profileTime = 5 * time.Second

// profileEntry is one function's share of the daemon's CPU samples,
// itself and everything it called.
type profileEntry struct {
	Percent float64
	Symbol  string
}

// endpointProfile is where a daemon's CPU goes while it serves one
// endpoint under load.
type endpointProfile struct {
	Endpoint string
	Samples  string // perf's sample count line
	Kernel   float64
	Entries  []profileEntry
}

// interesting are the frames worth showing: stsd's own, the libraries it
// calls per request, and the runtime's big buckets.
var interesting = []string{
	"github.com/stsd/", "log/slog.(*Logger).", "github.com/gorilla/mux.(*Router).ServeHTTP",
	"encoding/json.(*Encoder).Encode", "crypto/hmac.", "net/http.(*conn).readRequest",
	"net/http.(*response).finishRequest", "net/http.(*conn).serve", "runtime.gcBgMarkWorker",
	"runtime.mallocgc", "syscall.write", "syscall.read", "os.(*File).Write", "context.WithDeadline",
	"os.ReadFile", "bytes.Fields",
}

// profileEndpoints runs an unstripped build of the daemon of world w
// under perf while the load generator drives each endpoint, and returns
// the biggest inclusive costs. It needs perf; without it, it says so.
func (b *bench) profileEndpoints(ctx context.Context, w *world) ([]endpointProfile, error) {
	perf, err := exec.LookPath("perf")
	if err != nil {
		b.notef("No CPU profile of the endpoints: perf is not installed.")
		return nil, nil
	}
	symBin, err := b.symbolBuild(ctx)
	if err != nil {
		return nil, err
	}
	saved := w.bin
	w.bin = symBin
	defer func() { w.bin = saved }()
	server, client := "", ""
	if cpus := allowedCPUs(); len(cpus) >= 2 {
		server, client = cpus[0], cpus[1]
	}
	if err := w.startDaemon(ctx, server); err != nil {
		return nil, err
	}
	defer w.stopDaemon()
	e, err := w.devEndpoints(ctx)
	if err != nil {
		return nil, err
	}
	imdsAddr, ecsAddr, tok, ecsTok, imds, ecs := e.imdsAddr, e.ecsAddr, e.imdsToken, e.ecsToken, e.imdsBody, e.ecsBody
	specs := []struct {
		name string
		spec loadSpec
	}{
		{"IMDS", loadSpec{Addr: imdsAddr, Request: httpRequest(imdsAddr, imdsCredsPath+"dev", "X-aws-ec2-metadata-token: "+tok), Want: imds}},
		{"ECS", loadSpec{Addr: ecsAddr, Request: httpRequest(ecsAddr, "/v1/credentials/dev", "Authorization: "+ecsTok), Want: ecs}},
	}
	var out []endpointProfile
	for _, s := range specs {
		s.spec.Conns, s.spec.Warmup, s.spec.Duration = b.conns, time.Second, profileTime+time.Second
		data := filepath.Join(b.root, "perf-"+s.name+".data")
		done := make(chan error, 1)
		go func() {
			_, err := generate(ctx, b.self, client, s.spec)
			done <- err
		}()
		time.Sleep(time.Second) // past the warm-up
		rec := exec.CommandContext(ctx, perf, "record", "-q", "-F", "999", "-g", "-o", data,
			"-p", strconv.Itoa(w.daemonPID()), "--", "sleep", strconv.Itoa(int(profileTime.Seconds())))
		rec.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		recOut, recErr := rec.CombinedOutput()
		if err := <-done; err != nil {
			return nil, err
		}
		if recErr != nil {
			b.notef("No CPU profile of the endpoints: perf record failed (%v): %s", recErr, strings.TrimSpace(string(recOut)))
			return nil, nil
		}
		p, err := readProfile(ctx, perf, data)
		if err != nil {
			return nil, err
		}
		p.Endpoint = s.name
		b.logf("  profile %s: %s, kernel %.0f%%", s.name, p.Samples, p.Kernel)
		out = append(out, p)
	}
	return out, nil
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
