package resolve

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stsd/stsd/cache"
	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/mfa"
	"github.com/stsd/stsd/internal/stsclient"
	"github.com/stsd/stsd/internal/wire"
)

// Options configure Credentials. Zero values mean defaults.
type Options struct {
	Config  *config.Config // required
	Profile string         // required
	Store   *cache.Store   // required
	// Fetcher overrides the STS client of Profile (tests); a via_profile
	// parent always uses the real one.
	Fetcher    stsclient.Fetcher
	HTTPClient aws.HTTPClient
	Now        func() time.Time
	// Prompt asks the user for an MFA code when the profile has no
	// mfa_process; nil means no prompt is possible.
	Prompt func(ctx context.Context, p *config.Profile) (string, error)
}

// Direct returns a fresh-enough cache entry for the profile without a
// daemon, calling STS at most once for it: under the profile's cache lock,
// so concurrent runs make one call, and for an MFA profile under the
// device's lock, never sending a code twice. A role profile with
// via_profile first gets its parent's entry the same way.
func Direct(ctx context.Context, o Options) (*cache.Entry, error) {
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

	// cached is a matching entry that is still valid: served as is while
	// fresh, and as a last resort if STS fails (never once expired).
	var cached *cache.Entry
	if e, err := o.Store.Load(p.Name); err == nil && e.Fingerprint == p.Fingerprint("") && e.Remaining(o.Now()) > 0 {
		cached = e
		if e.Remaining(o.Now()) > wire.MinRemaining(e.Credentials.Expiration.Sub(e.Issued)) {
			if !e.FilesMatch() {
				// A file changed but nothing that shapes this profile's
				// credentials (the fingerprint matches): record the new
				// hashes so the small binary serves the entry again.
				if files, err := cache.HashFiles(o.Config.SourceFiles(p)); err == nil {
					e.Files = files
					_ = o.Store.Save(e)
				}
			}
			return e, nil
		}
	}
	var req stsclient.Request
	if req.Parent, err = o.parent(ctx, p); err != nil {
		return nil, err
	}
	if p.MFASerial != "" {
		// One process at a time per MFA device, and never the same
		// single-use code twice (other profiles may share the device).
		unlockSerial, err := o.Store.Lock(ctx, mfa.Name(p.MFASerial))
		if err != nil {
			return nil, fmt.Errorf("lock MFA device: %w", err)
		}
		defer unlockSerial()
		g := mfa.FileGuard(filepath.Join(o.Store.Dir(), mfa.Name(p.MFASerial)+".last"))
		if req.TokenCode, err = g.Code(ctx, o.mfaSource(p)); err != nil {
			return nil, err
		}
		defer g.Record(req.TokenCode, o.Now())
	}
	f := o.Fetcher
	if f == nil {
		f = stsclient.New(o.Config, p, stsclient.Options{HTTPClient: o.HTTPClient, Now: o.Now, Identities: o.Store})
	}
	res, err := f.Fetch(ctx, req)
	if err != nil {
		if cached != nil && cached.Remaining(o.Now()) > time.Minute && stsclient.Retryable(err) {
			return cached, nil // STS is down or slow; these still work
		}
		return nil, err
	}
	if !res.Credentials.Expiration.After(o.Now()) {
		return nil, errors.New("STS returned credentials that are already expired: check this host's clock")
	}
	e, err := stsclient.NewEntry(o.Config, p, "", res)
	if err != nil {
		return nil, err
	}
	// The credentials are good even when the cache cannot be written: that
	// only costs the next run an STS call.
	_ = o.Store.Save(e)
	return e, nil
}

// parent is the credentials of p's via_profile (nil without one): its own
// entry, from its cache or its one STS call under its lock. Locks are taken
// child before parent and config refuses loops, so runs never deadlock,
// and one MFA prompt serves the whole chain.
func (o Options) parent(ctx context.Context, p *config.Profile) (*wire.Credentials, error) {
	if p.ViaProfile == "" {
		return nil, nil
	}
	po := o
	po.Profile, po.Fetcher = p.ViaProfile, nil
	e, err := Direct(ctx, po)
	if err != nil {
		return nil, fmt.Errorf("via_profile %s: %w", p.ViaProfile, err)
	}
	return &e.Credentials, nil
}

// mfaSource is where p's codes come from here: mfa_process, else the
// prompt.
func (o *Options) mfaSource(p *config.Profile) mfa.Source {
	src := mfa.Source{Process: p.MFAProcess, Now: o.Now}
	src.Ask = func(ctx context.Context) (string, error) {
		if o.Prompt == nil {
			return "", fmt.Errorf("profile %q needs an MFA code: set mfa_process, or run `stsd run` and give it one with `stsd mfa %s`", p.Name, p.Name)
		}
		return o.Prompt(ctx, p)
	}
	return src
}
