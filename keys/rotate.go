package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/stsd/stsd/cache"
	"github.com/stsd/stsd/internal/clock"
	"github.com/stsd/stsd/internal/redact"
)

// Cloud is what a rotation needs from AWS (internal/stsclient.Cloud).
type Cloud interface {
	// Identity makes one GetCallerIdentity signed with k and returns the
	// caller's ARN.
	Identity(ctx context.Context, k Key) (string, error)
	// IAM returns the IAM calls for user, signed with k, or with a
	// GetSessionToken session made with k and an MFA code when m.Serial
	// is set.
	IAM(ctx context.Context, k Key, user string, m MFA) (IAM, error)
}

// MFA is the device IAM calls need when the user's policy demands MFA.
type MFA struct {
	Serial string
	Code   func(ctx context.Context) (string, error) // nil: no code can be had
}

// IAM is the access-key calls of one IAM user. Every call passes
// UserName (IAM requires it with temporary credentials).
type IAM interface {
	CreateAccessKey(ctx context.Context) (Key, error)
	UpdateAccessKey(ctx context.Context, id string, active bool) error
	DeleteAccessKey(ctx context.Context, id string) error
	ListAccessKeys(ctx context.Context) ([]AccessKey, error)
	// LastUsed is when the key was last used (zero: never).
	LastUsed(ctx context.Context, id string) (time.Time, error)
}

// AccessKey is one key IAM lists for a user.
type AccessKey struct {
	ID      string
	Active  bool
	Created time.Time
}

// Errors a rotation reports; callers and status branch on them.
var (
	// ErrOldKeyInUse: the old key was used after the new one was stored,
	// so another copy of it is still in use somewhere. It stays active.
	ErrOldKeyInUse = errors.New("the old key is still in use elsewhere")
	// ErrSecondKey: the IAM user already has two keys (IAM's limit).
	ErrSecondKey = errors.New("the IAM user already has a second access key")
	// ErrNotValid: the new key never worked; the rotation was rolled back.
	ErrNotValid = errors.New("the new key did not work")
)

// lastUsedSlack is how much later than the store a use of the old key
// must be to count as another copy's: IAM dates uses in whole seconds by
// its own clock, and our own calls (and a refresh in flight) used the old
// key just before the store.
const lastUsedSlack = time.Minute

// Defaults of RotateOptions.
const (
	DefaultVerifyTries = 10 // IAM keys take seconds to work everywhere
	updateTries        = 3
	maxVerifyBackoff   = 8 * time.Second
)

// RotateOptions configure a rotation. Zero values mean defaults.
type RotateOptions struct {
	Cloud Cloud
	Log   *slog.Logger
	// Sleep waits between tries; default a timer that ctx cancels.
	Sleep func(ctx context.Context, d time.Duration) bool
	// VerifyTries bounds the GetCallerIdentity calls that wait for the
	// new key to work; default DefaultVerifyTries.
	VerifyTries int
	// MFACode gives an MFA code for IAM when the key has mfa_serial; nil
	// when none can be had (the daemon without mfa_process).
	MFACode func(ctx context.Context) (string, error)
	// Stored, if set, is called once the new key is stored, before the
	// old one is deactivated (the daemon refreshes the profiles using it,
	// so what they serve comes from the new key).
	Stored func()
}

// Outcome is where a rotation stopped.
type Outcome struct {
	Step     Step      // "" when the rotation finished (the old key deleted)
	Old, New string    // key ids, redacted
	DeleteAt time.Time // StepDeactivated: when the old key will be deleted
	OldUse   time.Time // ErrOldKeyInUse: the use seen
}

// rotation is one Rotate call.
type rotation struct {
	s    *Stores
	name string
	o    RotateOptions
	log  *slog.Logger
	j    *journal
	iam  IAM    // built once per call
	iamK string // the key id iam is signed with
}

// Rotate rotates name's key, or resumes its rotation in progress: create
// a key, wait until it works, store it, check the old key's last use,
// deactivate the old key, and delete it once rotate_grace has passed. A
// rotation that must wait for the grace returns an Outcome at
// StepDeactivated; running Rotate again after DeleteAt finishes it.
func (s *Stores) Rotate(ctx context.Context, name string, o RotateOptions) (*Outcome, error) {
	unlock, err := s.lock(ctx, name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	r, err := s.newRotation(name, o)
	if err != nil {
		return nil, err
	}
	if r.j != nil && r.j.Step == StepCreating {
		// Cut short before its new key was known: roll back, start anew.
		if err := r.recoverCreating(ctx); err != nil {
			return nil, err
		}
		r.j = nil
	}
	if r.j == nil {
		if err := r.begin(ctx); err != nil {
			return nil, err
		}
	}
	return r.run(ctx)
}

// Resume finishes or rolls back name's rotation in progress, if any (nil
// Outcome when there is none): what a start does after a crash.
func (s *Stores) Resume(ctx context.Context, name string, o RotateOptions) (*Outcome, error) {
	unlock, err := s.lock(ctx, name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	r, err := s.newRotation(name, o)
	if err != nil || r.j == nil {
		return nil, err
	}
	r.log.Info("resuming key rotation", "event", "key_rotation_resumed", "step", string(r.j.Step))
	return r.run(ctx)
}

// lock keeps one rotation of name at a time across processes (the daemon's
// schedule and `stsd key rotate`).
func (s *Stores) lock(ctx context.Context, name string) (func(), error) {
	st, err := cache.Open(s.o.StateDir)
	if err != nil {
		return nil, fmt.Errorf("rotate: %w", err)
	}
	return st.Lock(ctx, "rotate-"+name)
}

func (s *Stores) newRotation(name string, o RotateOptions) (*rotation, error) {
	if o.Cloud == nil {
		return nil, errors.New("rotate: no AWS client")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Sleep == nil {
		o.Sleep = func(ctx context.Context, d time.Duration) bool { return clock.Sleep(ctx, clock.Real, d) }
	}
	if o.VerifyTries <= 0 {
		o.VerifyTries = DefaultVerifyTries
	}
	j, err := s.loadJournal(name)
	if err != nil {
		return nil, err
	}
	return &rotation{s: s, name: name, o: o, log: o.Log.With("key", name), j: j}, nil
}

// run takes the journal through its steps until the rotation is done or
// must wait.
func (r *rotation) run(ctx context.Context) (*Outcome, error) {
	for {
		var err error
		switch r.j.Step {
		case StepCreating:
			if err = r.recoverCreating(ctx); err == nil {
				return &Outcome{Old: redact.KeyID(r.j.Old.ID)}, nil
			}
		case StepCreated:
			err = r.verifyAndStore(ctx)
		case StepStored:
			err = r.deactivate(ctx)
		case StepDeactivated:
			if at := r.j.Deactivated.Add(r.s.cfg.Key(r.name).RotateGrace); r.s.o.Now().Before(at) {
				return r.outcome(at), nil
			}
			if err = r.deleteOld(ctx); err == nil {
				return r.outcome(time.Time{}), nil
			}
		default:
			err = fmt.Errorf("rotation journal of %q has unknown step %q", r.name, r.j.Step)
		}
		if err != nil {
			r.noteProblem(err)
			return r.outcome(time.Time{}), err
		}
	}
}

func (r *rotation) outcome(deleteAt time.Time) *Outcome {
	o := &Outcome{Step: r.j.Step, Old: redact.KeyID(r.j.Old.ID), New: redact.KeyID(r.j.New.ID), DeleteAt: deleteAt, OldUse: r.j.OldUse}
	if deleteAt.IsZero() && r.j.Step == StepDeactivated {
		o.Step = "" // finished
	}
	return o
}

// noteProblem records a failure for status (never a secret: errors here
// carry AWS codes and redacted ids only).
func (r *rotation) noteProblem(err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	m, _ := r.s.Meta(r.name)
	m.Problem = err.Error()
	if errors.Is(err, ErrOldKeyInUse) {
		m.OldUse = r.j.OldUse
	}
	_ = r.s.SaveMeta(r.name, m)
}

// client returns IAM signed with k (or an MFA session made with it),
// building it once per key.
func (r *rotation) client(ctx context.Context, k Key) (IAM, error) {
	if r.iam != nil && (r.iamK == k.ID || r.mfa().Serial != "") {
		// An MFA session serves the whole call: a second one would need
		// a second single-use code.
		return r.iam, nil
	}
	m := r.mfa()
	if m.Serial != "" && m.Code == nil {
		return nil, fmt.Errorf("IAM calls for key %q need an MFA code from %s, and none can be had here: run `stsd key rotate %s` on a terminal, or set mfa_process on a profile using this key", r.name, m.Serial, r.name)
	}
	iam, err := r.o.Cloud.IAM(ctx, k, r.j.User, m)
	if err != nil {
		return nil, err
	}
	r.iam, r.iamK = iam, k.ID
	return iam, nil
}

func (r *rotation) mfa() MFA {
	return MFA{Serial: r.s.cfg.Key(r.name).MFASerial, Code: r.o.MFACode}
}

// begin checks the current key and the user's keys, journals, and makes
// the new key.
func (r *rotation) begin(ctx context.Context) error {
	old, err := r.s.Load(ctx, r.name)
	if err != nil {
		return err
	}
	arn, err := r.o.Cloud.Identity(ctx, old)
	if err != nil {
		return fmt.Errorf("check key %s: %w", old, err)
	}
	user, err := userOf(arn)
	if err != nil {
		return err
	}
	r.j = &journal{Step: StepCreating, User: user, ARN: arn, Old: journalKey{old.ID, old.Secret}, Began: r.s.o.Now().UTC()}
	iam, err := r.client(ctx, old)
	if err != nil {
		return err
	}
	list, err := iam.ListAccessKeys(ctx)
	if err != nil {
		return fmt.Errorf("list the access keys of IAM user %s: %w", user, err)
	}
	if err := secondKey(user, old.ID, list); err != nil {
		return err
	}
	for _, k := range list {
		r.j.Before = append(r.j.Before, k.ID)
	}
	if err := r.s.saveJournal(r.name, r.j); err != nil {
		return err
	}
	r.log.Info("rotating key", "event", "key_rotation_started", "akid", redact.KeyID(old.ID), "user", user)
	nk, err := iam.CreateAccessKey(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // as a crash would: the next start recovers
		}
		cerr := fmt.Errorf("create a new access key for IAM user %s: %w", user, err)
		if refused(err) {
			// IAM answered no: nothing was made, and a key that appeared
			// meanwhile is someone else's.
			if derr := r.s.dropJournal(r.name); derr != nil {
				return errors.Join(cerr, derr)
			}
		} else if rerr := r.recoverCreating(ctx); rerr != nil {
			return errors.Join(cerr, rerr)
		}
		if isLimit(err) {
			if list, lerr := iam.ListAccessKeys(ctx); lerr == nil {
				if serr := secondKey(user, old.ID, list); serr != nil {
					return serr
				}
			}
		}
		return cerr
	}
	r.j.New = journalKey{nk.ID, nk.Secret}
	r.j.Step = StepCreated
	if err := r.s.saveJournal(r.name, r.j); err != nil {
		return err
	}
	r.log.Info("created a new access key", "event", "key_created", "akid", redact.KeyID(nk.ID))
	return nil
}

// secondKey refuses when the user has a key besides old, naming it.
func secondKey(user, old string, list []AccessKey) error {
	for _, k := range list {
		if k.ID == old {
			continue
		}
		state := "inactive"
		if k.Active {
			state = "active"
		}
		return fmt.Errorf("%w: IAM user %s already has a second key, %s (%s, created %s), and IAM allows two: delete it (aws iam delete-access-key --user-name %s --access-key-id …) and rotate again", ErrSecondKey, user, redact.KeyID(k.ID), state, k.Created.UTC().Format(time.DateOnly), user)
	}
	return nil
}

// recoverCreating deletes every key the user has that was not there
// before CreateAccessKey (one IAM made whose answer was lost), then drops
// the journal.
func (r *rotation) recoverCreating(ctx context.Context) error {
	iam, err := r.client(ctx, r.j.Old.key())
	if err != nil {
		return err
	}
	list, err := iam.ListAccessKeys(ctx)
	if err != nil {
		return fmt.Errorf("roll back the rotation of %q: list keys: %w", r.name, err)
	}
	for _, k := range list {
		if k.ID == r.j.Old.ID || slices.Contains(r.j.Before, k.ID) {
			continue
		}
		if err := iam.DeleteAccessKey(ctx, k.ID); err != nil && !isNoSuchEntity(err) {
			return fmt.Errorf("roll back the rotation of %q: delete %s: %w", r.name, redact.KeyID(k.ID), err)
		}
		r.log.Warn("deleted a key a cut-short rotation made", "event", "key_rotation_rolled_back", "akid", redact.KeyID(k.ID))
	}
	return r.s.dropJournal(r.name)
}

// verifyAndStore waits (bounded) until the new key works, then stores
// it; a key that never works is deleted and the old one kept.
func (r *rotation) verifyAndStore(ctx context.Context) error {
	nk := r.j.New.key()
	if cur, err := r.s.Load(ctx, r.name); err == nil && cur.ID == nk.ID {
		return r.stored() // stored before a crash cut the journal short
	}
	if err := r.verify(ctx, nk); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return r.rollBack(ctx, fmt.Errorf("%w after %d tries (%v); rolled back, the old key %s stays in use", ErrNotValid, r.o.VerifyTries, err, redact.KeyID(r.j.Old.ID)))
	}
	r.log.Info("the new key works", "event", "key_verified", "akid", redact.KeyID(nk.ID))
	if err := r.s.Save(ctx, r.name, nk); err != nil {
		return r.rollBack(ctx, fmt.Errorf("store the new key: %w; rolled back", err))
	}
	return r.stored()
}

func (r *rotation) stored() error {
	now := r.s.o.Now().UTC()
	r.j.Step, r.j.Stored = StepStored, now
	if err := r.s.saveJournal(r.name, r.j); err != nil {
		return err
	}
	_ = r.s.SaveMeta(r.name, Meta{KeyID: r.j.New.ID, Stored: now, Created: now})
	r.log.Info("stored the new key; profiles use it from their next refresh", "event", "key_stored", "akid", redact.KeyID(r.j.New.ID))
	if r.o.Stored != nil {
		r.o.Stored()
	}
	return nil
}

// verify makes GetCallerIdentity calls with k until one answers as the
// same IAM user, with a doubling backoff.
func (r *rotation) verify(ctx context.Context, k Key) error {
	backoff := time.Second
	var err error
	for try := 1; try <= r.o.VerifyTries; try++ {
		var arn string
		if arn, err = r.o.Cloud.Identity(ctx, k); err == nil {
			if arn == r.j.ARN {
				return nil
			}
			return fmt.Errorf("the new key belongs to %s, not %s", arn, r.j.ARN)
		}
		if try == r.o.VerifyTries || !r.o.Sleep(ctx, backoff) {
			break
		}
		backoff = min(2*backoff, maxVerifyBackoff)
	}
	return err
}

func (r *rotation) rollBack(ctx context.Context, why error) error {
	iam, err := r.client(ctx, r.j.Old.key())
	if err == nil {
		err = iam.DeleteAccessKey(ctx, r.j.New.ID)
		if isNoSuchEntity(err) {
			err = nil
		}
	}
	if err != nil {
		return errors.Join(why, fmt.Errorf("delete the new key %s: %w (the next start retries)", redact.KeyID(r.j.New.ID), err))
	}
	r.log.Warn("rolled back the key rotation", "event", "key_rotation_rolled_back", "akid", redact.KeyID(r.j.New.ID), "err", why)
	if err := r.s.dropJournal(r.name); err != nil {
		return errors.Join(why, err)
	}
	return why
}

// deactivate checks that the old key was not used since the new one was
// stored, then makes it inactive.
func (r *rotation) deactivate(ctx context.Context) error {
	iam, err := r.client(ctx, r.j.New.key())
	if err != nil {
		return err
	}
	used, err := iam.LastUsed(ctx, r.j.Old.ID)
	if err != nil {
		return fmt.Errorf("check when the old key %s was last used: %w", redact.KeyID(r.j.Old.ID), err)
	}
	if used.After(r.j.Stored.Add(lastUsedSlack)) && used.After(r.j.OldUse) {
		r.j.OldUse = used
		if err := r.s.saveJournal(r.name, r.j); err != nil {
			return err
		}
		r.log.Warn("the old key was used after the new one was stored: another copy is in use somewhere, so it stays active", "event", "old_key_in_use", "akid", redact.KeyID(r.j.Old.ID), "used", used.UTC().Format(time.RFC3339))
		return fmt.Errorf("%w: %s was used at %s, after the new key was stored; it stays active: find that copy, then `stsd key rotate %s` again", ErrOldKeyInUse, redact.KeyID(r.j.Old.ID), used.UTC().Format(time.RFC3339), r.name)
	}
	for try := 1; ; try++ {
		if err = iam.UpdateAccessKey(ctx, r.j.Old.ID, false); err == nil || isNoSuchEntity(err) {
			break
		}
		if try == updateTries || !r.o.Sleep(ctx, time.Duration(try)*time.Second) {
			return fmt.Errorf("deactivate the old key %s: %w (it stays active; retried later)", redact.KeyID(r.j.Old.ID), err)
		}
	}
	r.j.Step, r.j.Deactivated = StepDeactivated, r.s.o.Now().UTC()
	if err := r.s.saveJournal(r.name, r.j); err != nil {
		return err
	}
	r.log.Info("deactivated the old key", "event", "old_key_deactivated", "akid", redact.KeyID(r.j.Old.ID))
	return nil
}

// deleteOld deletes the inactive old key and ends the rotation.
func (r *rotation) deleteOld(ctx context.Context) error {
	iam, err := r.client(ctx, r.j.New.key())
	if err != nil {
		return err
	}
	if err := iam.DeleteAccessKey(ctx, r.j.Old.ID); err != nil && !isNoSuchEntity(err) {
		return fmt.Errorf("delete the old key %s: %w (it stays inactive; retried later)", redact.KeyID(r.j.Old.ID), err)
	}
	r.log.Info("deleted the old key", "event", "old_key_deleted", "akid", redact.KeyID(r.j.Old.ID))
	if err := r.s.dropJournal(r.name); err != nil {
		return err
	}
	m, _ := r.s.Meta(r.name)
	if m.KeyID != r.j.New.ID {
		m = Meta{KeyID: r.j.New.ID, Stored: r.j.Stored, Created: r.j.Stored}
	}
	m.Rotated, m.Problem, m.OldUse = r.s.o.Now().UTC(), "", time.Time{}
	return r.s.SaveMeta(r.name, m)
}

// userOf is the IAM user name of an ARN GetCallerIdentity returned.
func userOf(arn string) (string, error) {
	switch {
	case strings.HasSuffix(arn, ":root"):
		return "", errors.New("this is the account root's key: IAM cannot rotate it; make an IAM user for stsd")
	case !strings.Contains(arn, ":user/"):
		return "", fmt.Errorf("%s is not an IAM user: only an IAM user's long-term key can be rotated (federation and role credentials can never call IAM)", arn)
	}
	return arn[strings.LastIndex(arn, "/")+1:], nil
}

// apiCode is the AWS error code of err, for the few branches here.
type apiCode interface{ ErrorCode() string }

func codeOf(err error) string {
	var ac apiCode
	if errors.As(err, &ac) {
		return ac.ErrorCode()
	}
	return ""
}

func isLimit(err error) bool { return codeOf(err) == "LimitExceeded" }

// refused reports whether IAM answered err as a clear refusal, so the
// call had no effect; a server failure, a timeout or no answer may have
// made the key all the same.
func refused(err error) bool {
	switch codeOf(err) {
	case "", "ServiceFailure", "InternalFailure", "ServiceUnavailable", "UnknownError":
		return false
	}
	return true
}
func isNoSuchEntity(err error) bool { return codeOf(err) == "NoSuchEntity" }
