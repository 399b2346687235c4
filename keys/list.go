package keys

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/redact"
)

// oldKeyAge is when `stsd check` warns about a key with no rotate_every:
// IAM's own guidance is to rotate at least every 90 days.
const oldKeyAge = 90 * 24 * time.Hour

// Info is one key as `stsd key list` and `stsd status` show it. It holds
// no secret: the id is redacted.
type Info struct {
	Name         string     `json:"name"`
	Store        string     `json:"store"`
	KeyID        string     `json:"key_id,omitempty"`
	Stored       *time.Time `json:"stored,omitempty"`
	Age          string     `json:"age,omitempty"`
	Rotated      *time.Time `json:"rotated,omitempty"`
	NextRotation *time.Time `json:"next_rotation,omitempty"`
	Rotating     string     `json:"rotating,omitempty"`       // the step of a rotation in progress
	OldKeyInUse  *time.Time `json:"old_key_in_use,omitempty"` // a use of the rotated-out key after the new one was stored
	Problem      string     `json:"problem,omitempty"`
}

// Info describes name's key from what stsd recorded and, for a key in
// the shared credentials file, the file's key id (no AWS call, no keyring
// read).
func (s *Stores) Info(ctx context.Context, name string) Info { return s.info(ctx, name, false) }

func (s *Stores) info(ctx context.Context, name string, load bool) Info {
	kc := s.cfg.Key(name)
	in := Info{Name: name, Store: string(kc.Store)}
	m, err := s.Meta(name)
	if err != nil {
		in.Problem = err.Error()
	}
	if m.KeyID == "" && (load || kc.Store == config.StoreCredentialsFile) {
		if k, err := s.Load(ctx, name); err == nil {
			m.KeyID = k.ID
		} else {
			in.Problem = err.Error()
		}
	}
	in.KeyID = redact.KeyID(m.KeyID)
	now := s.o.Now()
	if !m.Stored.IsZero() {
		in.Stored = ptr(m.Stored)
		in.Age = fmtAge(m.Age(now))
	}
	if !m.Rotated.IsZero() {
		in.Rotated = ptr(m.Rotated)
	}
	if next, ok := s.NextRotation(name, m); ok {
		in.NextRotation = ptr(next)
	}
	if j, err := s.loadJournal(name); err == nil && j != nil {
		in.Rotating = string(j.Step)
		if !j.OldUse.IsZero() {
			in.OldKeyInUse = ptr(j.OldUse)
		}
	}
	if m.Problem != "" {
		in.Problem = m.Problem
	}
	return in
}

// List describes every key of the config, reading the stores for the
// ids stsd has not recorded.
func (s *Stores) List(ctx context.Context) []Info {
	var out []Info
	for _, name := range s.cfg.KeyNames() {
		out = append(out, s.info(ctx, name, true))
	}
	return out
}

// NextRotation is when name's key is due, from its rotate_every and when
// it was made or stored; false without a schedule or a known age.
func (s *Stores) NextRotation(name string, m Meta) (time.Time, bool) {
	every := s.cfg.Key(name).RotateEvery
	base := m.Created
	if base.IsZero() {
		base = m.Stored
	}
	if every == 0 || base.IsZero() {
		return time.Time{}, false
	}
	return base.Add(every), true
}

// Warnings are the lines `stsd check` prints for keys older than 90 days
// with no rotate_every (from what is on disk: no AWS call).
func (s *Stores) Warnings() []string {
	var out []string
	for _, name := range s.cfg.KeyNames() {
		kc := s.cfg.Key(name)
		m, err := s.Meta(name)
		if err != nil || kc.RotateEvery != 0 {
			continue
		}
		if age := m.Age(s.o.Now()); age > oldKeyAge {
			where := s.cfg.Path
			if kc.Line > 0 {
				where = fmt.Sprintf("%s:%d", s.cfg.Path, kc.Line)
			}
			out = append(out, fmt.Sprintf("%s: key %q (%s) is %s old and has no rotate_every: IAM advises rotating at least every 90 days; set rotate_every = \"30d\" in [keys.%s] or run `stsd key rotate %s`", where, name, redact.KeyID(m.KeyID), fmtAge(age), name, name))
		}
	}
	return out
}

// WriteTable prints infos as the `stsd key list` table.
func WriteTable(w io.Writer, infos []Info, now time.Time) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tSTORE\tID\tAGE\tLAST ROTATION\tNEXT ROTATION\tNOTE")
	for _, in := range infos {
		note := in.Problem
		if in.Rotating != "" {
			note = "rotating (" + in.Rotating + ")"
			if in.Problem != "" {
				note += ": " + in.Problem
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", in.Name, in.Store, dash(in.KeyID), dash(in.Age), when(in.Rotated, now), when(in.NextRotation, now), dash(note))
	}
	return tw.Flush()
}

func when(t *time.Time, now time.Time) string {
	if t == nil {
		return "-"
	}
	d := t.Sub(now)
	switch {
	case d > 0:
		return "in " + fmtAge(d)
	case d < 0:
		return fmtAge(-d) + " ago"
	}
	return "now"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// fmtAge rounds a span for people: days, else hours, else minutes.
func fmtAge(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	case d >= time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dm", int(d/time.Minute))
}

func ptr(t time.Time) *time.Time { u := t.UTC(); return &u }

// ageFromIAM fills m.Created from IAM's CreateDate of the key, when IAM
// answers (a best effort: the user may lack iam:ListAccessKeys, or need
// MFA).
func ageFromIAM(ctx context.Context, c Cloud, k Key, m *Meta) {
	arn, err := c.Identity(ctx, k)
	if err != nil {
		return
	}
	user, err := userOf(arn)
	if err != nil {
		return
	}
	iam, err := c.IAM(ctx, k, user, MFA{})
	if err != nil {
		return
	}
	list, err := iam.ListAccessKeys(ctx)
	if err != nil {
		return
	}
	for _, a := range list {
		if a.ID == k.ID && !a.Created.IsZero() {
			m.Created = a.Created.UTC()
		}
	}
}

// Observe records the key now stored under name when stsd has not seen it
// before (a key the user put there), asking IAM for its age when it can.
// It returns the key's metadata.
func (s *Stores) Observe(ctx context.Context, name string, c Cloud) (Meta, error) {
	k, err := s.Load(ctx, name)
	if err != nil {
		return Meta{}, err
	}
	m, _ := s.Meta(name)
	if m.KeyID == k.ID {
		return m, nil
	}
	m = Meta{KeyID: k.ID, Stored: s.o.Now().UTC()}
	if c != nil && s.cfg.Key(name).MFASerial == "" {
		ageFromIAM(ctx, c, k, &m)
	}
	return m, s.SaveMeta(name, m)
}
