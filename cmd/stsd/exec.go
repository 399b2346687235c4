package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/ecs"
	"github.com/stsd/stsd/internal/envvars"
	"github.com/stsd/stsd/internal/mfa"
	"github.com/stsd/stsd/internal/paths"
	"github.com/stsd/stsd/internal/resolve"
	"github.com/stsd/stsd/internal/wire"
)

// cmdExec runs `stsd exec P -- CMD…`: CMD gets an ECS URL and a token
// scoped to P, from the daemon (revoked when CMD exits) or, with no daemon
// serving P, from an endpoint this process serves until CMD exits.
func cmdExec(ctx context.Context, e *env, args []string) int {
	head, argv := args, []string(nil)
	if i := slices.Index(args, "--"); i >= 0 {
		head, argv = args[:i], args[i+1:]
	}
	pos, ok := e.parse(e.flags("exec"), head)
	if !ok {
		return exitUsage
	}
	if len(pos) != 1 || len(argv) == 0 {
		fmt.Fprintln(e.stderr, "stsd exec: usage: stsd exec PROFILE -- COMMAND [ARG…]")
		return exitUsage
	}
	// The token's request must outlive a Ctrl-C the command survives.
	ep, err := e.resolver().Endpoint(context.WithoutCancel(ctx), pos[0])
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd exec: %v\n", err)
		return exitFailure
	}
	defer ep.Close()
	x := envvars.ECS{URL: ep.URL, Token: ep.Token, Region: ep.Region, Expiration: ep.Expiration}
	code, err := envvars.Run(argv, envvars.Apply(wire.ChildEnv(os.Environ()), envvars.Container(x)), e.stdin, e.stdout, e.stderr)
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd exec: %v\n", err)
	}
	return code
}

// cmdEnv prints P's credentials as environment assignments (secrets: this
// is one of the few outputs secrets may reach: stdout, on request).
func cmdEnv(ctx context.Context, e *env, args []string) int {
	profile, format, ok := e.profileFormat("env", args)
	if !ok {
		return exitUsage
	}
	c, region, err := e.resolver().Credentials(ctx, profile)
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd env: %v\n", err)
		return exitFailure
	}
	if err := envvars.Write(e.stdout, format, envvars.Credentials(c, region)); err != nil {
		fmt.Fprintf(e.stderr, "stsd env: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// cmdEnvHint prints the environment that points SDKs at P's IMDS and ECS
// endpoints: no secrets (the ECS token is named by its file).
func cmdEnvHint(ctx context.Context, e *env, args []string) int {
	profile, format, ok := e.profileFormat("env-hint", args)
	if !ok {
		return exitUsage
	}
	cfg, ok := e.config()
	if !ok {
		return exitUsage
	}
	p := cfg.Profiles[profile]
	if p == nil {
		fmt.Fprintf(e.stderr, "stsd env-hint: profile %q is not in %s\n", profile, cfg.Path)
		return exitUsage
	}
	var envs []envvars.Env
	if p.IMDSListen != "" {
		envs = append(envs, envvars.IMDS("http://"+p.IMDSListen, p.Region))
	}
	if cfg.ECS != nil && !strings.Contains(p.FederationName, "{client}") {
		envs = append(envs, envvars.Container(envvars.ECS{
			URL:        "http://" + cfg.ECS.Listen + ecs.Path(p.Name),
			TokenFile:  ecs.TokenFile(cfg.ECS.TokenDir, p.Name),
			Region:     p.Region,
			Expiration: e.resolver().Expiration(ctx, p.Name), // when a daemon tells it
		}))
	}
	if len(envs) == 0 {
		fmt.Fprintf(e.stderr, "stsd env-hint: profile %q has no imds_listen and the config has no [ecs]: add one, or use `stsd exec %s -- CMD` or credential_process\n", p.Name, p.Name)
		return exitFailure
	}
	envvars.Write(e.stdout, format, envvars.Merge(envs...))
	return exitOK
}

// profileFormat parses `stsd NAME PROFILE [--format F]`.
func (e *env) profileFormat(name string, args []string) (profile, format string, ok bool) {
	fs := e.flags(name)
	f := fs.String("format", "sh", "the output format")
	pos, ok := e.parse(fs, args)
	if !ok {
		return "", "", false
	}
	if len(pos) != 1 || !slices.Contains(envvars.Formats, *f) {
		fmt.Fprintf(e.stderr, "stsd %s: usage: stsd %s PROFILE [--format %s]\n", name, name, strings.Join(envvars.Formats, "|"))
		return "", "", false
	}
	return pos[0], *f, true
}

// resolver finds credentials for this invocation: a daemon, else the
// cache or one STS call (prompting for an MFA code on the terminal).
func (e *env) resolver() *resolve.Resolver {
	return &resolve.Resolver{
		Layout: paths.Layout{System: e.system},
		Load:   e.loadConfig,
		Note:   func(s string) { fmt.Fprintf(e.stderr, "stsd: %s\n", s) },
		Prompt: func(ctx context.Context, p *config.Profile) (string, error) {
			return mfa.Ask(ctx, p.MFAPrompt, mfa.Options{Profile: p.Name, Serial: p.MFASerial})
		},
	}
}
