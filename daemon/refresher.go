package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stsd/stsd/cache"
	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/clock"
	"github.com/stsd/stsd/internal/mfa"
	"github.com/stsd/stsd/internal/redact"
	"github.com/stsd/stsd/internal/stsclient"
	"github.com/stsd/stsd/internal/wire"
)

// State is what a profile's credentials are doing, as status shows it.
type State string

// The states of a profile.
const (
	StateOK         State = "ok"
	StateRefreshing State = "refreshing"
	StateBackoff    State = "backoff"
	StateNeedsMFA   State = "needs-mfa"
	StateExpired    State = "expired"
	StateError      State = "error"
	// StateWaiting: a role profile whose via_profile has no valid
	// credentials (it needs MFA, is failing or still refreshing) waits for
	// it without calling STS.
	StateWaiting State = "waiting"
)

// Backoff bounds: after a failure the wait starts at backoffBase and
// doubles to backoffCap, each sleep uniform in [base/2, base].
const (
	backoffBase = time.Second
	backoffCap  = 5 * time.Minute
)

// maxClockSkew is how far beyond the requested duration an Expiration may
// lie before stsd distrusts it and clamps it.
const maxClockSkew = 10 * time.Minute

// ErrClockSkew marks credentials that arrived already expired: this host's
// clock is likely wrong. It is retried with backoff, like a transient error.
var ErrClockSkew = errors.New("clock skew: check this host's clock")

// ErrUnavailable is returned to readers when the profile has no valid
// credentials to hand out.
var ErrUnavailable = errors.New("no valid credentials")

// snapshot is an immutable view of a profile, published by its refresher
// and read lock-free by every request.
type snapshot struct {
	creds   *wire.Credentials // nil when none
	output  []byte            // credential_process bytes for creds (a local profile's)
	doc     string            // the ECS document of creds (a broker pair's): see pairDocument
	issued  time.Time
	arn     string
	packed  int
	phase   State     // ok, refreshing, backoff, needs-mfa, error or waiting
	lastErr string    // last failure, for status (never holds a secret)
	reason  string    // stable label of lastErr
	next    time.Time // next refresh attempt
	updated chan struct{}
}

func (s *snapshot) valid(now time.Time) bool {
	return s.creds != nil && now.Before(s.creds.Expiration)
}

// Refresher owns one profile's credentials: it alone calls STS, and every
// reader loads its latest snapshot.
type Refresher struct {
	profile *config.Profile
	client  string // broker client this refresher mints for ("" = the profile's own)
	cfg     *config.Config
	fetcher stsclient.Fetcher
	store   *cache.Store // nil: no disk cache
	clock   clock.Clock
	rand    func() float64
	plog    *slog.Logger // with the profile's name (shared by its broker pairs): see log
	metrics *Metrics     // nil in tests that build a Refresher alone

	pubMu  sync.Mutex // serializes publish; readers never take it
	snap   atomic.Pointer[snapshot]
	kick   chan struct{}       // forced refresh; buffered 1 (nil for a broker pair)
	codes  chan *mfaSubmission // MFA codes pushed by `stsd mfa`; unbuffered (nil for a broker pair)
	serial *mfa.Guard          // shared by the profiles on one MFA device
	// parent is the via_profile's refresher, whose current credentials
	// sign this role profile's AssumeRole; nil otherwise. It is set before
	// Run starts and never changes.
	parent *Refresher

	backoff time.Duration // owned by the Run goroutine
	// waitOn is the parent snapshot a waiting profile found without valid
	// credentials; its update wakes the wait. Owned by the Run goroutine.
	waitOn *snapshot

	stop func() // set by start: cancels Run and waits for it

	// published, when set, sees every new snapshot under pubMu (the
	// supervisor keeps ready files with it).
	published func(*snapshot)
	// pairs, for a broker pair, refreshes it instead of a Run goroutine
	// of its own; slot is the pair's place there.
	pairs *pairScheduler
	slot  pairSlot
}

// log is the refresher's logger: the profile's, plus the broker client
// for a pair (added per line, so a waiting pair keeps no logger of its
// own).
func (r *Refresher) log() *slog.Logger {
	if r.client == "" {
		return r.plog
	}
	return r.plog.With("client", r.client)
}

// start runs the refresher in g until g stops or stop is called.
func (r *Refresher) start(g *runGroup) {
	ctx, cancel := context.WithCancel(g.ctx)
	done := make(chan struct{})
	r.stop = func() { cancel(); <-done }
	if !g.Go(func(context.Context) { defer close(done); r.Run(ctx) }) {
		close(done) // the daemon is stopping: nothing to run
	}
}

// refresherSpec is what one refresher is made of.
type refresherSpec struct {
	cfg     *config.Config
	profile *config.Profile
	client  string // broker client ("" = the profile's own credentials)
	fetcher stsclient.Fetcher
	serial  *mfa.Guard // the profile's MFA device; nil without mfa_serial
	metrics *Metrics   // nil in tests that build a Refresher alone
	// A broker pair's: the scheduler that refreshes it, and its profile's
	// logger (shared by the profile's pairs).
	pairs *pairScheduler
	log   *slog.Logger
}

func newRefresher(sp refresherSpec, o *Options) *Refresher {
	log := sp.log
	if log == nil {
		log = o.Logger.With("profile", sp.profile.Name)
	}
	r := &Refresher{
		profile: sp.profile, client: sp.client, cfg: sp.cfg, fetcher: sp.fetcher, store: o.Store,
		clock: o.Clock, rand: o.Rand, plog: log, metrics: sp.metrics, serial: sp.serial,
		pairs: sp.pairs,
	}
	if r.pairs == nil {
		r.kick, r.codes = make(chan struct{}, 1), make(chan *mfaSubmission)
	}
	r.snap.Store(&snapshot{phase: StateRefreshing, packed: -1, updated: make(chan struct{})})
	return r
}

// publish replaces the snapshot with a copy changed by edit and wakes
// waiting readers.
func (r *Refresher) publish(edit func(*snapshot)) {
	r.pubMu.Lock()
	defer r.pubMu.Unlock()
	old := r.snap.Load()
	next := *old
	next.updated = make(chan struct{})
	edit(&next)
	r.snap.Store(&next)
	if r.published != nil {
		r.published(&next)
	}
	close(old.updated)
}

// Credentials returns valid credentials, waiting for the refresher (never
// fetching) while a first fetch is under way. It returns at once with an
// error during backoff, needs-mfa or error states.
func (r *Refresher) Credentials(ctx context.Context) (*snapshot, error) {
	for {
		s := r.snap.Load()
		if s.valid(r.clock.Now()) {
			return s, nil
		}
		if s.phase != StateRefreshing && !(s.phase == StateWaiting && r.chainProgressing()) {
			return nil, r.unavailable(s)
		}
		select {
		case <-s.updated:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: still refreshing", ErrUnavailable)
		}
	}
}

func (r *Refresher) unavailable(s *snapshot) error {
	switch {
	case s.phase == StateNeedsMFA:
		return mfa.ErrNeeded
	case s.phase == StateWaiting:
		if a := r.mfaAncestor(); a != nil && a.snap.Load().phase == StateNeedsMFA {
			return &ParentNeedsMFAError{Profile: r.profile.Name, Parent: a.profile.Name, Prompt: a.profile.MFAPrompt}
		}
		return fmt.Errorf("%w: %s", ErrUnavailable, s.lastErr)
	case s.lastErr != "":
		return fmt.Errorf("%w: %s", ErrUnavailable, s.lastErr)
	case s.creds != nil:
		return fmt.Errorf("%w: credentials expired", ErrUnavailable)
	}
	return ErrUnavailable
}

// Refresh asks for a refresh now (`stsd refresh`). It never blocks.
func (r *Refresher) Refresh() {
	if r.pairs != nil {
		r.pairs.kick(r)
		return
	}
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run refreshes until ctx ends.
func (r *Refresher) Run(ctx context.Context) {
	next := r.loadCache()
	for {
		sub, ok := r.wait(ctx, next)
		if !ok {
			return
		}
		next = r.step(ctx, sub)
	}
}

func (r *Refresher) needsCode() bool { return r.profile.MFASerial != "" }

// never is "no timed wake-up": only a kick or a pushed code ends the wait.
func (r *Refresher) never() time.Time { return r.clock.Now().Add(100 * 365 * 24 * time.Hour) }

// step makes one refresh attempt and returns when to make the next. For an
// MFA profile it first gets a code — from sub (pushed by `stsd mfa`), else
// mfa_process, else it enters needs-mfa — under the serial's lock, so
// profiles sharing a device never send the same single-use code twice.
func (r *Refresher) step(ctx context.Context, sub *mfaSubmission) time.Time {
	if !r.needsCode() {
		if sub != nil {
			sub.reply(errors.New("this profile has no mfa_serial"))
		}
		if r.parent != nil {
			return r.chainedStep(ctx)
		}
		next, _ := r.refresh(ctx, "", nil)
		return next
	}
	g := r.serial
	g.Lock()
	defer g.Unlock()
	var code string
	switch {
	case sub != nil:
		if g.Used(sub.code) {
			sub.reply(mfa.ErrCodeUsed)
			return r.never()
		}
		code = sub.code
	case r.profile.MFAProcess != "":
		c, err := g.Code(ctx, mfa.Source{Process: r.profile.MFAProcess, Now: r.clock.Now,
			Sleep: func(ctx context.Context, d time.Duration) bool { return clock.Sleep(ctx, r.clock, d) }})
		if err != nil {
			return r.fail(err)
		}
		code = c
	default:
		r.enterNeedsMFA("")
		return r.never()
	}
	g.Record(code, r.clock.Now())
	next, err := r.refresh(ctx, code, nil)
	if err != nil && mfaRejected(err) && r.profile.MFAProcess == "" {
		// A pushed code was refused: ask for another instead of retrying.
		r.enterNeedsMFA(err.Error())
		next = r.never()
	}
	if sub != nil {
		sub.reply(err) // after the state is final, so the caller sees it
	}
	return next
}

// wait sleeps until at, a forced refresh, or a pushed MFA code. A profile
// without mfa_process enters needs-mfa at min(at, expiry − mfa_reminder).
func (r *Refresher) wait(ctx context.Context, at time.Time) (*mfaSubmission, bool) {
	if r.needsCode() && r.profile.MFAProcess == "" {
		if s := r.snap.Load(); s.creds != nil && s.phase != StateNeedsMFA {
			if remind := s.creds.Expiration.Add(-r.profile.MFAReminder); remind.Before(at) {
				at = remind
			}
		}
	}
	var parentUpdated <-chan struct{} // nil (never ready) unless waiting
	if r.waitOn != nil {
		parentUpdated = r.waitOn.updated
	}
	t := r.clock.NewTimer(at.Sub(r.clock.Now()))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil, false
	case <-t.C():
	case <-r.kick:
	case <-parentUpdated:
	case sub := <-r.codes:
		return sub, true
	}
	return nil, true
}

// enterNeedsMFA publishes needs-mfa (old credentials keep serving until
// they expire), logs it and runs notify_command once per episode.
func (r *Refresher) enterNeedsMFA(lastErr string) {
	if r.snap.Load().phase == StateNeedsMFA {
		if lastErr != "" {
			r.publish(func(s *snapshot) { s.lastErr, s.reason = lastErr, "mfa_rejected" })
		}
		return
	}
	r.publish(func(s *snapshot) {
		s.phase, s.next = StateNeedsMFA, time.Time{}
		if lastErr != "" {
			s.lastErr, s.reason = lastErr, "mfa_rejected"
		}
	})
	r.log().Warn("needs mfa", "event", "needs_mfa", "hint", "run: stsd mfa "+r.profile.Name)
	if r.metrics != nil {
		r.metrics.needsMFA.Inc(r.profile.Name)
	}
	if r.profile.NotifyCommand != "" {
		// Profile names are [\w+=,.@-]: safe as one shell word.
		if err := runNotify(r.profile.NotifyCommand + " " + r.profile.Name); err != nil {
			r.log().Warn("notify_command failed", "event", "notify_failed", "err", err.Error())
		}
	}
}

// mfaRejected reports whether STS refused the MFA code itself.
func mfaRejected(err error) bool {
	return stsclient.Code(err) == "AccessDenied" && strings.Contains(err.Error(), "MultiFactorAuthentication")
}

// mfaSubmission is a code pushed by `stsd mfa` or credential_process; the
// refresher answers on done once the code has been used (nil: refreshed).
type mfaSubmission struct {
	code string
	done chan error // buffered 1
}

func (m *mfaSubmission) reply(err error) { m.done <- err }

// SubmitMFA hands the refresher a code and waits (bounded by ctx) until it
// has been sent to STS: nil means the profile refreshed with it.
func (r *Refresher) SubmitMFA(ctx context.Context, code string) error {
	sub := &mfaSubmission{code: code, done: make(chan error, 1)}
	select {
	case r.codes <- sub:
	case <-ctx.Done():
		return errors.New("the refresher is busy: try again")
	}
	select {
	case err := <-sub.done:
		return err
	case <-ctx.Done():
		return errors.New("the code was accepted but STS has not answered yet: check `stsd status`")
	}
}

// refresh makes one STS call (signed with parent's credentials when it is
// set) and returns when to try next, and the call's error.
func (r *Refresher) refresh(ctx context.Context, code string, parent *wire.Credentials) (time.Time, error) {
	r.publish(func(s *snapshot) { s.phase = StateRefreshing })
	start := r.clock.Now()
	res, err := r.fetcher.Fetch(ctx, stsclient.Request{TokenCode: code, Client: r.client, Parent: parent})
	if err != nil {
		if ctx.Err() != nil {
			return start, err
		}
		r.metrics.refreshed(r.profile.Name, r.clock.Now().Sub(start), stsclient.Reason(err))
		return r.fail(err), err
	}
	r.metrics.refreshed(r.profile.Name, r.clock.Now().Sub(start), "")
	c := res.Credentials
	lifetime := c.Expiration.Sub(res.Issued)
	switch {
	case lifetime <= 0:
		err := fmt.Errorf("%w: STS returned credentials that expire at %s, before now (%s)", ErrClockSkew, c.Expiration.Format(time.RFC3339), res.Issued.Format(time.RFC3339))
		return r.fail(err), err
	case lifetime > r.profile.Duration+maxClockSkew:
		c.Expiration = res.Issued.Add(r.profile.Duration).Truncate(time.Second)
		r.log().Warn("expiration clamped", "event", "clock_skew", "expires", c.Expiration)
		lifetime = r.profile.Duration
	}
	r.backoff = 0
	next := r.refreshAt(c.Expiration, lifetime)
	out, doc := r.served(&c, &res.ARN)
	r.publish(func(s *snapshot) {
		s.creds, s.output, s.doc, s.issued, s.arn, s.packed = &c, out, doc, res.Issued, res.ARN, res.PackedPolicySize
		s.phase, s.lastErr, s.reason, s.next = StateOK, "", "", next
	})
	attrs := []any{"event", "refreshed", "akid", redact.KeyID(c.AccessKeyID),
		"expires", c.Expiration, "next_refresh", next, "sts_ms", r.clock.Now().Sub(start).Milliseconds(),
		"source", res.SourceKeyID}
	if res.ARN != "" {
		attrs = append(attrs, "arn", res.ARN)
	}
	if res.PackedPolicySize >= 0 {
		attrs = append(attrs, "packed_policy_size", res.PackedPolicySize)
	}
	r.log().Info("refreshed", attrs...)
	for _, w := range res.Warnings {
		r.log().Warn("sts warning", "event", "sts_warning", "warning", w)
	}
	if res.PackedPolicySize >= 90 {
		r.log().Warn("packed policy near limit: shrink the session policy, policy_arns or tags", "event", "packed_policy_near_limit", "percent", res.PackedPolicySize)
	}
	res.Credentials = c
	r.save(res)
	return next, nil
}

// refreshAt is expiration − margin, margin = min(refresh_before, lifetime/2)
// × uniform(0.9, 1.1).
func (r *Refresher) refreshAt(exp time.Time, lifetime time.Duration) time.Time {
	margin := min(r.profile.RefreshBefore, lifetime/2)
	margin = time.Duration(float64(margin) * (0.9 + 0.2*r.rand()))
	return exp.Add(-margin)
}

// fail records err and schedules the next attempt: backoff from 1s doubling
// to 5m, each sleep uniform in [base/2, base]. Errors that need a change
// first (permissions, a rejected MFA code, bad config) go straight to the
// cap so stsd never hammers STS with a call that cannot succeed.
func (r *Refresher) fail(err error) time.Time {
	retryable := stsclient.Retryable(err) || errors.Is(err, ErrClockSkew)
	switch {
	case !retryable:
		r.backoff = backoffCap
	case r.backoff == 0:
		r.backoff = backoffBase
	default:
		r.backoff = min(2*r.backoff, backoffCap)
	}
	sleep := r.backoff/2 + time.Duration(r.rand()*float64(r.backoff/2))
	next := r.clock.Now().Add(sleep)
	phase := StateBackoff
	if !retryable {
		phase = StateError
	}
	reason := stsclient.Reason(err)
	if errors.Is(err, ErrClockSkew) {
		reason = "clock_skew"
	}
	r.publish(func(s *snapshot) {
		s.phase, s.lastErr, s.reason, s.next = phase, err.Error(), reason, next
	})
	r.log().Warn("refresh failed", "event", "refresh_failed", "reason", reason, "err", err.Error(), "backoff", sleep)
	return next
}

// loadCache publishes a valid cached entry with a matching fingerprint (no
// STS call at start while it lasts) and returns when to refresh.
func (r *Refresher) loadCache() time.Time {
	now := r.clock.Now()
	if r.store == nil {
		return now
	}
	e, err := r.store.Load(wire.CacheKey(r.profile.Name, r.client))
	switch {
	case errors.Is(err, cache.ErrNotFound):
		return now
	case err != nil:
		r.log().Warn("cache ignored", "event", "cache_ignored", "err", err.Error())
		return now
	case e.Fingerprint != r.profile.Fingerprint(r.client):
		r.log().Info("cache ignored", "event", "cache_ignored", "err", "profile changed since the entry was written")
		return now
	case !now.Before(e.Credentials.Expiration):
		return now
	}
	c := e.Credentials
	next := r.refreshAt(c.Expiration, c.Expiration.Sub(e.Issued))
	if r.needsCode() && r.profile.MFAProcess == "" && !next.After(now) {
		next = c.Expiration // still served; needs-mfa comes from the reminder
	}
	arn := e.ARN
	out, doc := r.served(&c, &arn)
	r.publish(func(s *snapshot) {
		s.creds, s.output, s.doc, s.issued, s.arn = &c, out, doc, e.Issued, arn
		s.phase, s.next = StateOK, next
	})
	r.log().Info("cache loaded", "event", "cache_loaded", "akid", redact.KeyID(c.AccessKeyID), "expires", c.Expiration, "next_refresh", next)
	return next
}

// served is what a snapshot keeps to serve c: a local profile's
// credential_process bytes; a broker pair's ECS document, which c's
// strings and arn then point into (pairDocument).
func (r *Refresher) served(c *wire.Credentials, arn *string) (out []byte, doc string) {
	if r.client != "" {
		return nil, pairDocument(c, arn)
	}
	return wire.Marshal(*c), ""
}

func (r *Refresher) save(res *stsclient.Result) {
	if r.store == nil {
		return
	}
	e, err := stsclient.NewEntry(r.cfg, r.profile, r.client, res)
	if err == nil {
		defer r.pairs.diskSlot()()
		err = r.store.Save(e)
	}
	if err != nil {
		r.log().Warn("cache not written", "event", "cache_write_failed", "err", err.Error())
	}
}

// Status reports the profile as `stsd status` shows it.
func (r *Refresher) Status() ProfileStatus {
	s := r.snap.Load()
	now := r.clock.Now()
	st := ProfileStatus{
		Profile: r.profile.Name, Mode: string(r.profile.Mode), State: s.phase,
		LastError: s.lastErr, Reason: s.reason, ARN: s.arn,
	}
	if s.packed >= 0 && r.profile.Mode != config.ModeSession {
		p := s.packed
		st.PackedPolicySize = &p
	}
	if !s.next.IsZero() {
		n := s.next.UTC()
		st.NextRefresh = &n
	}
	if s.creds != nil {
		st.KeyID = redact.KeyID(s.creds.AccessKeyID)
		e := s.creds.Expiration.UTC()
		st.Expires = &e
		st.ExpiresIn = max(0, e.Sub(now).Round(time.Second)).String()
	}
	if s.creds != nil && !s.valid(now) && (s.phase == StateOK || s.phase == StateBackoff) {
		st.State = StateExpired
	}
	if s.phase == StateWaiting {
		st.WaitingFor = r.parent.profile.Name
	}
	return st
}

// Clear drops the in-memory credentials and asks for a fresh fetch
// (`stsd clear`).
func (r *Refresher) Clear() {
	r.publish(func(s *snapshot) { s.creds, s.output, s.doc, s.arn, s.phase = nil, nil, "", "", StateRefreshing })
	r.Refresh()
}
