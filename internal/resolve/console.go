package resolve

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/stsclient"
	"github.com/stsd/stsd/internal/wire"
)

// Console session lengths. A role session's SessionDuration is 15m..12h,
// at most 1h when chained; a session profile's console GetFederationToken
// lasts 15m..36h, 1h unless asked.
const (
	minConsole            = 15 * time.Minute
	maxConsoleRole        = 12 * time.Hour
	maxConsoleChained     = time.Hour
	maxConsoleFederation  = 36 * time.Hour
	defaultConsoleSession = time.Hour
)

// ConsoleRequest is what `stsd console` asks for.
type ConsoleRequest struct {
	Profile     string
	Destination string        // console page; "" = the partition's console home
	Duration    time.Duration // console session length; 0 = the default
	// HTTPClient sends the sign-in request (and a session profile's STS
	// call); nil means the defaults.
	HTTPClient *http.Client
}

// Console returns the console sign-in URL for req.Profile, a secret for
// stdout or a browser only. A role or federation profile signs in with its
// own credentials (from a daemon serving it, else the cache or one STS
// call). A session profile's credentials cannot sign in, so it gets a
// GetFederationToken made for the console from its long-term key, which
// carries no MFA context.
func (r *Resolver) Console(ctx context.Context, req ConsoleRequest) (string, error) {
	cfg, err := r.config()
	if err != nil {
		first, _, _ := strings.Cut(err.Error(), "\n")
		return "", fmt.Errorf("%s (run `stsd check`)", first)
	}
	p := cfg.Profiles[req.Profile]
	if p == nil {
		return "", fmt.Errorf("profile %q is not in %s: add [profiles.%s] or fix the name", req.Profile, cfg.Path, req.Profile)
	}
	if req.Destination != "" {
		if u, err := url.Parse(req.Destination); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return "", fmt.Errorf("--destination %q is not an http(s) URL such as https://console.aws.amazon.com/s3/", req.Destination)
		}
	}
	o := stsclient.ConsoleOptions{Endpoint: cfg.SigninEndpoint, Partition: p.Partition(), Destination: req.Destination, HTTPClient: req.HTTPClient}
	creds, err := r.consoleCredentials(ctx, cfg, p, req, &o)
	if err != nil {
		return "", err
	}
	return stsclient.SigninURL(ctx, creds, o)
}

// consoleCredentials picks the credentials profile p signs in with, and
// the SessionDuration (set on o) they allow.
func (r *Resolver) consoleCredentials(ctx context.Context, cfg *config.Config, p *config.Profile, req ConsoleRequest, o *stsclient.ConsoleOptions) (wire.Credentials, error) {
	d := req.Duration
	switch p.Mode {
	case config.ModeRole:
		limit, why := maxConsoleRole, "the sign-in endpoint allows"
		if p.ViaProfile != "" {
			limit, why = maxConsoleChained, "a chained role session (via_profile) allows"
		}
		if d != 0 && (d < minConsole || d > limit) {
			return wire.Credentials{}, fmt.Errorf("--duration %s: %s 15m..%s for the console session of profile %s", d, why, fmtHours(limit), p.Name)
		}
		o.SessionDuration = d
	case config.ModeFederation:
		if d != 0 {
			return wire.Credentials{}, fmt.Errorf("--duration does not apply to federation profile %s: the sign-in endpoint refuses SessionDuration with federation credentials, so the console session lasts as long as its credentials (duration %s)", p.Name, p.Duration)
		}
		if strings.Contains(p.FederationName, "{client}") {
			return wire.Credentials{}, fmt.Errorf("profile %s is minted per broker client ({client}); name another profile", p.Name)
		}
	default:
		if d == 0 {
			d = defaultConsoleSession
		}
		if d < minConsole || d > maxConsoleFederation {
			return wire.Credentials{}, fmt.Errorf("--duration %s: the console's GetFederationToken lasts 15m..36h", d)
		}
		so := stsclient.Options{}
		if req.HTTPClient != nil {
			so.HTTPClient = req.HTTPClient
		}
		return stsclient.New(cfg, p, so).ConsoleCredentials(ctx, d)
	}
	c, _, err := r.Credentials(ctx, p.Name)
	return c, err
}

func fmtHours(d time.Duration) string { return strings.TrimSuffix(d.String(), "0m0s") }
