// Package direct fetches credentials without a daemon: the last fallback of
// `stsd credential-process`, under the profile's cache lock so concurrent
// runs make one STS call.
package direct

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stsd/stsd/cache"
	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/stsclient"
	"github.com/stsd/stsd/internal/wire"
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

// ErrCodeUsed refuses a TOTP code already sent for the same MFA device.
var ErrCodeUsed = errors.New("this MFA code was already used for this device: wait for the next code")

// totpStep is the TOTP time step AWS MFA devices use (RFC 6238 default).
const totpStep = 30 * time.Second

// code gets an MFA code from mfa_process or the prompt. A code equal to the
// last one sent for the device waits for the next TOTP step (mfa_process)
// or is refused (a person can type the next one).
func (o *Options) code(ctx context.Context, p *config.Profile, lastFile string) (string, error) {
	get := func() (string, error) {
		switch {
		case p.MFAProcess != "":
			return stsclient.RunMFAProcess(ctx, p.MFAProcess)
		case o.Prompt != nil:
			return o.Prompt(ctx, p)
		}
		return "", fmt.Errorf("profile %q needs an MFA code: set mfa_process, or run `stsd run` and give it one with `stsd mfa %s`", p.Name, p.Name)
	}
	code, err := get()
	if err != nil {
		return "", err
	}
	lastSum, lastAt := readCode(lastFile)
	if codeSum(code) != lastSum {
		return code, nil
	}
	if p.MFAProcess == "" {
		return "", ErrCodeUsed
	}
	wait := lastAt.Truncate(totpStep).Add(totpStep).Sub(o.Now())
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case <-time.After(wait):
	}
	if code, err = get(); err == nil && codeSum(code) == lastSum {
		err = ErrCodeUsed
	}
	return code, err
}

func serialLockName(serial string) string {
	return "mfa-" + codeSum(serial)[:16]
}

// codeSum hashes a code (or serial) so the file never holds a code.
func codeSum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// readCode returns the hash and time of the last code sent for a device.
func readCode(path string) (string, time.Time) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", time.Time{}
	}
	sum, at, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	unix, _ := strconv.ParseInt(at, 10, 64)
	return sum, time.Unix(unix, 0)
}

func recordCode(path, code string, now time.Time) {
	// Best effort: losing it only risks one rejected code later.
	_ = writePrivate(path, []byte(codeSum(code)+" "+strconv.FormatInt(now.Unix(), 10)+"\n"))
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
	if p.Mode == config.ModeSession && p.MFASerial != "" {
		// One process at a time per MFA device, and never the same
		// single-use code twice (other profiles may share the device).
		unlockSerial, err := o.Store.Lock(ctx, serialLockName(p.MFASerial))
		if err != nil {
			return nil, fmt.Errorf("lock MFA device: %w", err)
		}
		defer unlockSerial()
		last := filepath.Join(o.Store.Dir(), serialLockName(p.MFASerial)+".last")
		if req.TokenCode, err = o.code(ctx, p, last); err != nil {
			return nil, err
		}
		defer recordCode(last, req.TokenCode, o.Now())
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
