// Package resolve finds a profile's credentials for stsd's own commands
// (credential-process, exec, env): from a daemon that serves the profile,
// else without one (a cache entry, else one STS call under the profile's
// lock), and serves `stsd exec` an ECS endpoint the same way.
package resolve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/stsd/stsd/cache"
	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/daemon"
	"github.com/stsd/stsd/ecs"
	"github.com/stsd/stsd/internal/paths"
	"github.com/stsd/stsd/internal/wire"
)

// Resolver finds credentials for one invocation of stsd.
type Resolver struct {
	Layout paths.Layout
	// Load reads the config; it is called at most once, and only when a
	// region or a daemon-less fetch needs it.
	Load func() (*config.Config, error)
	// Note is told why a socket was skipped (one line); nil: silence.
	Note func(string)
	// Prompt asks a person for an MFA code for a daemon-less fetch; nil
	// means no prompt is possible.
	Prompt func(ctx context.Context, p *config.Profile) (string, error)

	once sync.Once
	cfg  *config.Config
	err  error
}

func (r *Resolver) config() (*config.Config, error) {
	r.once.Do(func() { r.cfg, r.err = r.Load() })
	return r.cfg, r.err
}

// region is profile's region, "" when the config cannot tell.
func (r *Resolver) region(profile string) string {
	if cfg, err := r.config(); err == nil && cfg.Profiles[profile] != nil {
		return cfg.Profiles[profile].Region
	}
	return ""
}

// EachDaemon calls try with each daemon socket of the layout in turn
// until one answers for the profile: a socket nobody listens on, one
// another user could have planted, or a daemon that does not serve the
// profile (404) passes to the next. It returns daemon.ErrNoDaemon when
// none did.
func (r *Resolver) EachDaemon(try func(*daemon.Client) error) error {
	for _, s := range r.Layout.Sockets() {
		err := try(daemon.NewClient(s))
		var ae *daemon.APIError
		var ue *daemon.UntrustedSocketError
		switch {
		case errors.As(err, &ue):
			if r.Note != nil {
				r.Note(ue.Error())
			}
		case errors.Is(err, daemon.ErrNoDaemon):
		case errors.As(err, &ae) && ae.Status == 404:
		default:
			return err
		}
	}
	return daemon.ErrNoDaemon
}

// Daemon returns a client for the first daemon of the layout that
// answers, and its status.
func (r *Resolver) Daemon(ctx context.Context) (*daemon.Client, *daemon.Status, error) {
	socks := r.Layout.Sockets()
	for _, s := range socks {
		c := daemon.NewClient(s)
		st, err := c.Status(ctx)
		var ue *daemon.UntrustedSocketError
		switch {
		case err == nil:
			return c, st, nil
		case errors.As(err, &ue):
			if r.Note != nil {
				r.Note(ue.Error())
			}
		case !errors.Is(err, daemon.ErrNoDaemon):
			return nil, nil, err
		}
	}
	return nil, nil, fmt.Errorf("%w (tried %s): start it with `stsd run`, or `stsd start` for the installed service", daemon.ErrNoDaemon, strings.Join(socks, ", "))
}

// Credentials returns profile's credentials and region: from a daemon
// serving it, else from the cache or one STS call.
func (r *Resolver) Credentials(ctx context.Context, profile string) (wire.Credentials, string, error) {
	var c wire.Credentials
	err := r.EachDaemon(func(d *daemon.Client) error {
		var err error
		c, err = daemonSource{d}.Credentials(ctx, profile)
		return err
	})
	if errors.Is(err, daemon.ErrNoDaemon) {
		c, err = r.directSource().Credentials(ctx, profile)
	}
	if err != nil {
		return wire.Credentials{}, "", err
	}
	return c, r.region(profile), nil
}

// Expiration is when the credentials a daemon serves for profile expire;
// zero when no daemon tells.
func (r *Resolver) Expiration(ctx context.Context, profile string) time.Time {
	var exp time.Time
	_ = r.EachDaemon(func(c *daemon.Client) error {
		cr, err := daemonSource{c}.Credentials(ctx, profile)
		exp = cr.Expiration
		return err
	})
	return exp
}

// Endpoint is an ECS endpoint serving one profile to one command.
type Endpoint struct {
	URL, Token, Region string
	Expiration         time.Time // of the credentials at the start
	close              func()
}

// Close revokes the endpoint's token (and stops an endpoint of our own).
func (e *Endpoint) Close() { e.close() }

// Endpoint gets profile an ECS endpoint for an exec'd command: a token the
// daemon serving the profile holds valid while ctx lives (until Close),
// or, from a daemon without [ecs] or with no daemon, an endpoint this
// process serves on 127.0.0.1 until Close.
func (r *Resolver) Endpoint(ctx context.Context, profile string) (*Endpoint, error) {
	var ep *Endpoint
	err := r.EachDaemon(func(c *daemon.Client) error {
		tok, err := c.ExecToken(ctx, profile)
		if errors.Is(err, daemon.ErrNoECS) {
			ep, err = r.ephemeral(ctx, profile, fetched(daemonSource{c}.Credentials))
			return err
		}
		if err == nil {
			ep = &Endpoint{URL: tok.URL, Token: tok.Token, Region: tok.Region, Expiration: tok.Expiration, close: func() { tok.Close() }}
		}
		return err
	})
	if errors.Is(err, daemon.ErrNoDaemon) {
		return r.ephemeral(ctx, profile, fetched(r.directSource().Credentials))
	}
	return ep, err
}

// ephemeral serves profile from src on 127.0.0.1.
func (r *Resolver) ephemeral(ctx context.Context, profile string, src ecs.Source) (*Endpoint, error) {
	c, _, err := src.CredentialsAt(ctx, profile, time.Now())
	if err != nil {
		return nil, err
	}
	region := r.region(profile)
	e, err := ecs.StartEphemeral(src, ecs.Profile{Name: profile, Region: region}, ecs.Options{})
	if err != nil {
		return nil, err
	}
	return &Endpoint{URL: e.URL, Token: e.Token, Region: region, Expiration: c.Expiration, close: e.Close}, nil
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

// Direct is Resolver's daemon-less fetch of profile (the last fallback of
// `stsd credential-process`).
func (r *Resolver) Direct(ctx context.Context, profile string) (*cache.Entry, error) {
	o, err := r.directOptions()
	if err != nil {
		return nil, err
	}
	o.Profile = profile
	return Direct(ctx, o)
}

func (r *Resolver) directOptions() (Options, error) {
	cfg, err := r.config()
	if err != nil {
		// Callers show one line: the first problem.
		first, _, _ := strings.Cut(err.Error(), "\n")
		return Options{}, fmt.Errorf("%s (run `stsd check`)", first)
	}
	store, err := cache.OpenLayout(r.Layout)
	if err != nil {
		return Options{}, err
	}
	return Options{Config: cfg, Store: store, Prompt: r.Prompt}, nil
}

// directSource is the daemon-less fetch.
func (r *Resolver) directSource() directSource { return directSource{r} }

type directSource struct{ r *Resolver }

func (d directSource) Credentials(ctx context.Context, profile string) (wire.Credentials, error) {
	e, err := d.r.Direct(ctx, profile)
	if err != nil {
		return wire.Credentials{}, err
	}
	return e.Credentials, nil
}

// fetched is a fetch (the daemon's socket, or the daemon-less one) as an
// ecs.Source: it waits for its answer, so the clock is read again once it
// returns.
type fetched func(ctx context.Context, profile string) (wire.Credentials, error)

func (f fetched) CredentialsAt(ctx context.Context, profile string, _ time.Time) (wire.Credentials, time.Time, error) {
	c, err := f(ctx, profile)
	return c, time.Now(), err
}
