package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/stsd/stsd/internal/mfa"
)

// ParentNeedsMFAError is a role profile's answer while it waits for a
// via_profile ancestor that needs an MFA code: it is mfa.ErrNeeded, and
// names the ancestor and its prompt.
type ParentNeedsMFAError struct {
	Profile string // the waiting profile
	Parent  string // the ancestor that needs a code
	Prompt  string // the ancestor's mfa_prompt
}

func (e *ParentNeedsMFAError) Error() string {
	return fmt.Sprintf("profile %q waits for profile %q, which needs an MFA code", e.Profile, e.Parent)
}

// Unwrap makes errors.Is(err, mfa.ErrNeeded) hold.
func (e *ParentNeedsMFAError) Unwrap() error { return mfa.ErrNeeded }

// chainedStep refreshes a via_profile role from its parent's current
// credentials. When the parent has none valid (it needs MFA, is failing or
// is still refreshing) it waits, without calling STS, until the parent's
// next snapshot; the parent's own refreshes never force this one.
func (r *Refresher) chainedStep(ctx context.Context) time.Time {
	ps := r.parent.snap.Load()
	if !ps.valid(r.clock.Now()) {
		r.enterWaiting(ps)
		return r.never()
	}
	r.waitOn = nil
	next, _ := r.refresh(ctx, "", ps.creds)
	return next
}

// enterWaiting publishes the waiting state naming the parent (the old
// credentials keep serving until they expire), logging it once per
// episode.
func (r *Refresher) enterWaiting(ps *snapshot) {
	r.waitOn = ps
	msg := fmt.Sprintf("waiting for via_profile %q, which has no valid credentials (%s)", r.parent.profile.Name, ps.phase)
	switch ps.phase {
	case StateNeedsMFA:
		msg = fmt.Sprintf("waiting for via_profile %q, which needs an MFA code: run `stsd mfa %s`", r.parent.profile.Name, r.parent.profile.Name)
	case StateWaiting:
		msg = fmt.Sprintf("waiting for via_profile %q, which is %s", r.parent.profile.Name, ps.lastErr)
	}
	cur := r.snap.Load()
	if cur.phase == StateWaiting && cur.lastErr == msg {
		return
	}
	entering := cur.phase != StateWaiting
	r.publish(func(s *snapshot) {
		s.phase, s.lastErr, s.reason, s.next = StateWaiting, msg, "waiting_for_parent", time.Time{}
	})
	if entering {
		r.log().Info("waiting for via_profile", "event", "waiting_for_parent", "parent", r.parent.profile.Name, "parent_state", string(ps.phase))
	}
}

// chainProgressing reports whether a waiting profile is about to
// refresh: up its via_profile chain, past ancestors that wait too, one
// holds valid credentials or is refreshing.
func (r *Refresher) chainProgressing() bool {
	now := r.clock.Now()
	for p := r.parent; p != nil; p = p.parent {
		ps := p.snap.Load()
		switch {
		case ps.valid(now) || ps.phase == StateRefreshing:
			return true
		case ps.phase != StateWaiting:
			return false
		}
	}
	return false
}

// mfaAncestor is the nearest refresher up the via_profile chain that
// takes MFA codes (r itself when it does), or nil.
func (r *Refresher) mfaAncestor() *Refresher {
	for cur := r; cur != nil; cur = cur.parent {
		if cur.needsCode() {
			return cur
		}
	}
	return nil
}
