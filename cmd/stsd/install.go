package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/install"
)

// serviceFlags binds the flags of install, uninstall, start and stop.
type serviceFlags struct {
	user, dryRun, noStart bool
	init                  string
}

func (e *env) serviceFlagSet(name string, sf *serviceFlags) *flag.FlagSet {
	fs := e.flags(name)
	fs.BoolVar(&sf.user, "user", false, "a per-user service (the default)")
	fs.StringVar(&sf.init, "init", "", "the service manager (default: this host's)")
	if name == "install" || name == "uninstall" {
		fs.BoolVar(&sf.dryRun, "dry-run", false, "print what would be written and run; change nothing")
	}
	if name == "install" {
		fs.BoolVar(&sf.noStart, "no-start", false, "install without starting")
	}
	return fs
}

// serviceOptions parses args into install.Options; ok is false after a
// usage error was printed.
func (e *env) serviceOptions(name string, args []string) (install.Options, bool) {
	var sf serviceFlags
	fs := e.serviceFlagSet(name, &sf)
	pos, ok := e.parse(fs, args)
	if !ok {
		return install.Options{}, false
	}
	if len(pos) > 0 {
		fmt.Fprintf(e.stderr, "stsd %s: unexpected argument %q: run `stsd %s -h` for usage\n", name, pos[0], name)
		return install.Options{}, false
	}
	if sf.user && e.system {
		fmt.Fprintf(e.stderr, "stsd %s: --user and --system exclude each other\n", name)
		return install.Options{}, false
	}
	o := install.Options{System: e.system, DryRun: sf.dryRun, NoStart: sf.noStart, Stdout: e.stdout, Stderr: e.stderr}
	if sf.init != "" {
		i, err := install.ParseInit(sf.init)
		if err != nil {
			fmt.Fprintf(e.stderr, "stsd %s: %v\n", name, err)
			return install.Options{}, false
		}
		o.Init = i
	}
	return o, true
}

// serviceExit prints err for command name and returns its exit code.
func (e *env) serviceExit(name string, err error) int {
	var ce config.Errors
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ce):
		e.printConfigError(err)
		fmt.Fprintf(e.stderr, "stsd %s: the config has problems: fix them (stsd check) and run it again\n", name)
		return exitUsage
	case errors.Is(err, install.ErrUserWindows):
		fmt.Fprintf(e.stderr, "stsd %s: %v\n", name, err)
		return exitUsage
	}
	fmt.Fprintf(e.stderr, "stsd %s: %v\n", name, err)
	return exitFailure
}

func cmdInstall(ctx context.Context, e *env, args []string) int {
	o, ok := e.serviceOptions("install", args)
	if !ok {
		return exitUsage
	}
	path, err := config.ResolvePath(e.configFlag, e.system)
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd install: %v\n", err)
		return exitUsage
	}
	o.ConfigPath = path
	return e.serviceExit("install", install.Install(ctx, o))
}

func cmdUninstall(ctx context.Context, e *env, args []string) int {
	o, ok := e.serviceOptions("uninstall", args)
	if !ok {
		return exitUsage
	}
	return e.serviceExit("uninstall", install.Uninstall(ctx, o))
}

func cmdStart(ctx context.Context, e *env, args []string) int {
	return e.control(ctx, "start", "stsd service started", args, install.Start)
}

func cmdStop(ctx context.Context, e *env, args []string) int {
	return e.control(ctx, "stop", "stsd service stopped", args, install.Stop)
}

// control runs `stsd start|stop`, printing done once it worked.
func (e *env) control(ctx context.Context, name, done string, args []string, do func(context.Context, install.Options) error) int {
	o, ok := e.serviceOptions(name, args)
	if !ok {
		return exitUsage
	}
	if code := e.serviceExit(name, do(ctx, o)); code != exitOK {
		return code
	}
	fmt.Fprintln(e.stdout, done)
	return exitOK
}

func cmdConfigureProfile(_ context.Context, e *env, args []string) int {
	fs := e.flags("configure-profile")
	all := fs.Bool("all", false, "every profile of the stsd config")
	awsConfig := fs.String("aws-config", "", "the AWS config file (default $AWS_CONFIG_FILE, else ~/.aws/config)")
	binary := fs.String("binary", "", "the stsd-credential-process to name (default: the one beside stsd)")
	dryRun := fs.Bool("dry-run", false, "print the change; write nothing")
	pos, ok := e.parse(fs, args)
	if !ok {
		return exitUsage
	}
	if *all == (len(pos) > 0) {
		fmt.Fprintln(e.stderr, "stsd configure-profile: give profile names or --all: stsd configure-profile PROFILE… | --all")
		return exitUsage
	}
	cfg, ok := e.config()
	if !ok {
		return exitUsage
	}
	err := install.ConfigureProfiles(install.ProfileOptions{
		Config:    cfg,
		Profiles:  pos,
		All:       *all,
		AWSConfig: *awsConfig,
		Binary:    *binary,
		DryRun:    *dryRun,
		Stdout:    e.stdout,
	})
	var refused install.Refusals
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &refused):
		for _, r := range refused {
			fmt.Fprintf(e.stderr, "stsd configure-profile: %s\n", r)
		}
		return exitUsage
	}
	fmt.Fprintf(e.stderr, "stsd configure-profile: %v\n", err)
	return exitFailure
}
