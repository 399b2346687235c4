//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// procSpec is one program whose whole run (fork, exec, runtime start,
// work, exit, reap) is timed.
type procSpec struct {
	name string
	argv []string // argv[0] is the absolute path
	env  []string
	dir  string
	want []byte // stdout must equal this (nil: any stdout, exit 0 only)
}

// timeProc runs p once and returns its wall time, from just before the
// fork to just after the reap. Output goes to pipes read after the exit:
// a credential document (~1.5 KiB) fits in a pipe buffer, so the child
// never blocks and the parent does no work while the child runs.
func timeProc(p procSpec, devnull *os.File) (time.Duration, error) {
	or, ow, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer or.Close()
	er, ew, err := os.Pipe()
	if err != nil {
		ow.Close()
		return 0, err
	}
	defer er.Close()
	attr := &os.ProcAttr{
		Dir: p.dir, Env: p.env,
		Files: []*os.File{devnull, ow, ew},
		Sys:   &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	start := time.Now()
	proc, err := os.StartProcess(p.argv[0], p.argv, attr)
	if err != nil {
		ow.Close()
		ew.Close()
		return 0, err
	}
	st, err := proc.Wait()
	elapsed := time.Since(start)
	ow.Close()
	ew.Close()
	if err != nil {
		return 0, err
	}
	out, _ := io.ReadAll(io.LimitReader(or, 1<<20))
	errOut, _ := io.ReadAll(io.LimitReader(er, 4<<10))
	if !st.Success() {
		return 0, fmt.Errorf("%s: %v: %s", p.name, st, bytes.TrimSpace(errOut))
	}
	if p.want != nil && !bytes.Equal(out, p.want) {
		return 0, fmt.Errorf("%s printed %d bytes, not the expected %d-byte document", p.name, len(out), len(p.want))
	}
	return elapsed, nil
}

// pairedRuns runs every spec once per round, in a fresh random order each
// round (drift and order effects cancel), for at most rounds rounds or
// budget, after warm rounds that are thrown away. samples[i][r] is spec
// i's time in round r; all specs have the same number of samples.
func pairedRuns(ctx context.Context, specs []procSpec, warm, rounds int, budget time.Duration) ([][]float64, error) {
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	samples := make([][]float64, len(specs))
	order := make([]int, len(specs))
	for i := range order {
		order[i] = i
	}
	deadline := time.Now().Add(budget)
	for r := range warm + rounds {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if r >= warm && time.Now().After(deadline) {
			break
		}
		rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			d, err := timeProc(specs[i], devnull)
			if err != nil {
				return nil, err
			}
			if r >= warm {
				samples[i] = append(samples[i], d.Seconds())
			}
		}
	}
	if len(samples[0]) == 0 {
		return nil, errors.New("no rounds within the time budget")
	}
	return samples, nil
}

// Floor programs: minimal static Go binaries, built by the harness from
// these sources (%q is the credential document). The first is the floor;
// the others time pieces of the real binary's work, so a gap to the
// floor can be attributed.
var floorSources = map[string]string{
	// The floor: print the document, nothing else.
	"print": `package main

import "os"

const doc = %q

func main() { os.Stdout.WriteString(doc) }
`,
	// The floor plus the signal handling stsd-credential-process sets up.
	"signal": `package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

const doc = %q

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	_ = ctx
	os.Stdout.WriteString(doc)
}
`,
	// The daemon round trip with raw blocking syscalls: the least any
	// client asking the daemon can cost.
	"rawsock": `package main

import (
	"bytes"
	"os"
	"syscall"
)

const doc = %q

func main() {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		os.Exit(1)
	}
	if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: os.Getenv("XDG_RUNTIME_DIR") + "/stsd/stsd.sock"}); err != nil {
		os.Exit(1)
	}
	syscall.Write(fd, []byte("GET /v1/credentials/dev HTTP/1.0\r\nHost: stsd\r\n\r\n"))
	buf := make([]byte, 64<<10)
	n := 0
	for n < len(buf) {
		m, err := syscall.Read(fd, buf[n:])
		if m <= 0 || err != nil {
			break
		}
		n += m
	}
	_, body, ok := bytes.Cut(buf[:n], []byte("\r\n\r\n"))
	if !ok {
		os.Exit(1)
	}
	os.Stdout.Write(body)
}
`,
	// The daemon's ready file read with raw syscalls (open, fstat, flock
	// probe, read): the least a client using the ready file can cost.
	"readyfile": `package main

import (
	"bytes"
	"os"
	"syscall"
)

const doc = %q

func main() {
	fd, err := syscall.Open(os.Getenv("XDG_RUNTIME_DIR")+"/stsd/ready/dev", syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		os.Exit(1)
	}
	var st syscall.Stat_t
	if syscall.Fstat(fd, &st) != nil || st.Uid != uint32(os.Geteuid()) || syscall.Flock(fd, syscall.LOCK_SH|syscall.LOCK_NB) == nil {
		os.Exit(1)
	}
	buf := make([]byte, st.Size)
	if n, _ := syscall.Read(fd, buf); int64(n) != st.Size {
		os.Exit(1)
	}
	_, body, ok := bytes.Cut(buf, []byte("\n"))
	if !ok {
		os.Exit(1)
	}
	os.Stdout.Write(body)
}
`,
	// The same round trip through package net (its poller and threads).
	"netsock": `package main

import (
	"bytes"
	"io"
	"net"
	"os"
)

const doc = %q

func main() {
	c, err := net.Dial("unix", os.Getenv("XDG_RUNTIME_DIR")+"/stsd/stsd.sock")
	if err != nil {
		os.Exit(1)
	}
	io.WriteString(c, "GET /v1/credentials/dev HTTP/1.0\r\nHost: stsd\r\n\r\n")
	b, _ := io.ReadAll(c)
	_, body, ok := bytes.Cut(b, []byte("\r\n\r\n"))
	if !ok {
		os.Exit(1)
	}
	os.Stdout.Write(body)
}
`,
}

// buildFloors builds every floor program into dir and returns their paths
// by name.
func buildFloors(ctx context.Context, dir string, doc []byte) (map[string]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(dir+"/go.mod", []byte("module floors\n\ngo 1.26\n"), 0o600); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for name, src := range floorSources {
		if err := os.MkdirAll(dir+"/"+name, 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(dir+"/"+name+"/main.go", []byte(fmt.Sprintf(src, doc)), 0o600); err != nil {
			return nil, err
		}
		out[name] = dir + "/bin/" + name
		if err := goBuild(ctx, dir, out[name], "./"+name); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// goBuild builds pkg (in dir's module) like `make build` builds stsd:
// static, trimmed, stripped.
func goBuild(ctx context.Context, dir, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}
