package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/stsd/stsd/cache"
	"github.com/stsd/stsd/daemon"
	"github.com/stsd/stsd/internal/paths"
)

func cmdRun(ctx context.Context, e *env, args []string) int {
	fs := e.flags("run")
	if _, ok := e.parse(fs, args); !ok {
		return exitUsage
	}
	cfg, err := e.loadConfig()
	if err != nil {
		e.printConfigError(err)
		return exitUsage
	}
	log, err := e.logger(cfg.LogLevel)
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd run: %v\n", err)
		return exitUsage
	}
	for _, w := range cfg.Warnings {
		log.Warn("config warning", "event", "config_warning", "warning", w.Error())
	}
	layout := paths.Layout{System: e.system}
	dir, err := layout.CacheDir()
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd run: cache dir: %v\n", err)
		return exitFailure
	}
	store, err := cache.Open(dir)
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd run: %v\n", err)
		return exitFailure
	}
	sock, err := layout.Socket()
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd run: socket: %v\n", err)
		return exitFailure
	}
	sup, err := daemon.New(daemon.Options{Config: cfg, Store: store, Socket: sock, Logger: log, Version: version})
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd run: %v\n", err)
		return exitFailure
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			log.Warn("reload not supported yet: restart stsd to apply config changes", "event", "reload_unsupported")
		}
	}()
	if err := sup.Run(ctx); err != nil {
		fmt.Fprintf(e.stderr, "stsd run: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// dial returns a client for the first daemon that answers, trying the user
// socket then the system one.
func dial(ctx context.Context, e *env) (*daemon.Client, *daemon.Status, error) {
	var socks []string
	if e.system {
		s, _ := paths.Layout{System: true}.Socket()
		socks = []string{s}
	} else {
		socks = paths.Sockets()
	}
	var firstErr error
	for _, s := range socks {
		c := daemon.NewClient(s)
		st, err := c.Status(ctx)
		if err == nil {
			return c, st, nil
		}
		if !errors.Is(err, daemon.ErrNoDaemon) {
			return nil, nil, err
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, nil, fmt.Errorf("%w (tried %s): start it with `stsd run`, or `stsd start` for the installed service", daemon.ErrNoDaemon, strings.Join(socks, ", "))
}

func cmdStatus(ctx context.Context, e *env, args []string) int {
	fs := e.flags("status")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, ok := e.parse(fs, args); !ok {
		return exitUsage
	}
	_, st, err := dial(ctx, e)
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd status: %v\n", err)
		return exitFailure
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

// profileCommand runs one of the per-profile control calls.
func profileCommand(ctx context.Context, e *env, name string, args []string, call func(*daemon.Client, context.Context, string) error, done string) int {
	fs := e.flags(name)
	pos, ok := e.parse(fs, args)
	if !ok {
		return exitUsage
	}
	if len(pos) != 1 {
		fmt.Fprintf(e.stderr, "stsd %s: give exactly one profile: stsd %s PROFILE\n", name, name)
		return exitUsage
	}
	c, _, err := dial(ctx, e)
	if err == nil {
		err = call(c, ctx, pos[0])
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd %s: %v\n", name, err)
		return exitFailure
	}
	fmt.Fprintf(e.stdout, done+"\n", pos[0])
	return exitOK
}

func cmdRefresh(ctx context.Context, e *env, args []string) int {
	return profileCommand(ctx, e, "refresh", args, (*daemon.Client).Refresh, "refresh of %s requested")
}

func cmdClear(ctx context.Context, e *env, args []string) int {
	return profileCommand(ctx, e, "clear", args, (*daemon.Client).Clear, "cached credentials of %s dropped")
}
