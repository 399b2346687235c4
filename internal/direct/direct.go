// Package direct fetches credentials without a daemon: the last fallback of
// `stsd credential-process`, under the profile's cache lock so concurrent
// runs make one STS call.
package direct

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stsd/stsd/cache"
	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/stsclient"
)

// Fetcher makes one STS call for a profile.
type Fetcher interface {
	Fetch(ctx context.Context, req stsclient.Request) (*stsclient.Result, error)
}

// Options configure Credentials. Zero values mean defaults.
type Options struct {
	Config  *config.Config // required
	Profile string         // required
	Store   *cache.Store   // required
	// Fetcher overrides the STS client (tests).
	Fetcher    Fetcher
	HTTPClient aws.HTTPClient
	Now        func() time.Time
	// Prompt asks the user for an MFA code when the profile has no
	// mfa_process; nil means no prompt is possible.
	Prompt func(ctx context.Context, p *config.Profile) (string, error)
}

// MinRemaining is how long cached credentials must still last to be handed
// out again: min(15m, lifetime/4). Fewer than 15 minutes left makes
// botocore re-run credential_process on every call (protocol.md §5).
func MinRemaining(lifetime time.Duration) time.Duration {
	return min(15*time.Minute, lifetime/4)
}

// Credentials returns a fresh-enough cache entry for the profile, calling
// STS at most once.
func Credentials(ctx context.Context, o Options) (*cache.Entry, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	p := o.Config.Profiles[o.Profile]
	if p == nil {
		return nil, fmt.Errorf("profile %q is not in %s: add [profiles.%s] or fix the --profile argument", o.Profile, o.Config.Path, o.Profile)
	}
	unlock, err := o.Store.Lock(ctx, p.Name)
	if err != nil {
		return nil, fmt.Errorf("lock cache: %w", err)
	}
	defer unlock()

	if e, err := o.Store.Load(p.Name); err == nil && e.Fingerprint == p.Fingerprint("") {
		if e.Remaining(o.Now()) > MinRemaining(e.Credentials.Expiration.Sub(e.Issued)) {
			return e, nil
		}
	}
	var req stsclient.Request
	if p.Mode == config.ModeSession && p.MFASerial != "" {
		switch {
		case p.MFAProcess != "":
			req.TokenCode, err = stsclient.RunMFAProcess(ctx, p.MFAProcess)
		case o.Prompt != nil:
			req.TokenCode, err = o.Prompt(ctx, p)
		default:
			err = fmt.Errorf("profile %q needs an MFA code: set mfa_process, or run `stsd run` and give it one with `stsd mfa %s`", p.Name, p.Name)
		}
		if err != nil {
			return nil, err
		}
	}
	f := o.Fetcher
	if f == nil {
		f = stsclient.New(o.Config, p, stsclient.Options{HTTPClient: o.HTTPClient, Now: o.Now})
	}
	res, err := f.Fetch(ctx, req)
	if err != nil {
		return nil, err
	}
	if !res.Credentials.Expiration.After(o.Now()) {
		return nil, errors.New("STS returned credentials that are already expired: check this host's clock")
	}
	e, err := stsclient.NewEntry(o.Config, p, res)
	if err != nil {
		return nil, err
	}
	// The credentials are good even when the cache cannot be written: that
	// only costs the next run an STS call.
	_ = o.Store.Save(e)
	return e, nil
}
