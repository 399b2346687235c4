package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/stsd/stsd/cache"
	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/daemon"
	"github.com/stsd/stsd/imds"
	"github.com/stsd/stsd/internal/direct"
	"github.com/stsd/stsd/internal/envvars"
	"github.com/stsd/stsd/internal/paths"
	"github.com/stsd/stsd/internal/wire"
)

// cmdExec runs `stsd exec P -- CMD…`: CMD gets an ECS URL and a token
// scoped to P, from the daemon (revoked when CMD exits) or, with no daemon
// serving P, from an endpoint this process serves until CMD exits.
func cmdExec(ctx context.Context, e *env, args []string) int {
	i := slices.Index(args, "--")
	if i < 0 || i == len(args)-1 {
		fmt.Fprintln(e.stderr, "stsd exec: usage: stsd exec PROFILE -- COMMAND [ARG…]")
		return exitUsage
	}
	argv := args[i+1:]
	pos, ok := e.parse(e.flags("exec"), args[:i])
	if !ok {
		return exitUsage
	}
	if len(pos) != 1 {
		fmt.Fprintln(e.stderr, "stsd exec: usage: stsd exec PROFILE -- COMMAND [ARG…]")
		return exitUsage
	}
	profile := pos[0]
	// The token's request must outlive a Ctrl-C the command survives.
	hold := context.WithoutCancel(ctx)

	var (
		x   envvars.ECS
		tok *daemon.ExecToken
		ep  *imds.Ephemeral
	)
	err := e.eachDaemon(func(c *daemon.Client) error {
		var err error
		tok, err = c.ExecToken(hold, profile)
		if errors.Is(err, daemon.ErrNoECS) {
			// A daemon without [ecs]: serve its credentials ourselves.
			ep, x, err = e.ephemeral(hold, profile, daemonSource{c})
		}
		return err
	})
	if errors.Is(err, daemon.ErrNoDaemon) {
		ep, x, err = e.ephemeral(hold, profile, nil)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd exec: %v\n", err)
		return exitFailure
	}
	if tok != nil {
		defer tok.Close()
		x = envvars.ECS{URL: tok.URL, Token: tok.Token, Region: tok.Region, Expiration: tok.Expiration}
	}
	if ep != nil {
		defer ep.Close()
	}
	code, err := envvars.Run(argv, envvars.Apply(os.Environ(), envvars.Container(x)), e.stdin, e.stdout, e.stderr)
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd exec: %v\n", err)
	}
	return code
}

// ephemeral starts an in-process ECS endpoint for profile from src (nil:
// the cache, else one STS call) and describes it.
func (e *env) ephemeral(ctx context.Context, profile string, src imds.Source) (*imds.Ephemeral, envvars.ECS, error) {
	region := ""
	if src == nil {
		ds, cfg, err := e.directSource()
		if err != nil {
			return nil, envvars.ECS{}, err
		}
		src = ds
		if p := cfg.Profiles[profile]; p != nil {
			region = p.Region
		}
	} else if cfg, err := e.loadConfig(); err == nil && cfg.Profiles[profile] != nil {
		region = cfg.Profiles[profile].Region
	}
	c, err := src.Credentials(ctx, profile)
	if err != nil {
		return nil, envvars.ECS{}, err
	}
	ep, err := imds.StartEphemeral(src, imds.Profile{Name: profile, Region: region}, imds.Options{})
	if err != nil {
		return nil, envvars.ECS{}, err
	}
	return ep, envvars.ECS{URL: ep.URL, Token: ep.Token, Region: region, Expiration: c.Expiration}, nil
}

// cmdEnv prints P's credentials as environment assignments (secrets: this
// is one of the outputs design.md allows them in).
func cmdEnv(ctx context.Context, e *env, args []string) int {
	fs := e.flags("env")
	format := fs.String("format", "sh", "sh|fish|powershell|json")
	pos, ok := e.parse(fs, args)
	if !ok {
		return exitUsage
	}
	if len(pos) != 1 || !slices.Contains(envvars.Formats, *format) {
		fmt.Fprintf(e.stderr, "stsd env: usage: stsd env PROFILE [--format %s]\n", strings.Join(envvars.Formats, "|"))
		return exitUsage
	}
	c, region, err := e.credentials(ctx, pos[0])
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd env: %v\n", err)
		return exitFailure
	}
	if err := envvars.Write(e.stdout, *format, envvars.Credentials(c, region)); err != nil {
		fmt.Fprintf(e.stderr, "stsd env: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// cmdEnvHint prints the environment that points SDKs at P's IMDS and ECS
// endpoints: no secrets (the ECS token is named by its file).
func cmdEnvHint(ctx context.Context, e *env, args []string) int {
	fs := e.flags("env-hint")
	format := fs.String("format", "sh", "sh|fish|powershell|json")
	pos, ok := e.parse(fs, args)
	if !ok {
		return exitUsage
	}
	if len(pos) != 1 || !slices.Contains(envvars.Formats, *format) {
		fmt.Fprintf(e.stderr, "stsd env-hint: usage: stsd env-hint PROFILE [--format %s]\n", strings.Join(envvars.Formats, "|"))
		return exitUsage
	}
	cfg, err := e.loadConfig()
	if err != nil {
		e.printConfigError(err)
		return exitUsage
	}
	p := cfg.Profiles[pos[0]]
	if p == nil {
		fmt.Fprintf(e.stderr, "stsd env-hint: profile %q is not in %s\n", pos[0], cfg.Path)
		return exitUsage
	}
	var envs []envvars.Env
	if p.IMDSListen != "" {
		envs = append(envs, envvars.IMDS("http://"+p.IMDSListen, p.Region))
	}
	if cfg.ECS != nil && !strings.Contains(p.FederationName, "{client}") {
		x := envvars.ECS{
			URL:       "http://" + cfg.ECS.Listen + imds.ECSPath(p.Name),
			TokenFile: imds.TokenFile(cfg.ECS.TokenDir, p.Name),
			Region:    p.Region,
		}
		// The current expiry, when a daemon tells it (best effort).
		_ = e.eachDaemon(func(c *daemon.Client) error {
			cr, err := daemonSource{c}.Credentials(ctx, p.Name)
			x.Expiration = cr.Expiration
			return err
		})
		envs = append(envs, envvars.Container(x))
	}
	if len(envs) == 0 {
		fmt.Fprintf(e.stderr, "stsd env-hint: profile %q has no imds_listen and the config has no [ecs]: add one, or use `stsd exec %s -- CMD` or credential_process\n", p.Name, p.Name)
		return exitFailure
	}
	envvars.Write(e.stdout, *format, envvars.Merge(envs...))
	return exitOK
}

// eachDaemon calls try with each daemon socket in turn (the user's, then
// the system's) until one answers for the profile: a socket nobody listens
// on or a daemon that does not serve the profile (404) passes to the next.
// It returns ErrNoDaemon when none did.
func (e *env) eachDaemon(try func(*daemon.Client) error) error {
	socks := paths.Sockets()
	if e.system {
		s, _ := paths.Layout{System: true}.Socket()
		socks = []string{s}
	}
	for _, s := range socks {
		err := try(daemon.NewClient(s))
		e.noteUntrusted(err)
		var ae *daemon.APIError
		switch {
		case errors.Is(err, daemon.ErrNoDaemon):
		case errors.As(err, &ae) && ae.Status == 404:
		default:
			return err
		}
	}
	return daemon.ErrNoDaemon
}

// noteUntrusted tells stderr about a socket skipped because another user
// could have planted it (daemon.UntrustedSocketError, Windows only).
func (e *env) noteUntrusted(err error) {
	if ue := (*daemon.UntrustedSocketError)(nil); errors.As(err, &ue) {
		fmt.Fprintf(e.stderr, "stsd: %v\n", ue)
	}
}

// credentials returns profile's credentials and region: from a daemon
// serving it, else from the cache or one STS call.
func (e *env) credentials(ctx context.Context, profile string) (wire.Credentials, string, error) {
	var c wire.Credentials
	err := e.eachDaemon(func(d *daemon.Client) error {
		var err error
		c, err = daemonSource{d}.Credentials(ctx, profile)
		return err
	})
	if err == nil {
		region := ""
		if cfg, err := e.loadConfig(); err == nil && cfg.Profiles[profile] != nil {
			region = cfg.Profiles[profile].Region
		}
		return c, region, nil
	}
	if !errors.Is(err, daemon.ErrNoDaemon) {
		return c, "", err
	}
	ds, cfg, err := e.directSource()
	if err != nil {
		return c, "", err
	}
	c, err = ds.Credentials(ctx, profile)
	if err != nil {
		return c, "", err
	}
	return c, cfg.Profiles[profile].Region, nil
}

// daemonSource reads a profile's credentials from the daemon's control
// socket (the credential_process document).
type daemonSource struct{ c *daemon.Client }

func (d daemonSource) Credentials(ctx context.Context, profile string) (wire.Credentials, error) {
	b, err := d.c.Credentials(ctx, profile)
	if err != nil {
		return wire.Credentials{}, err
	}
	var c wire.Credentials
	if err := json.Unmarshal(b, &c); err != nil || c.AccessKeyID == "" {
		return wire.Credentials{}, errors.New("the daemon's credentials do not parse")
	}
	return c, nil
}

// directSource fetches without a daemon: the cache, else one STS call
// under the profile's lock (as `stsd credential-process` does).
type directSource struct{ o direct.Options }

func (e *env) directSource() (directSource, *config.Config, error) {
	cfg, err := e.loadConfig()
	if err != nil {
		first, _, _ := strings.Cut(err.Error(), "\n")
		return directSource{}, nil, fmt.Errorf("%s (run `stsd check`)", first)
	}
	dir, err := paths.Layout{System: e.system}.CacheDir()
	if err != nil {
		return directSource{}, nil, fmt.Errorf("cache dir: %w", err)
	}
	store, err := cache.Open(dir)
	if err != nil {
		return directSource{}, nil, err
	}
	return directSource{direct.Options{Config: cfg, Store: store}}, cfg, nil
}

func (d directSource) Credentials(ctx context.Context, profile string) (wire.Credentials, error) {
	o := d.o
	o.Profile = profile
	entry, err := direct.Credentials(ctx, o)
	if err != nil {
		return wire.Credentials{}, err
	}
	return entry.Credentials, nil
}
