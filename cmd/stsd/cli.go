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

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/clidoc"
	"github.com/stsd/stsd/internal/envvars"
	"github.com/stsd/stsd/internal/wire"
	"github.com/stsd/stsd/keys"
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
// help`, each command's -h, the man pages and the shell completions. A
// command's flags are the ones its own FlagSet defines (see
// env.describe), so none of those can drift from what it parses.
type command struct {
	name    string
	args    string // the operands, shown after the name and flags
	summary string
	run     func(ctx context.Context, e *env, args []string) int
	// operands is what the operands complete to (clidoc.Choice: choices).
	operands clidoc.Kind
	choices  []string
	sub      []command // subcommands; run then dispatches to them
	hidden   bool      // not in help, man pages or completion
	// flags overrides flagValues for this command's flags of the same name.
	flags map[string]clidoc.Flag
}

// commandTable lists every command in help order. It is set in init
// because the commands' help is made from it.
var commandTable []command

func init() {
	commandTable = []command{
		{name: "init", summary: "set stsd up on this machine, asking first and changing nothing until the end", run: cmdInit},
		{name: "run", summary: "run the daemon in the foreground", run: cmdRun},
		{name: "credential-process", summary: "print credentials for --profile P (credential_process)", run: cmdCredentialProcess},
		{name: "status", summary: "show every profile of the running daemon", run: cmdStatus},
		{name: "check", summary: "validate the config; every problem with file:line", run: cmdCheck},
		{name: "refresh", args: "P", summary: "force a refresh of P now", run: cmdRefresh, operands: clidoc.Profile},
		{name: "clear", args: "P", summary: "drop P's cached credentials", run: cmdClear, operands: clidoc.Profile},
		{name: "reload", summary: "re-read the config (also SIGHUP and file changes)", run: cmdReload},
		{name: "mfa", args: "P [CODE]", summary: "give the daemon an MFA code for P", run: cmdMFA, operands: clidoc.Profile},
		{name: "exec", args: "P -- CMD [ARG…]", summary: "run CMD with an ECS endpoint + token scoped to P (revoked when CMD exits)", run: cmdExec, operands: clidoc.ProfileCommand},
		{name: "env", args: "P", summary: "print P's credentials as environment assignments", run: cmdEnv, operands: clidoc.Profile},
		{name: "env-hint", args: "P", summary: "print the IMDS/ECS environment lines for P (no secrets)", run: cmdEnvHint, operands: clidoc.Profile},
		{name: "container-env", args: "P", summary: "mint a container id for P and print a container's env-file lines (--list, --revoke ID; Linux)", run: cmdContainerEnv, operands: clidoc.Profile,
			flags: map[string]clidoc.Flag{"format": {Value: clidoc.Choice, Choices: envvars.ContainerFormats}}},
		{name: "container-run", args: "P -- DOCKER-RUN-ARG…", summary: "docker run with a container id for P, revoked when the container exits (Linux)", run: cmdContainerRun, operands: clidoc.Profile},
		{name: "console", args: "P", summary: "open the AWS console signed in as P (--print: print the URL, a secret)", run: cmdConsole, operands: clidoc.Profile},
		{name: "install", summary: "install (or update) and start the OS service", run: cmdInstall},
		{name: "uninstall", summary: "remove the OS service (the config, cache and state stay)", run: cmdUninstall},
		{name: "start", summary: "start the OS service", run: cmdStart},
		{name: "stop", summary: "stop the OS service", run: cmdStop},
		{name: "configure-profile", args: "P…", summary: "point AWS profiles at stsd (credential_process)", run: cmdConfigureProfile, operands: clidoc.Profiles},
		{name: "key", summary: "keep IAM user keys in the OS keyring and rotate them (secrets never on argv)", run: cmdKey, sub: keyTable},
		{name: "broker", summary: "manage HTTPS broker clients (a new token is printed once)", run: cmdBroker, sub: brokerTable},
		{name: "completion", args: "SHELL", summary: "print the shell completion script for bash, zsh, fish or powershell", run: cmdCompletion, operands: clidoc.Choice, choices: clidoc.Shells},
		{name: "man", args: "[PAGE]", summary: "print a man page (roff): stsd (default) or stsd-credential-process", run: cmdMan, operands: clidoc.Choice, choices: manPages},
		{name: "version", summary: "print version information", run: cmdVersion},
		{name: completeHook, summary: "print completion candidates (what the completion scripts call)", run: cmdComplete, hidden: true},
	}
}

// brokerTable is `stsd broker`'s subcommands.
var brokerTable = []command{
	{name: "add-client", args: "N", summary: "add broker client N; its token is printed once", run: brokerAddClient},
	{name: "rotate-client", args: "N", summary: "give client N a new token (printed once); the old one stops working", run: brokerRotateClient, operands: clidoc.Client},
	{name: "remove-client", args: "N", summary: "remove client N", run: brokerRemoveClient, operands: clidoc.Client},
	{name: "list-clients", summary: "list the clients: names, profiles, allowed CIDRs (never hashes)", run: brokerListClients},
}

// usage is the help text, from the command table.
func usage() string {
	var b strings.Builder
	clidoc.Usage(&b, cliTree())
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
	// describe, when set, is handed the FlagSet a command parses with
	// instead of parsing: help, man pages and completions are made from it.
	describe func(*flag.FlagSet)
	helped   bool // -h printed a command's help: exit 0
}

// dispatch runs the subcommand of `stsd NAME` that args name, from table.
func dispatch(ctx context.Context, e *env, name string, table []command, args []string) int {
	names := make([]string, len(table))
	for i, c := range table {
		names[i] = c.name
	}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		clidoc.Help(e.stderr, cliTree(), name)
		return exitOK
	}
	if len(args) == 0 {
		fmt.Fprintf(e.stderr, "stsd %s: give a command: %s (stsd %s -h)\n", name, strings.Join(names, ", "), name)
		return exitUsage
	}
	for _, c := range table {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "stsd %s: unknown command %q: use %s (stsd %s -h)\n", name, args[0], strings.Join(names, ", "), name)
	return exitUsage
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
	// STSD_KEYRING_PASSWORD leaves the environment before anything runs,
	// so no child inherits it; keys keeps it for the file keyring.
	keys.TakeEnv()
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	code := cmd.run(ctx, e, args[1:])
	if e.helped {
		return exitOK
	}
	return code
}

// flags returns a FlagSet with the common flags bound to e.
func (e *env) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("stsd "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&e.configFlag, "config", "", "config file (default $STSD_CONFIG, else the user config dir)")
	fs.BoolVar(&e.system, "system", false, "use the system-wide paths")
	fs.StringVar(&e.logLevel, "log-level", "", "the log level (default: the config's log_level)")
	fs.StringVar(&e.logFormat, "log-format", "text", "the log format")
	return fs
}

// parse parses args with fs, allowing flags after positional arguments.
// It reports a usage error and returns false when they do not parse.
func (e *env) parse(fs *flag.FlagSet, args []string) ([]string, bool) {
	if e.describe != nil {
		e.describe(fs)
		return nil, false
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				clidoc.Help(e.stderr, cliTree(), strings.Fields(strings.TrimPrefix(fs.Name(), "stsd "))...)
				e.helped = true
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

// loggerTo is the logger --log-level and --log-format ask for, writing
// to w.
func (e *env) loggerTo(w io.Writer, cfgLevel string) (*slog.Logger, error) {
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
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", e.logFormat)
}

func cmdVersion(_ context.Context, e *env, args []string) int {
	if !e.noArgs(e.flags("version"), args) {
		return exitUsage
	}
	fmt.Fprintf(e.stdout, "stsd %s (commit %s, %s, %s/%s)\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitOK
}
