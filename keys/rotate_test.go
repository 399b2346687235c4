package keys_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/stsclient"
	"github.com/stsd/stsd/internal/ststest"
	"github.com/stsd/stsd/keys"
)

const (
	oldID     = "AKIAFAKEOLDKEY000001"
	oldSecret = "oldsecretoldsecretoldsecretoldsecret0000"
	pass      = "correct horse battery staple"
)

// world is one IAM user in the stand-in, its key stored in a temp HOME.
type world struct {
	t      *testing.T
	h      *ststest.Server
	cfg    *config.Config
	stores *keys.Stores
	creds  string // the credentials file
	now    time.Time
	mu     sync.Mutex // guards now
}

func (w *world) clock() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *world) advance(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.now = w.now.Add(d)
}

// credsFile is the shared credentials file the tests start from: the key
// under [src] between other bytes that must stay.
const credsFile = "# my keys\n[other]\naws_access_key_id = AKIAFAKEOTHER0000000\naws_secret_access_key = othersecretothersecret\n\n[src]\naws_access_key_id = " + oldID + "\naws_secret_access_key = " + oldSecret + "\n; trailing comment\n"

func newWorld(t *testing.T, store string) *world {
	t.Helper()
	dir := t.TempDir()
	w := &world{t: t, now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	w.h = ststest.NewServer(t, ststest.Options{Now: w.clock})
	w.h.AddAccessKey(oldID)
	w.creds = filepath.Join(dir, "credentials")
	if err := os.WriteFile(w.creds, []byte(credsFile), 0o600); err != nil {
		t.Fatal(err)
	}
	src := "credentials_file = \"" + w.creds + "\"\n[profiles.p]\nsource_profile = \"src\"\n[keys.src]\nstore = \"" + store + "\"\nrotate_every = \"30d\"\n[keyring]\nbackend = \"file\"\nfile_dir = \"" + filepath.Join(dir, "ring") + "\"\n"
	cfg, err := config.Parse(filepath.Join(dir, "config.toml"), []byte(src), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.cfg = cfg
	w.stores = w.newStores(dir)
	if store == "keyring" {
		if err := w.stores.Add(t.Context(), "src", keys.Key{ID: oldID, Secret: oldSecret}); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// newStores is what a (re)start builds: nothing shared with the last one
// but the files.
func (w *world) newStores(dir string) *keys.Stores {
	pp := &keys.Passphrase{}
	pp.Set(pass)
	return keys.New(w.cfg, keys.Options{StateDir: filepath.Join(dir, "state"), Passphrase: pp, Now: w.clock})
}

func (w *world) restart() { w.stores = w.newStores(filepath.Dir(w.creds)) }

func (w *world) cloud() *stsclient.Cloud {
	return stsclient.NewCloud(stsclient.CloudOptions{HTTPClient: &http.Client{Transport: w.h.RoundTripper()}})
}

func (w *world) opts(c keys.Cloud) keys.RotateOptions {
	return keys.RotateOptions{Cloud: c, VerifyTries: 5, Sleep: func(ctx context.Context, d time.Duration) bool {
		w.advance(d)
		return ctx.Err() == nil
	}, Log: testLogger(w.t)}
}

// check asserts the invariant after every case: exactly one key active in
// IAM, it is the stored one, and it gets credentials from STS.
func (w *world) check() keys.Key {
	w.t.Helper()
	k, err := w.stores.Load(w.t.Context(), "src")
	if err != nil {
		w.t.Fatalf("Load(src) = %v", err)
	}
	if active := w.h.ActiveKeys(); !slices.Equal(active, []string{k.ID}) {
		w.t.Errorf("active keys = %v; want exactly the stored one, %s", active, k)
	}
	f := stsclient.New(w.cfg, w.cfg.Profiles["p"], stsclient.Options{HTTPClient: &http.Client{Transport: w.h.RoundTripper()}, Keys: w.stores, Now: w.clock})
	if _, err := f.Fetch(w.t.Context(), stsclient.Request{}); err != nil {
		w.t.Errorf("Fetch with the stored key = %v; want credentials", err)
	}
	return k
}

func TestRotateBothStores(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"credentials_file", "keyring"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, store)
			out, err := w.stores.Rotate(t.Context(), "src", w.opts(w.cloud()))
			if err != nil || out.Step != keys.StepDeactivated {
				t.Fatalf("Rotate = %+v, %v; want stopped at deactivated", out, err)
			}
			nk := w.check()
			if nk.ID == oldID {
				t.Fatal("the stored key is still the old one")
			}
			if store == "credentials_file" {
				data, _ := os.ReadFile(w.creds)
				want := strings.NewReplacer(oldID, nk.ID, oldSecret, nk.Secret).Replace(credsFile)
				if string(data) != want {
					t.Errorf("credentials file =\n%s\nwant only the two values changed:\n%s", data, want)
				}
				if fi, _ := os.Stat(w.creds); fi.Mode().Perm() != 0o600 {
					t.Errorf("credentials file mode = %v; want 0600 kept", fi.Mode())
				}
			}
			if got := w.stores.Rotating("src"); got != keys.StepDeactivated {
				t.Errorf("Rotating = %q; want deactivated until the grace passes", got)
			}
			// Before the grace: nothing to do yet.
			if out, err := w.stores.Rotate(t.Context(), "src", w.opts(w.cloud())); err != nil || out.Step != keys.StepDeactivated {
				t.Errorf("Rotate within the grace = %+v, %v; want still waiting", out, err)
			}
			w.advance(time.Hour + time.Second)
			w.restart()
			out, err = w.stores.Resume(t.Context(), "src", w.opts(w.cloud()))
			if err != nil || out.Step != "" {
				t.Fatalf("Resume after the grace = %+v, %v; want finished", out, err)
			}
			if n := len(w.h.AccessKeys()); n != 1 {
				t.Errorf("IAM has %d keys; want the old one deleted", n)
			}
			m, _ := w.stores.Meta("src")
			if m.KeyID != nk.ID || m.Rotated.IsZero() || m.Problem != "" {
				t.Errorf("Meta = %+v; want the new key, rotated, no problem", m)
			}
			w.check()
		})
	}
}

func TestRotateFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		setup   func(w *world)
		wantErr error
		// wantStep is where the journal stands after the failure ("" none).
		wantStep keys.Step
		// oldActive: the old key is still the stored, active one.
		oldStored bool
	}{
		{name: "create fails", setup: func(w *world) { w.h.FailIAM(ststest.ActionCreateAccessKey, 1) }, oldStored: true},
		{name: "new key valid after 3 tries", setup: func(w *world) { w.h.SetPropagation(3) }, wantStep: keys.StepDeactivated},
		{name: "new key never valid", setup: func(w *world) { w.h.SetPropagation(100) }, wantErr: keys.ErrNotValid, oldStored: true},
		{name: "update fails once", setup: func(w *world) { w.h.FailIAM(ststest.ActionUpdateAccessKey, 1) }, wantStep: keys.StepDeactivated},
		{name: "second key exists", setup: func(w *world) {
			w.h.AddAccessKey("AKIAFAKESECOND000009")
			// It is inactive: the user has one active key, as the invariant wants.
			if err := updateInactive(w, "AKIAFAKESECOND000009"); err != nil {
				w.t.Fatal(err)
			}
		}, wantErr: keys.ErrSecondKey, oldStored: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, "keyring")
			tt.setup(w)
			_, err := w.stores.Rotate(t.Context(), "src", w.opts(w.cloud()))
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Rotate error = %v; want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && tt.wantStep == "" && err == nil {
				t.Errorf("Rotate = nil error; want a failure")
			}
			if err != nil && strings.Contains(err.Error(), "secret") && strings.Contains(err.Error(), oldSecret) {
				t.Errorf("error %q shows the secret", err)
			}
			if got := w.stores.Rotating("src"); got != tt.wantStep {
				t.Errorf("Rotating = %q; want %q", got, tt.wantStep)
			}
			k := w.check()
			if (k.ID == oldID) != tt.oldStored {
				t.Errorf("stored key is %s; want old stored = %v", k, tt.oldStored)
			}
			if tt.name == "second key exists" && !strings.Contains(err.Error(), "AKIA…0009") {
				t.Errorf("error %q does not name the second key as AKIA…0009", err)
			}
		})
	}
}

func updateInactive(w *world, id string) error {
	iam, err := w.cloud().IAM(w.t.Context(), keys.Key{ID: oldID, Secret: oldSecret}, ststest.DefaultUserName, keys.MFA{})
	if err != nil {
		return err
	}
	return iam.UpdateAccessKey(w.t.Context(), id, false)
}

// TestRotateRetriedAtNextStart: a step that keeps failing leaves a key that
// works, and the next start finishes the rotation.
func TestRotateRetriedAtNextStart(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		action string
		fails  int // as many as one run tries
		at     keys.Step
	}{
		{"update", ststest.ActionUpdateAccessKey, 3, keys.StepStored},
		{"delete", ststest.ActionDeleteAccessKey, 1, keys.StepDeactivated},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, "credentials_file")
			w.h.FailIAM(tt.action, tt.fails)
			_, err := w.stores.Rotate(t.Context(), "src", w.opts(w.cloud()))
			if tt.at == keys.StepDeactivated {
				w.advance(2 * time.Hour)
				_, err = w.stores.Rotate(t.Context(), "src", w.opts(w.cloud()))
			}
			if err == nil || w.stores.Rotating("src") != tt.at {
				t.Fatalf("Rotate = %v, journal %q; want a failure at %q", err, w.stores.Rotating("src"), tt.at)
			}
			if m, _ := w.stores.Meta("src"); !strings.Contains(m.Problem, "ServiceFailure") {
				t.Errorf("Meta.Problem = %q; want the failure for status", m.Problem)
			}
			if tt.at == keys.StepStored {
				// Both keys work until the old one is deactivated.
				if n := len(w.h.ActiveKeys()); n != 2 {
					t.Errorf("%d active keys; want both while the update fails", n)
				}
			} else {
				w.check()
			}
			w.advance(2 * time.Hour)
			w.restart()
			out, err := w.stores.Resume(t.Context(), "src", w.opts(w.cloud()))
			if err != nil {
				t.Fatalf("Resume = %v", err)
			}
			if out.Step == keys.StepDeactivated {
				w.advance(2 * time.Hour)
				out, err = w.stores.Resume(t.Context(), "src", w.opts(w.cloud()))
			}
			if err != nil || out.Step != "" {
				t.Errorf("Resume = %+v, %v; want finished", out, err)
			}
			w.check()
		})
	}
}

// crashCloud cuts the process short right after one call took effect in
// IAM, as a kill would: its answer is lost and nothing after it runs.
type crashCloud struct {
	keys.Cloud
	after  string // the call after which to crash
	cancel context.CancelFunc
	w      *world
}

func (c *crashCloud) crash(op string) bool {
	if op == c.after {
		c.cancel()
		return true
	}
	return false
}

func (c *crashCloud) Identity(ctx context.Context, k keys.Key) (string, error) {
	arn, err := c.Cloud.Identity(ctx, k)
	if k.ID != oldID && c.crash("Verify") {
		return "", context.Canceled
	}
	return arn, err
}

func (c *crashCloud) IAM(ctx context.Context, k keys.Key, user string, m keys.MFA) (keys.IAM, error) {
	iam, err := c.Cloud.IAM(ctx, k, user, m)
	return &crashIAM{IAM: iam, c: c}, err
}

type crashIAM struct {
	keys.IAM
	c *crashCloud
}

func (i *crashIAM) CreateAccessKey(ctx context.Context) (keys.Key, error) {
	k, err := i.IAM.CreateAccessKey(ctx)
	if i.c.crash("Create") {
		return keys.Key{}, context.Canceled
	}
	return k, err
}

func (i *crashIAM) ListAccessKeys(ctx context.Context) ([]keys.AccessKey, error) {
	list, err := i.IAM.ListAccessKeys(ctx)
	if i.c.after == "RaceSecondKey" {
		i.c.after = ""
		i.c.w.h.AddAccessKey(secondKey) // someone else's, between the list and the create
	}
	return list, err
}

func (i *crashIAM) LastUsed(ctx context.Context, id string) (time.Time, error) {
	if i.c.crash("Store") { // the key is stored; nothing after it ran
		return time.Time{}, context.Canceled
	}
	if i.c.after == "OldInUse" {
		i.c.w.advance(2 * time.Minute) // the other copy's use comes well after the store
		i.c.w.h.UseKey(oldID)
	}
	return i.IAM.LastUsed(ctx, id)
}

func (i *crashIAM) UpdateAccessKey(ctx context.Context, id string, active bool) error {
	err := i.IAM.UpdateAccessKey(ctx, id, active)
	if i.c.crash("Update") {
		return context.Canceled
	}
	return err
}

func (i *crashIAM) DeleteAccessKey(ctx context.Context, id string) error {
	err := i.IAM.DeleteAccessKey(ctx, id)
	if i.c.crash("Delete") {
		return context.Canceled
	}
	return err
}

// TestRotateKilledAtEachStep: a kill after any step leaves a key that
// works, and the next start (new Stores, the journal on disk) finishes or
// rolls back the rotation.
func TestRotateKilledAtEachStep(t *testing.T) {
	t.Parallel()
	tests := []struct {
		after     string
		journal   keys.Step // left by the kill
		rolledBck bool      // recovery rolls back (the old key stays)
	}{
		{"Create", keys.StepCreating, true},
		{"Verify", keys.StepCreated, false},
		{"Store", keys.StepStored, false},
		{"Update", keys.StepStored, false},
		{"Delete", keys.StepDeactivated, false},
	}
	for _, tt := range tests {
		t.Run(tt.after, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, "credentials_file")
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			c := &crashCloud{Cloud: w.cloud(), after: tt.after, cancel: cancel, w: w}
			_, err := w.stores.Rotate(ctx, "src", w.opts(c))
			if tt.after == "Delete" {
				w.advance(2 * time.Hour)
				_, err = w.stores.Rotate(ctx, "src", w.opts(c))
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Rotate = %v; want the kill", err)
			}
			if got := w.stores.Rotating("src"); got != tt.journal {
				t.Fatalf("journal after the kill = %q; want %q", got, tt.journal)
			}
			// The journal holds both secrets: owner-only.
			if fi, err := os.Stat(filepath.Join(filepath.Dir(w.creds), "state", "src.rotation.json")); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("journal = %v, %v; want mode 0600", fi, err)
			}
			// The stored key works at every point.
			if _, err := w.stores.Load(t.Context(), "src"); err != nil {
				t.Fatal(err)
			}
			w.restart()
			out, err := w.stores.Resume(t.Context(), "src", w.opts(w.cloud()))
			if err != nil {
				t.Fatalf("Resume = %v", err)
			}
			if out.Step == keys.StepDeactivated {
				w.advance(2 * time.Hour)
				if out, err = w.stores.Resume(t.Context(), "src", w.opts(w.cloud())); err != nil {
					t.Fatalf("Resume after the grace = %v", err)
				}
			}
			if out.Step != "" || w.stores.Rotating("src") != "" {
				t.Errorf("Resume = %+v, journal %q; want the rotation finished or rolled back", out, w.stores.Rotating("src"))
			}
			k := w.check()
			if (k.ID == oldID) != tt.rolledBck {
				t.Errorf("stored key %s; want rolled back = %v", k, tt.rolledBck)
			}
			if n := len(w.h.AccessKeys()); n != 1 {
				t.Errorf("IAM has %d keys; want 1 (nothing left behind)", n)
			}
		})
	}
}

const secondKey = "AKIAFAKESECOND000009"

// TestRotateLimitExceededRace: a second key made by someone else between
// the check and CreateAccessKey gets LimitExceeded, names that key, and
// is left alone.
func TestRotateLimitExceededRace(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "keyring")
	c := &crashCloud{Cloud: w.cloud(), after: "RaceSecondKey", cancel: func() {}, w: w}
	_, err := w.stores.Rotate(t.Context(), "src", w.opts(c))
	if !errors.Is(err, keys.ErrSecondKey) || !strings.Contains(err.Error(), "AKIA…0009") {
		t.Fatalf("Rotate = %v; want ErrSecondKey naming AKIA…0009", err)
	}
	if n := len(w.h.AccessKeys()); n != 2 || w.stores.Rotating("src") != "" {
		t.Errorf("IAM has %d keys, journal %q; want the other key kept and no journal", n, w.stores.Rotating("src"))
	}
}

func TestRotateOldKeyStillInUse(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "keyring")
	c := &crashCloud{Cloud: w.cloud(), after: "OldInUse", cancel: func() {}, w: w}
	_, err := w.stores.Rotate(t.Context(), "src", w.opts(c))
	if !errors.Is(err, keys.ErrOldKeyInUse) {
		t.Fatalf("Rotate = %v; want ErrOldKeyInUse", err)
	}
	if n := len(w.h.ActiveKeys()); n != 2 {
		t.Errorf("%d active keys; want the old one kept active", n)
	}
	if m, _ := w.stores.Meta("src"); m.OldUse.IsZero() || !strings.Contains(m.Problem, "still in use") {
		t.Errorf("Meta = %+v; want the use recorded for status", m)
	}
	// No use since: the next try deactivates it.
	out, err := w.stores.Rotate(t.Context(), "src", w.opts(w.cloud()))
	if err != nil || out.Step != keys.StepDeactivated {
		t.Fatalf("Rotate again = %+v, %v; want deactivated", out, err)
	}
	w.check()
}

func TestRotateWithMFA(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "keyring")
	w.h.RequireMFAForIAM()
	const serial = "arn:aws:iam::123456789012:mfa/alice"
	w.h.SetMFA(serial, "123456")
	cfg, err := config.Parse(w.cfg.Path, []byte("credentials_file = \""+w.creds+"\"\n[profiles.p]\nsource_profile = \"src\"\n[keys.src]\nstore = \"keyring\"\nmfa_serial = \""+serial+"\"\n[keyring]\nbackend = \"file\"\nfile_dir = \""+w.cfg.Keyring.FileDir+"\"\n"), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.cfg = cfg
	w.restart()
	// Without a code the rotation says so and touches nothing.
	_, err = w.stores.Rotate(t.Context(), "src", w.opts(w.cloud()))
	if err == nil || !strings.Contains(err.Error(), "need an MFA code") {
		t.Fatalf("Rotate without MFA = %v; want it to say MFA cannot be had", err)
	}
	if w.stores.Rotating("src") != "" {
		t.Errorf("a journal was left by a rotation that could not start")
	}
	o := w.opts(w.cloud())
	o.MFACode = func(context.Context) (string, error) { return "123456", nil }
	out, err := w.stores.Rotate(t.Context(), "src", o)
	if err != nil || out.Step != keys.StepDeactivated {
		t.Fatalf("Rotate with MFA = %+v, %v", out, err)
	}
	for _, r := range w.h.Requests() {
		if r.Action == ststest.ActionCreateAccessKey && (!r.SessionToken || r.Params.Get("UserName") != ststest.DefaultUserName) {
			t.Errorf("CreateAccessKey was sent without the MFA session or UserName: %+v", r)
		}
	}
	w.check()
}
