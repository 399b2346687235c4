package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/clidoc"
	"github.com/stsd/stsd/internal/envvars"
)

// completeHook is the hidden command the completion scripts call.
const completeHook = "__complete"

// manPages are the pages `stsd man` prints.
var manPages = []string{"stsd", "stsd-credential-process"}

// flagValues says what each flag's value is, by flag name, for
// completion and synopses. Every value flag of every command has an entry
// (TestEveryFlagHasAValueKind).
var flagValues = map[string]clidoc.Flag{
	"config":      {Value: clidoc.File},
	"aws-config":  {Value: clidoc.File},
	"binary":      {Value: clidoc.File},
	"cpu-profile": {Value: clidoc.File},
	"profile":     {Value: clidoc.Profile},
	"profiles":    {Value: clidoc.ProfileList},
	"cidrs":       {},
	"destination": {},
	"duration":    {},
	"format":      {Value: clidoc.Choice, Choices: envvars.Formats},
	"init":        {Value: clidoc.Choice, Choices: []string{"systemd", "launchd", "windows"}},
	"log-level":   {Value: clidoc.Choice, Choices: []string{"debug", "info", "warn", "error"}},
	"log-format":  {Value: clidoc.Choice, Choices: []string{"text", "json"}},
	"ttl":         {Placeholder: "DURATION"},
	"revoke":      {Placeholder: "ID"},
}

// flagKinds is flagValues with r's own overrides.
func flagKinds(r command) map[string]clidoc.Flag {
	if len(r.flags) == 0 {
		return flagValues
	}
	kinds := maps.Clone(flagValues)
	maps.Copy(kinds, r.flags)
	return kinds
}

// commonFlags are the flags every command's FlagSet has (env.flags).
func commonFlags() []string {
	var names []string
	(&env{}).flags("").VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}

// cliTree is the command table as clidoc sees it, each command's flags
// taken from the FlagSet it really parses with.
func cliTree() clidoc.Command {
	common := commonFlags()
	root := clidoc.Command{
		Name:    "stsd",
		Summary: "short-lived AWS credentials from STS for every program on the machine",
		Flags:   clidoc.FlagsOf((&env{}).flags(""), nil, flagValues),
	}
	root.Sub = treeOf(commandTable, common)
	return root
}

func treeOf(rows []command, common []string) []clidoc.Command {
	out := make([]clidoc.Command, 0, len(rows))
	for _, r := range rows {
		c := clidoc.Command{Name: r.name, Args: r.args, Summary: r.summary, Operands: r.operands, Choices: r.choices, Hidden: r.hidden}
		if len(r.sub) > 0 {
			c.Sub = treeOf(r.sub, common)
		} else if fs := flagSetOf(r); fs != nil {
			c.Flags = clidoc.FlagsOf(fs, common, flagKinds(r))
		}
		out = append(out, c)
	}
	return out
}

// flagSetOf runs r with env.describe set, which hands over r's FlagSet
// before anything is parsed or done; nil when r never parses flags.
func flagSetOf(r command) *flag.FlagSet {
	var got *flag.FlagSet
	e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, describe: func(fs *flag.FlagSet) { got = fs }}
	r.run(context.Background(), e, nil)
	return got
}

func cmdCompletion(_ context.Context, e *env, args []string) int {
	pos, ok := e.parse(e.flags("completion"), args)
	if !ok {
		return exitUsage
	}
	if len(pos) != 1 {
		fmt.Fprintf(e.stderr, "stsd completion: name one shell: stsd completion %s\n", strings.Join(clidoc.Shells, "|"))
		return exitUsage
	}
	s, err := clidoc.Script(pos[0], "stsd", completeHook)
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd completion: %v\n", err)
		return exitUsage
	}
	fmt.Fprint(e.stdout, s)
	return exitOK
}

// cmdComplete answers a completion script: `stsd __complete =CUR WORD…`.
// It never fails loudly: a shell shows nothing rather than an error.
func cmdComplete(_ context.Context, e *env, args []string) int {
	if e.describe != nil {
		return exitUsage // takes no flags: every word belongs to the line being completed
	}
	if len(args) == 0 || !strings.HasPrefix(args[0], "=") {
		fmt.Fprintln(e.stderr, "stsd __complete: usage: stsd __complete =CURRENT-WORD [WORD…]")
		return exitUsage
	}
	mode, cs := clidoc.Complete(cliTree(), args[1:], args[0][1:], configNames)
	clidoc.WriteCandidates(e.stdout, mode, cs)
	return exitOK
}

// configNames lists kind's names from the config the completed command
// line would read.
func configNames(kind clidoc.Kind, flags map[string]string) []string {
	path, err := config.ResolvePath(flags["config"], flags["system"] == "true")
	if err != nil {
		return nil
	}
	n, err := config.ReadNames(path)
	if err != nil {
		return nil
	}
	switch kind {
	case clidoc.Profile:
		return n.Profiles
	case clidoc.Client:
		return n.Clients
	case clidoc.Key:
		// Keys are named by the source_profile that holds them: those in
		// [keys] and those the profiles name.
		return n.Keys
	}
	return nil
}

func cmdMan(_ context.Context, e *env, args []string) int {
	pos, ok := e.parse(e.flags("man"), args)
	if !ok {
		return exitUsage
	}
	page := "stsd"
	if len(pos) == 1 {
		page = pos[0]
	}
	if len(pos) > 1 || !slices.Contains(manPages, page) {
		fmt.Fprintf(e.stderr, "stsd man: name one page: %s\n", strings.Join(manPages, ", "))
		return exitUsage
	}
	root := cliTree()
	if page == "stsd-credential-process" {
		clidoc.Man(e.stdout, credentialProcessTree(root), credentialProcessPage())
		return exitOK
	}
	clidoc.Man(e.stdout, root, stsdPage())
	return exitOK
}

// credentialProcessTree is the small binary: the credential-process row's
// own flags, plus its --version.
func credentialProcessTree(root clidoc.Command) clidoc.Command {
	cp, _ := root.Find("credential-process")
	return clidoc.Command{
		Name:    "stsd-credential-process",
		Summary: "print a profile's stsd credentials for credential_process",
		Flags:   append(slices.Clip(cp.Flags), clidoc.Flag{Name: "version", Usage: "print the version and exit", Bool: true}),
	}
}

// exitStatus is the EXIT STATUS section both pages share.
var exitStatus = clidoc.Section{Title: "EXIT STATUS", Terms: [][2]string{
	{"0", "success"},
	{"1", "a runtime failure (no daemon, an STS error, expired credentials)"},
	{"2", "a usage or config error: the message says what to fix"},
}}

func stsdPage() clidoc.Page {
	return clidoc.Page{
		Name:    "stsd",
		Version: version,
		Description: []string{
			"stsd keeps an IAM user's long-term key to itself, trades it with STS for short-lived credentials (GetSessionToken, optionally with MFA, or GetFederationToken with a session policy), refreshes them before they expire, and hands them to programs: credential_process in ~/.aws/config, a local IMDSv2 endpoint, a local ECS endpoint (stsd exec), and an HTTPS broker for other hosts.",
			"Start with stsd init, which finds the key, asks a few questions and sets everything up. Every command takes the common flags; stsd COMMAND -h shows one command's flags.",
		},
		Sections: []clidoc.Section{
			exitStatus,
			{Title: "ENVIRONMENT", Terms: [][2]string{
				{"STSD_CONFIG", "the config file when --config is not given"},
				{"STSD_SOCKET", "the control socket (default $XDG_RUNTIME_DIR/stsd/stsd.sock)"},
				{"AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE", "the AWS shared files, when the config does not name credentials_file"},
			}},
			{Title: "FILES", Terms: [][2]string{
				{"~/.config/stsd/config.toml", "the per-user config (Linux; macOS: ~/Library/Application Support/stsd)"},
				{"/etc/stsd/config.toml", "the system config (--system), root:stsd 0640"},
				{"~/.cache/stsd/, /var/cache/stsd/", "the credential cache (0700)"},
			}},
			{Title: "SEE ALSO", Paragraphs: []string{"stsd-credential-process(1), aws(1); the README at https://github.com/stsd/stsd"}},
		},
	}
}

func credentialProcessPage() clidoc.Page {
	return clidoc.Page{
		Name:    "stsd-credential-process",
		Version: version,
		Description: []string{
			"The program an AWS profile's credential_process line names (stsd configure-profile writes it). It prints the profile's credentials as credential_process JSON on stdout and nothing else: from the running stsd daemon, else a fresh cache entry, else by running the stsd beside it, which calls STS once.",
			"It links no AWS SDK and no HTTP stack, so a run costs about as much as starting any small program.",
		},
		Sections: []clidoc.Section{exitStatus, {Title: "SEE ALSO", Paragraphs: []string{"stsd(1)"}}},
	}
}
