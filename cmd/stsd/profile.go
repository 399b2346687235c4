package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/stsd/stsd/cache"
	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/credproc"
	"github.com/stsd/stsd/daemon"
	"github.com/stsd/stsd/internal/mfa"
	"github.com/stsd/stsd/internal/paths"
	"github.com/stsd/stsd/internal/stsclient"
	"github.com/stsd/stsd/internal/wire"
)

func cmdMFA(ctx context.Context, e *env, args []string) int {
	fs := e.flags("mfa")
	pos, ok := e.parse(fs, args)
	if !ok {
		return exitUsage
	}
	if len(pos) < 1 || len(pos) > 2 {
		fmt.Fprintln(e.stderr, "stsd mfa: usage: stsd mfa PROFILE [CODE]")
		return exitUsage
	}
	code := ""
	if len(pos) == 2 {
		code = pos[1]
	} else if f, ok := e.stdin.(*os.File); ok && isTerminal(f) {
		c, err := mfa.Ask(ctx, "tty", mfa.Options{Profile: pos[0]})
		if err != nil {
			fmt.Fprintf(e.stderr, "stsd mfa: %v\n", err)
			return exitFailure
		}
		code = c
	} else {
		line, _ := bufio.NewReader(e.stdin).ReadString('\n')
		code = strings.TrimSpace(line)
	}
	if !mfa.Valid(code) {
		fmt.Fprintln(e.stderr, "stsd mfa: an MFA code is 6 digits")
		return exitUsage
	}
	c, _, err := dial(ctx, e)
	if err == nil {
		err = c.MFA(ctx, pos[0], code)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd mfa: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "%s refreshed with the MFA code\n", pos[0])
	return exitOK
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func cmdCheck(ctx context.Context, e *env, args []string) int {
	fs := e.flags("check")
	if !e.noArgs(fs, args) {
		return exitUsage
	}
	cfg, ok := e.config()
	if !ok {
		return exitUsage
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(e.stderr, "warning: %s\n", w.Error())
	}
	// What earlier runs learned about the source keys (no network here).
	if store, err := cache.OpenLayout(paths.Layout{System: e.system}); err == nil {
		for _, w := range stsclient.RootWarnings(ctx, cfg, store) {
			fmt.Fprintf(e.stderr, "warning: %s\n", w)
		}
	}
	for _, w := range e.keyStores(cfg).Warnings() {
		fmt.Fprintf(e.stderr, "warning: %s\n", w)
	}
	if problems := e.checkLinkLocal(ctx, cfg); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(e.stderr, p)
		}
		return exitUsage
	}
	fmt.Fprintf(e.stdout, "%s: ok, %d profile(s)\n", cfg.Path, len(cfg.Profiles))
	return exitOK
}

// checkLinkLocal is what would keep the link-local listeners from
// starting in this process; a running daemon's own listeners are no
// problem.
func (e *env) checkLinkLocal(ctx context.Context, cfg *config.Config) []string {
	if len(cfg.LinkLocalListeners()) == 0 {
		return nil
	}
	var serving []string
	if _, st, err := dial(ctx, e); err == nil {
		for _, p := range st.Profiles {
			serving = append(serving, p.Endpoints...)
		}
	}
	return daemon.CheckLinkLocal(ctx, cfg, serving)
}

// cmdCredentialProcess is the full binary's credential_process: the daemon
// (its answer is final), then a cache entry, then one STS call under the
// profile lock.
func cmdCredentialProcess(ctx context.Context, e *env, args []string) int {
	fs := e.flags("credential-process")
	profile := fs.String("profile", "", "the stsd profile")
	pos, ok := e.parse(fs, args)
	if !ok {
		return exitUsage
	}
	if *profile == "" || len(pos) > 0 {
		fmt.Fprintln(e.stderr, "stsd credential-process: usage: stsd credential-process --profile PROFILE")
		return exitUsage
	}
	layout := paths.Layout{System: e.system}
	dir, err := layout.CacheDir()
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd credential-process: cache dir: %v\n", err)
		return exitFailure
	}
	return credproc.Run(ctx, credproc.Options{
		Profile:  *profile,
		Sockets:  layout.Sockets(),
		ReadyDir: layout.ReadyDir(),
		CacheDir: dir,
		Stdout:   e.stdout,
		Stderr:   e.stderr,
		Fallback: func(ctx context.Context) int { return e.directFetch(ctx, *profile) },
	})
}

func (e *env) directFetch(ctx context.Context, profile string) int {
	entry, err := e.resolver().Direct(ctx, profile)
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd credential-process: %v\n", err)
		return exitFailure
	}
	e.stdout.Write(wire.Marshal(entry.Credentials))
	return exitOK
}
