package daemon

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/clock"
	"github.com/stsd/stsd/internal/mfa"
	"github.com/stsd/stsd/internal/redact"
	"github.com/stsd/stsd/internal/stsclient"
	"github.com/stsd/stsd/keys"
)

// Rotation timing. A failed step is retried after keyRetry; the schedule
// is looked at again at least every keyTick (and after each reload).
const (
	keyRetry = time.Hour
	keyTick  = time.Hour
)

// keyState is the long-term keys' side of the daemon: their stores
// (rebuilt when the config changes) and the rotation schedule.
type keyState struct {
	kick chan struct{} // buffered 1: a reload may have changed [keys]

	mu     sync.Mutex // guards the fields that follow
	cfg    *config.Config
	stores *keys.Stores
	retry  map[string]time.Time // key → no rotation attempt before
}

// keyStores returns the key stores of cfg, made once per config.
func (s *Supervisor) keyStores(cfg *config.Config) *keys.Stores {
	k := &s.keys
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cfg != cfg {
		k.cfg = cfg
		k.stores = keys.New(cfg, keys.Options{Passphrase: s.o.Passphrase, Now: s.o.Clock.Now, StateDir: s.o.KeysDir})
	}
	return k.stores
}

// kickKeys makes the rotation schedule look at the config again.
func (s *Supervisor) kickKeys() {
	select {
	case s.keys.kick <- struct{}{}:
	default:
	}
}

// keyCloud is what rotations call AWS with.
func (s *Supervisor) keyCloud() keys.Cloud {
	if s.o.KeyCloud != nil {
		return s.o.KeyCloud
	}
	return stsclient.NewCloud(stsclient.CloudOptions{HTTPClient: s.o.HTTPClient})
}

// rotateKeys runs in the run group: at start it finishes or rolls back
// any rotation a crash cut short, then rotates each key when its
// rotate_every comes due. Rotations run one at a time; each step is
// logged with key ids redacted.
func (s *Supervisor) rotateKeys(ctx context.Context) {
	cloud := s.keyCloud()
	for {
		next := s.o.Clock.Now().Add(keyTick)
		cfg := s.cur().cfg
		for _, name := range cfg.KeyNames() {
			if ctx.Err() != nil {
				return
			}
			if at := s.keyTurn(ctx, cloud, cfg, name); !at.IsZero() && at.Before(next) {
				next = at
			}
		}
		t := s.o.Clock.NewTimer(max(next.Sub(s.o.Clock.Now()), time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.keys.kick:
		case <-t.C():
		}
		t.Stop()
	}
}

// keyTurn does what is due for name now and returns when to look again
// (zero: nothing scheduled).
func (s *Supervisor) keyTurn(ctx context.Context, cloud keys.Cloud, cfg *config.Config, name string) time.Time {
	st := s.keyStores(cfg)
	kc := cfg.Key(name)
	now := s.o.Clock.Now()
	s.keys.mu.Lock()
	retry := s.keys.retry[name]
	s.keys.mu.Unlock()
	if retry.After(now) {
		return retry
	}
	o := keys.RotateOptions{Cloud: cloud, Log: s.o.Logger, Sleep: func(ctx context.Context, d time.Duration) bool { return clock.Sleep(ctx, s.o.Clock, d) }}
	if kc.MFAProcess != "" {
		o.MFACode = func(ctx context.Context) (string, error) { return mfa.RunProcess(ctx, kc.MFAProcess) }
	}
	o.Stored = func() { s.refreshUsers(name) }
	var out *keys.Outcome
	var err error
	switch {
	case st.Rotating(name) != "":
		out, err = st.Resume(ctx, name, o)
	case kc.RotateEvery > 0:
		m, oerr := st.Observe(ctx, name, cloud)
		if oerr != nil {
			s.o.Logger.Warn("cannot read a key to rotate", "event", "key_unreadable", "key", name, "err", oerr.Error())
			return s.keyRetryAt(name, now)
		}
		due, _ := st.NextRotation(name, m)
		if due.After(now) {
			return due
		}
		out, err = st.Rotate(ctx, name, o)
	default:
		return time.Time{}
	}
	if ctx.Err() != nil {
		return time.Time{}
	}
	if err != nil {
		lvl := "key rotation failed; the stored key keeps serving"
		if errors.Is(err, keys.ErrOldKeyInUse) {
			lvl = "key rotation paused: the old key is still in use elsewhere"
		}
		s.o.Logger.Warn(lvl, "event", "key_rotation_failed", "key", name, "err", err.Error())
		return s.keyRetryAt(name, now)
	}
	if out != nil && out.Step == keys.StepDeactivated {
		return out.DeleteAt
	}
	if out != nil && out.Step == "" && out.New != redact.KeyID("") {
		s.o.Logger.Info("key rotated", "event", "key_rotated", "key", name, "akid", out.New)
	}
	if m, err := st.Meta(name); err == nil {
		if due, ok := st.NextRotation(name, m); ok {
			return due
		}
	}
	return time.Time{}
}

// refreshUsers asks every profile whose source is key name to refresh
// now, so that the credentials it serves come from the newly stored key
// before the old one is deactivated. Profiles with mfa_serial keep theirs
// until their own refresh: a refresh now would need a code.
func (s *Supervisor) refreshUsers(name string) {
	v := s.cur()
	for pn, r := range v.refreshers {
		if p := v.cfg.Profiles[pn]; p != nil && p.SourceProfile == name && p.MFASerial == "" {
			r.Refresh()
		}
	}
}

func (s *Supervisor) keyRetryAt(name string, now time.Time) time.Time {
	at := now.Add(keyRetry)
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	if s.keys.retry == nil {
		s.keys.retry = map[string]time.Time{}
	}
	s.keys.retry[name] = at
	return at
}

// keyInfos are the keys for status (from disk only: no AWS call, no
// keyring unlock).
func (s *Supervisor) keyInfos(ctx context.Context) []keys.Info {
	cfg := s.cur().cfg
	st := s.keyStores(cfg)
	var out []keys.Info
	for _, name := range cfg.KeyNames() {
		out = append(out, st.Info(ctx, name))
	}
	return out
}
