// Command stsd-credential-process prints a profile's stsd credentials as
// credential_process JSON; it links no AWS SDK and no net/http.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/stsd/stsd/credproc"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

const usage = "usage: stsd-credential-process --profile P"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run parses args and runs the credential_process client; it returns the
// exit code (0 ok, 1 failure, 2 usage).
func run(args []string, stdout, stderr io.Writer) int {
	a, err := parseArgs(args)
	switch {
	case errors.Is(err, errHelp):
		fmt.Fprintln(stderr, usage+"\nprints the profile's credentials as credential_process JSON on stdout")
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "stsd-credential-process: %v; %s\n", err, usage)
		return 2
	case a.version:
		fmt.Fprintf(stdout, "stsd-credential-process %s %s\n", version, runtime.Version())
		return 0
	case a.profile == "":
		fmt.Fprintln(stderr, "stsd-credential-process: --profile is required; "+usage)
		return 2
	}
	// No signal handler: installing one costs ~0.3 ms of a ~2 ms run
	// (make bench), and the default action is right here — the fast path
	// only reads, prints nothing until done, and the fallback execs stsd,
	// which handles its own signals.
	return credproc.Run(context.Background(), credproc.Options{Profile: a.profile, Stdout: stdout, Stderr: stderr})
}

type cmdArgs struct {
	profile string
	version bool
}

var errHelp = errors.New("help requested")

// parseArgs reads the two flags the way package flag would (-x or --x,
// "-x v" or "-x=v", a bool's "=false", "--" ends the flags, the first
// other argument ends them too and is refused), without package flag:
// its setup and reflection cost every run ~0.05 ms.
func parseArgs(args []string) (cmdArgs, error) {
	var a cmdArgs
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if len(arg) < 2 || arg[0] != '-' {
			return a, fmt.Errorf("unexpected argument %q", arg)
		}
		if arg == "--" {
			if i+1 < len(args) {
				return a, fmt.Errorf("unexpected argument %q", args[i+1])
			}
			break
		}
		name := strings.TrimPrefix(arg[1:], "-")
		if name == "" || name[0] == '-' || name[0] == '=' {
			return a, fmt.Errorf("bad flag syntax: %s", arg)
		}
		name, value, hasValue := strings.Cut(name, "=")
		switch name {
		case "profile":
			if !hasValue {
				if i+1 == len(args) {
					return a, errors.New("flag needs an argument: -profile")
				}
				i++
				value = args[i]
			}
			a.profile = value
		case "version":
			a.version = true
			if hasValue {
				b, err := strconv.ParseBool(value)
				if err != nil {
					return a, fmt.Errorf("invalid boolean value %q for -version: parse error", value)
				}
				a.version = b
			}
		case "h", "help":
			return a, errHelp
		default:
			return a, fmt.Errorf("flag provided but not defined: -%s", name)
		}
	}
	return a, nil
}
