//go:build linux

// Command stsdbench is `make bench`: it measures stsd against physical
// floors measured in the same run, on loopback, in temporary HOMEs, and
// writes bench/REPORT.md.
//
//	stsdbench -bin DIR [-out FILE] [-quick] [-only SECTIONS]
//
// DIR holds stsd and stsd-credential-process as `make build` makes them.
// Every server binds 127.0.0.1 port 0, every loop is bounded in count and
// time, and every process it starts dies with it. `stsdbench load` is the
// load generator it runs in a child process (so it can be pinned).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/stsd/stsd/internal/ststest"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "load" {
		os.Exit(loadCmd(os.Args[2:]))
	}
	os.Exit(run())
}

// bench is one run's settings, shared state and findings.
type bench struct {
	root      string // temp dir for everything
	bin       string // stsd, stsd-credential-process
	self      string // this binary (the load generator)
	httpFloor string // httpfloor binary

	// Endpoint load.
	conns            int
	warmup, loadTime time.Duration
	// Whole-process timing.
	cpRounds int
	cpBudget time.Duration
	// Burst.
	burstClients, burstCycles int
	// Clients.
	botoRounds, cliRounds int
	// quick: -quick (sections shorten their runs).
	quick bool
	// pgo: -pgo (the profile section writes the daemon's merged profiles
	// there, for go build's profile-guided optimization).
	pgo string

	start time.Time
	notes []string
	log   io.Writer
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "[%5.1fs] %s\n", time.Since(b.start).Seconds(), fmt.Sprintf(format, args...))
}

// notef records a sentence for the report's notes.
func (b *bench) notef(format string, args ...any) {
	b.notes = append(b.notes, fmt.Sprintf(format, args...))
	b.logf("note: "+format, args...)
}

func run() int {
	binDir := flag.String("bin", "bin", "`dir` holding stsd and stsd-credential-process")
	out := flag.String("out", "bench/REPORT.md", "report `file`")
	quick := flag.Bool("quick", false, "short runs, to check the harness (numbers are not worth reporting)")
	pgo := flag.String("pgo", "", "write the daemon's CPU profiles of the profile section, merged, to `file` (cmd/stsd/default.pgo: `make pgo`)")
	keep := flag.Bool("keep", false, "keep the work directory (daemon logs, CPU profiles) and print its path")
	only := flag.String("only", "", "comma-separated `sections` to run: credproc,endpoints,profile,clients,burst,broker,rss (default all)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The whole run is bounded: `make bench` must end within ~10 minutes.
	ctx, cancel := context.WithTimeout(ctx, 12*time.Minute)
	defer cancel()

	b := &bench{
		log: os.Stderr, start: time.Now(),
		conns: 50, warmup: 500 * time.Millisecond, loadTime: 10 * time.Second,
		cpRounds: 1000, cpBudget: 60 * time.Second,
		burstClients: 1000, burstCycles: 3,
		botoRounds: 100, cliRounds: 20,
	}
	b.pgo = *pgo
	if b.quick = *quick; b.quick {
		b.loadTime, b.warmup = 2*time.Second, 200*time.Millisecond
		b.cpRounds, b.cpBudget = 30, 10*time.Second
		b.burstCycles, b.botoRounds, b.cliRounds = 1, 10, 3
	}
	var err error
	if b.bin, err = filepath.Abs(*binDir); err != nil {
		fmt.Fprintln(os.Stderr, "stsdbench:", err)
		return 2
	}
	for _, name := range []string{"stsd", "stsd-credential-process"} {
		if _, err := os.Stat(filepath.Join(b.bin, name)); err != nil {
			fmt.Fprintf(os.Stderr, "stsdbench: %v: run `make build` first\n", err)
			return 2
		}
	}
	if b.self, err = os.Executable(); err != nil {
		fmt.Fprintln(os.Stderr, "stsdbench:", err)
		return 1
	}
	if b.root, err = os.MkdirTemp("", "sb"); err != nil { // short: sockets live below
		fmt.Fprintln(os.Stderr, "stsdbench:", err)
		return 1
	}
	if *keep {
		defer fmt.Fprintln(os.Stderr, "stsdbench: kept", b.root)
	} else {
		defer os.RemoveAll(b.root)
	}

	sections := map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			sections[s] = true
		}
	}
	want := func(s string) bool { return len(sections) == 0 || sections[s] }

	rep, err := b.runAll(ctx, want)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stsdbench:", err)
		return 1
	}
	rep.quick = *quick
	rep.notes = b.notes
	rep.elapsed = time.Since(b.start)
	var sb strings.Builder
	rep.write(&sb)
	if err := os.WriteFile(*out, []byte(sb.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "stsdbench:", err)
		return 1
	}
	b.logf("wrote %s", *out)
	if ts := rep.targets(); len(ts) > 0 { // none when only the profile ran
		fmt.Println("Targets:")
		writeTargets(func(format string, args ...any) { fmt.Printf(format, args...) }, ts)
	}
	return 0
}

// standIn is the STS stand-in served over loopback HTTP by this process.
type standIn struct {
	*ststest.Handler
	URL string
	srv *http.Server
}

func startStandIn(o ststest.Options) (*standIn, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := ststest.NewHandler(o)
	s := &standIn{Handler: h, URL: "http://" + ln.Addr().String(), srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	go s.srv.Serve(ln)
	return s, nil
}

func (s *standIn) stop() {
	s.Handler.Close()
	s.srv.Close()
}

// endpointConfig serves dev on IMDS and ECS, ports picked by the kernel.
const endpointConfig = `
[ecs]
listen = "127.0.0.1:0"
token_dir = "~/.local/state/stsd/ecs"

[profiles.dev]
source_profile = "src"
duration = "1h"
imds_listen = "127.0.0.1:0"
`

// runAll runs the chosen sections and gathers the report.
func (b *bench) runAll(ctx context.Context, want func(string) bool) (*report, error) {
	rep := newReport(b)
	b.logf("building the floors")
	b.httpFloor = filepath.Join(b.root, "httpfloor")
	if err := goBuild(ctx, moduleRoot(), b.httpFloor, "./bench/cmd/httpfloor"); err != nil {
		return nil, err
	}
	sts, err := startStandIn(ststest.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	defer sts.stop()

	// World A: the daemon serves dev over the socket, IMDS and ECS.
	a, err := newWorld(b.root, "a", b.bin, sts.URL, endpointConfig, []string{"dev"})
	if err != nil {
		return nil, err
	}
	defer a.remove()

	section := func(name, what string, f func() error) error {
		if !want(name) {
			return nil
		}
		b.logf("%s: %s", name, what)
		before := takeCPU()
		if err := f(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		other, steal, wall := foreign(before, takeCPU())
		rep.loads = append(rep.loads, sectionLoad{name, other, steal, wall})
		b.logf("%s: done in %s; other processes used %.1f CPU-s, steal %.1f CPU-s", name, wall.Round(time.Second), other, steal)
		return nil
	}
	err = section("credproc", "whole-process credential_process runs", func() (err error) {
		rep.credproc, err = b.benchCredproc(ctx, a, sts.URL)
		return err
	})
	if err == nil {
		err = section("endpoints", fmt.Sprintf("%d connections, %s per side", b.conns, b.loadTime), func() (err error) {
			if rep.endpoints, err = b.benchEndpoints(ctx, a); err != nil {
				return err
			}
			b.logf("endpoints: the servers' own CPU, in memory")
			rep.mem, err = b.benchMem(ctx)
			return err
		})
	}
	if err == nil {
		err = section("profile", fmt.Sprintf("the daemon's and the floor's CPU profiles, %s of load each", profileTime), func() (err error) {
			if rep.profiles, err = b.profileEndpoints(ctx, a); err == nil && b.pgo != "" {
				err = b.writePGO(ctx)
			}
			return err
		})
	}
	if err == nil {
		err = section("clients", "botocore and the AWS CLI", func() (err error) {
			rep.clients, err = b.benchClients(ctx, a)
			return err
		})
	}
	if err == nil {
		err = section("burst", fmt.Sprintf("%d clients at the refresh moment", b.burstClients), func() (err error) {
			if rep.bursts, err = b.benchBurst(ctx); err != nil {
				return err
			}
			for _, bu := range rep.bursts {
				if bu.Latency.P99 > burstProfileAbove.Seconds() {
					b.logf("burst: p99 above %s: one more burst under perf", burstProfileAbove)
					rep.burstProfile, err = b.profileBurst(ctx)
					break
				}
			}
			return err
		})
	}
	if err == nil {
		err = section("broker", fmt.Sprintf("synthetic client tables of %v (client, profile) pairs over HTTPS", brokerSizes), func() (err error) {
			rep.broker, err = b.benchBroker(ctx)
			return err
		})
	}
	if err == nil {
		err = section("rss", "idle daemon with 1 and 10 profiles", func() (err error) {
			rep.rss, err = b.benchRSS(ctx, sts.URL)
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// moduleRoot is the repository root: `make bench` runs from there.
func moduleRoot() string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "."
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}
