package main

import (
	"context"
	"fmt"
	"os"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/setup"
	"github.com/stsd/stsd/keys"
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
	err = setup.Run(ctx, setup.Options{In: e.stdin, Out: e.stdout, Yes: *yes, ConfigPath: path, Custody: newCustody(e, path)})
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd init: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// custody moves init's key into the keyring, as `stsd key import` does.
type custody struct {
	e       *env
	backend string // what [keyring] backend resolves to here
}

// newCustody is the keyring of the config at path (when it loads; else
// the default, auto).
func newCustody(e *env, path string) *custody {
	var kr config.Keyring
	if cfg, err := config.Load(path, config.Options{}); err == nil {
		kr = cfg.Keyring
	}
	backend := kr.Backend
	if backend == "" || backend == "auto" {
		backend = keys.AutoBackend(kr)
	}
	return &custody{e: e, backend: backend}
}

func (c *custody) Store() string { return "the keyring (" + c.backend + ")" }

func (c *custody) Move(ctx context.Context, cfg *config.Config, profile string) error {
	_, err := c.e.keyStores(cfg).Import(ctx, profile)
	return err
}
