package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/stsd/stsd/cache"
	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/daemon"
	"github.com/stsd/stsd/install"
	"github.com/stsd/stsd/internal/cpuprofile"
	"github.com/stsd/stsd/internal/httpserve"
	"github.com/stsd/stsd/internal/paths"
	"github.com/stsd/stsd/internal/wire"
)

func cmdRun(ctx context.Context, e *env, args []string) int {
	fs := e.flags("run")
	profile := fs.String("cpu-profile", "", "debug: write a CPU profile of the whole run to FILE, a new owner-only file (off by default)")
	if !e.noArgs(fs, args) {
		return exitUsage
	}
	if *profile != "" {
		prof, err := cpuprofile.Start(*profile)
		if err != nil {
			fmt.Fprintf(e.stderr, "stsd run: %v\n", err)
			return exitUsage
		}
		// Deferred first, so it runs last: the profile covers the whole run.
		defer func() {
			if err := prof.Stop(); err != nil {
				fmt.Fprintf(e.stderr, "stsd run: %v\n", err)
			}
		}()
	}
	if err := daemon.Harden(); err != nil {
		fmt.Fprintf(e.stderr, "stsd run: %v\n", err)
		return exitFailure
	}
	cfg, ok := e.config()
	if !ok {
		return exitUsage
	}
	// The endpoints' access lines are batched (written within a second,
	// and at exit); every other line, and this command's own errors, at
	// once and in order after them.
	lb := httpserve.NewLogBuffer(e.stderr, httpserve.LogBufferOptions{})
	defer lb.Close()
	stderr := lb.Direct()
	log, err := e.loggerTo(stderr, cfg.LogLevel)
	if err != nil {
		fmt.Fprintf(stderr, "stsd run: %v\n", err)
		return exitUsage
	}
	access, _ := e.loggerTo(lb.Batched(), cfg.LogLevel)
	for _, w := range cfg.Warnings {
		log.Warn("config warning", "event", "config_warning", "warning", w.Error())
	}
	layout := paths.Layout{System: e.system}
	store, err := cache.OpenLayout(layout)
	if err != nil {
		fmt.Fprintf(stderr, "stsd run: %v\n", err)
		return exitFailure
	}
	sock, err := layout.Socket()
	if err != nil {
		fmt.Fprintf(stderr, "stsd run: socket: %v\n", err)
		return exitFailure
	}
	path := cfg.Path
	sup, err := daemon.New(daemon.Options{Config: cfg, Store: store, Socket: sock, ReadyDir: layout.ReadyDir(), Logger: log, AccessLogger: access, Version: version, Passphrase: e.passphrase(cfg),
		Load: func() (*config.Config, error) { return config.Load(path, config.Options{System: e.system}) }})
	if err != nil {
		fmt.Fprintf(stderr, "stsd run: %v\n", err)
		return exitFailure
	}
	return runSupervisor(ctx, sup, log, stderr)
}

// runSupervisor runs sup until ctx ends (SIGTERM, Ctrl-C), reloading it
// on SIGHUP and returning unused memory on the memory signal.
func runSupervisor(ctx context.Context, sup *daemon.Supervisor, log *slog.Logger, stderr io.Writer) int {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	mem := make(chan os.Signal, 1) // buffered 1: a flood of signals is one release at a time
	if memorySignal != nil {
		signal.Notify(mem, memorySignal)
		defer signal.Stop(mem)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// Cancel first, then join: the goroutine below ends with ctx.
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				_ = sup.Reload(ctx, "SIGHUP") // the daemon logs the outcome
			case <-mem:
				daemon.ReleaseMemory(log)
			}
		}
	})
	// Under the Windows service manager this also answers its control
	// protocol; elsewhere it is sup.Run.
	if err := install.RunService(ctx, sup.Run); err != nil {
		fmt.Fprintf(stderr, "stsd run: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// dial returns a client for the first daemon that answers, and its
// status.
func dial(ctx context.Context, e *env) (*daemon.Client, *daemon.Status, error) {
	return e.resolver().Daemon(ctx)
}

func cmdStatus(ctx context.Context, e *env, args []string) int {
	fs := e.flags("status")
	asJSON := fs.Bool("json", false, "print JSON")
	if !e.noArgs(fs, args) {
		return exitUsage
	}
	_, st, err := dial(ctx, e)
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd status: %v\n", err)
		if svc, serr := install.State(install.Options{System: e.system}); serr == nil {
			fmt.Fprintf(e.stderr, "service: %s\n", svc)
		}
		return exitFailure
	}
	if svc, serr := install.State(install.Options{System: e.system}); serr == nil {
		st.Service = svc
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(st)
	} else {
		st.WriteTable(e.stdout, time.Now())
	}
	if st.Failing() {
		return exitFailure
	}
	return exitOK
}

// profileCall is a per-profile control call: online talks to the daemon;
// offline, when set, does the job itself when no daemon runs.
type profileCall struct {
	name, done string
	online     func(c *daemon.Client, ctx context.Context, profile string) error
	offline    func(e *env, profile string) error
}

func (pc profileCall) run(ctx context.Context, e *env, args []string) int {
	fs := e.flags(pc.name)
	pos, ok := e.parse(fs, args)
	if !ok {
		return exitUsage
	}
	if len(pos) != 1 {
		fmt.Fprintf(e.stderr, "stsd %s: give exactly one profile: stsd %s PROFILE\n", pc.name, pc.name)
		return exitUsage
	}
	c, _, err := dial(ctx, e)
	switch {
	case err == nil:
		err = pc.online(c, ctx, pos[0])
	case errors.Is(err, daemon.ErrNoDaemon) && pc.offline != nil:
		err = pc.offline(e, pos[0])
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd %s: %v\n", pc.name, err)
		return exitFailure
	}
	fmt.Fprintf(e.stdout, pc.done+"\n", pos[0])
	return exitOK
}

// cmdReload asks the daemon to re-read its config; a broken config is
// refused with every problem and the old one keeps running.
func cmdReload(ctx context.Context, e *env, args []string) int {
	fs := e.flags("reload")
	if !e.noArgs(fs, args) {
		return exitUsage
	}
	c, _, err := dial(ctx, e)
	if err == nil {
		err = c.Reload(ctx)
	}
	var ae *daemon.APIError
	if errors.As(err, &ae) && ae.Code == wire.CodeInvalidConfig {
		fmt.Fprintf(e.stderr, "stsd reload: %v\n", err)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd reload: %v\n", err)
		return exitFailure
	}
	fmt.Fprintln(e.stdout, "config reloaded")
	return exitOK
}

func cmdRefresh(ctx context.Context, e *env, args []string) int {
	return profileCall{name: "refresh", done: "refresh of %s requested", online: (*daemon.Client).Refresh}.run(ctx, e, args)
}

// cmdClear asks the daemon to drop P's credentials; with no daemon it
// removes P's cache entry itself.
func cmdClear(ctx context.Context, e *env, args []string) int {
	return profileCall{name: "clear", done: "cached credentials of %s dropped", online: (*daemon.Client).Clear,
		offline: func(e *env, p string) error {
			store, err := cache.OpenLayout(paths.Layout{System: e.system})
			if err != nil {
				return err
			}
			return store.Remove(p)
		}}.run(ctx, e, args)
}
