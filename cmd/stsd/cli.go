package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"unicode/utf8"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/wire"
)

// Set by the Makefile with -ldflags -X.
var (
	version = "dev"
	commit  = "unknown"
)

// Exit codes: 0 ok, 1 a runtime failure, 2 a usage or config error.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// command is one row of the command table, the one source of `stsd
// help` (and of completions and man pages to come).
type command struct {
	name    string
	args    string // shown after the name
	summary string
	run     func(ctx context.Context, e *env, args []string) int
}

// commandTable lists every command in help order; some rows document
// several names that share one line.
var commandTable = []command{
	{"run", "", "run the daemon in the foreground", cmdRun},
	{"credential-process", "", "print credentials for --profile P (credential_process)", cmdCredentialProcess},
	{"status", "[--json]", "show every profile of the running daemon", cmdStatus},
	{"check", "", "validate the config; every problem with file:line", cmdCheck},
	{"refresh", "P | clear P", "force a refresh / drop P's cached credentials", cmdRefresh},
	{"clear", "", "", cmdClear},
	{"reload", "", "re-read the config (also SIGHUP and file changes)", cmdReload},
	{"mfa", "P [CODE]", "give the daemon an MFA code for P", cmdMFA},
	{"exec", "P -- CMD [ARG…]", "run CMD with an ECS endpoint + token scoped to P (revoked when CMD exits)", cmdExec},
	{"env", "P [--format F]", "print P's credentials as sh|fish|powershell|json assignments", cmdEnv},
	{"env-hint", "P [--format F]", "print the IMDS/ECS environment lines for P (no secrets)", cmdEnvHint},
	{"container-env", "P [--ttl 12h] [--format env|docker|json] | --list | --revoke ID", "mint a container id for P and print a container's env-file lines (Linux)", cmdContainerEnv},
	{"container-run", "P [--ttl 12h] -- DOCKER-RUN-ARG…", "docker run with a container id for P, revoked when the container exits", cmdContainerRun},
	{"install", "[--user|--system] [--init systemd|launchd|windows] [--dry-run] [--no-start]", "install (or update) and start the OS service", cmdInstall},
	{"uninstall", "| start | stop [--user|--system]", "remove / start / stop the OS service", cmdUninstall},
	{"start", "", "", cmdStart},
	{"stop", "", "", cmdStop},
	{"configure-profile", "P…|--all [--aws-config F] [--dry-run]", "point AWS profiles at stsd (credential_process)", cmdConfigureProfile},
	{"broker", "add-client N --profiles a,b [--cidrs C,…] | rotate-client N | remove-client N | list-clients", "manage HTTPS broker clients (a new token is printed once)", cmdBroker},
	{"version", "", "print version information", cmdVersion},
}

// usage is the help text, from the command table.
func usage() string {
	var b strings.Builder
	b.WriteString("usage: stsd <command> [flags]\n\ncommands:\n")
	const col = 25 // where summaries start
	for _, c := range commandTable {
		if c.summary == "" {
			continue // documented on another row
		}
		head := "  " + strings.TrimSpace(c.name+" "+c.args)
		if n := utf8.RuneCountInString(head); n < col-1 {
			b.WriteString(head + strings.Repeat(" ", col-n) + c.summary + "\n")
		} else {
			b.WriteString(head + "\n" + strings.Repeat(" ", col) + c.summary + "\n")
		}
	}
	b.WriteString("\ncommon flags: --config F, --system, --log-level L, --log-format text|json\n")
	return b.String()
}

// env is what every command is handed.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	configFlag     string
	system         bool
	logLevel       string
	logFormat      string
}

// lookup finds a command by name.
func lookup(name string) (command, bool) {
	for _, c := range commandTable {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage())
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	if args[0] == "--version" || args[0] == "-version" {
		args = []string{"version"}
	}
	cmd, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "stsd: unknown command %q: run `stsd help` for the list\n", args[0])
		return exitUsage
	}
	if os.Getenv(wire.ResolvingEnv) != "" && args[0] != "version" && args[0] != "check" {
		fmt.Fprintf(stderr, "stsd: %s is set: stsd was started while resolving a source profile or mfa_process, which would loop; point source_profile at a profile with a long-term key\n", wire.ResolvingEnv)
		return exitFailure
	}
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	return cmd.run(ctx, e, args[1:])
}

// flags returns a FlagSet with the common flags bound to e.
func (e *env) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("stsd "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&e.configFlag, "config", "", "config file (default $STSD_CONFIG, else the user config dir)")
	fs.BoolVar(&e.system, "system", false, "use the system-wide paths")
	fs.StringVar(&e.logLevel, "log-level", "", "debug|info|warn|error (default: the config's log_level)")
	fs.StringVar(&e.logFormat, "log-format", "text", "text|json")
	return fs
}

// parse parses args with fs, allowing flags after positional arguments.
// It reports a usage error and returns false when they do not parse.
func (e *env) parse(fs *flag.FlagSet, args []string) ([]string, bool) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(e.stderr)
				fs.Usage()
				return nil, false
			}
			fmt.Fprintf(e.stderr, "%s: %v: run `%s -h` for usage\n", fs.Name(), err, fs.Name())
			return nil, false
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, true
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// noArgs parses a command that takes flags only; a stray argument is a
// usage error.
func (e *env) noArgs(fs *flag.FlagSet, args []string) bool {
	pos, ok := e.parse(fs, args)
	if ok && len(pos) > 0 {
		fmt.Fprintf(e.stderr, "%s: unexpected argument %q: it takes no arguments (run `%s -h`)\n", fs.Name(), pos[0], fs.Name())
		return false
	}
	return ok
}

func (e *env) loadConfig() (*config.Config, error) {
	path, err := config.ResolvePath(e.configFlag, e.system)
	if err != nil {
		return nil, err
	}
	return config.Load(path, config.Options{System: e.system})
}

// printConfigError writes every config problem, one a line.
// config loads the config, printing every problem when it does not load.
func (e *env) config() (*config.Config, bool) {
	cfg, err := e.loadConfig()
	if err != nil {
		e.printConfigError(err)
		return nil, false
	}
	return cfg, true
}

func (e *env) printConfigError(err error) {
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, ce := range errs {
			fmt.Fprintln(e.stderr, ce.Error())
		}
		if len(errs) > 1 {
			fmt.Fprintf(e.stderr, "stsd: %d problems in the config: fix them and run `stsd check`\n", len(errs))
		}
		return
	}
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(e.stderr, "stsd: %v: create it (see the README's annotated config) or pass --config\n", err)
		return
	}
	fmt.Fprintf(e.stderr, "stsd: %v\n", err)
}

func (e *env) logger(cfgLevel string) (*slog.Logger, error) {
	lvl := e.logLevel
	if lvl == "" {
		lvl = cfgLevel
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(lvl)); lvl != "" && err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", lvl)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(e.logFormat) {
	case "json":
		return slog.New(slog.NewJSONHandler(e.stderr, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(e.stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", e.logFormat)
}

func cmdVersion(_ context.Context, e *env, args []string) int {
	fmt.Fprintf(e.stdout, "stsd %s (commit %s, %s, %s/%s)\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitOK
}
