package main

import (
	"context"
	"fmt"
	"os"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/setup"
)

func cmdInit(ctx context.Context, e *env, args []string) int {
	fs := e.flags("init")
	yes := fs.Bool("yes", false, "take every default without asking")
	if !e.noArgs(fs, args) {
		return exitUsage
	}
	if e.system {
		fmt.Fprintln(e.stderr, "stsd init: sets up your own user's stsd; for a system daemon write /etc/stsd/config.toml and run `sudo stsd install --system`")
		return exitUsage
	}
	if f, ok := e.stdin.(*os.File); !*yes && (!ok || !isTerminal(f)) {
		fmt.Fprintln(e.stderr, "stsd init: asks its questions on a terminal: run it in one, or pass --yes to take every default")
		return exitUsage
	}
	path, err := config.ResolvePath(e.configFlag, false)
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd init: %v\n", err)
		return exitUsage
	}
	err = setup.Run(ctx, setup.Options{In: e.stdin, Out: e.stdout, Yes: *yes, ConfigPath: path})
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd init: %v\n", err)
		return exitFailure
	}
	return exitOK
}
