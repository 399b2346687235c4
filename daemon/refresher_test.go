package daemon

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/mfa"
	"github.com/stsd/stsd/internal/servetest"
	"github.com/stsd/stsd/internal/stsclient"
	"github.com/stsd/stsd/internal/ststest"
	"github.com/stsd/stsd/internal/wire"
)

const sessionProfile = `
[profiles.dev]
source_profile = "src"
duration = "1h"
`

func TestRefreshAtComputedTime(t *testing.T) {
	env := newEnv(t, sessionProfile)
	synctest.Test(t, func(t *testing.T) {
		sts := ststest.NewHandler(ststest.Options{})
		_, r := runDev(t, Options{Config: env.cfg, HTTPClient: memClient(sts), Rand: fixedRand})
		ctx := t.Context()
		first, err := r.Credentials(ctx)
		if err != nil {
			t.Fatalf("Credentials() = %v", err)
		}
		if got := sts.Calls(); got != 1 {
			t.Fatalf("calls after start = %d; want 1", got)
		}
		// lifetime 1h, refresh_before 30m: margin min(30m, 30m) × 1.0.
		want := first.creds.Expiration.Add(-30 * time.Minute)
		time.Sleep(time.Until(want) - time.Second)
		synctest.Wait()
		if got := sts.Calls(); got != 1 {
			t.Fatalf("calls 1s before refresh time = %d; want 1", got)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := sts.Calls(); got != 2 {
			t.Fatalf("calls after refresh time = %d; want 2", got)
		}
		second, _ := r.Credentials(ctx)
		if second.creds.AccessKeyID == first.creds.AccessKeyID {
			t.Error("refresh kept the old key")
		}
	})
}

func TestMarginIsHalfLifetimeForShortCredentials(t *testing.T) {
	env := newEnv(t, sessionProfile)
	synctest.Test(t, func(t *testing.T) {
		sts := ststest.NewHandler(ststest.Options{Lifetime: 20 * time.Minute})
		_, r := runDev(t, Options{Config: env.cfg, HTTPClient: memClient(sts), Rand: func() float64 { return 0 }})
		ctx := t.Context()
		snap, err := r.Credentials(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// margin = min(30m, 10m) × 0.9 = 9m before expiry.
		if got, want := snap.creds.Expiration.Sub(snap.next), 9*time.Minute; got != want {
			t.Errorf("margin = %v; want %v", got, want)
		}
	})
}

func TestBackoffServesOldThenNeverExpired(t *testing.T) {
	env := newEnv(t, sessionProfile)
	synctest.Test(t, func(t *testing.T) {
		sts := ststest.NewHandler(ststest.Options{})
		_, r := runDev(t, Options{Config: env.cfg, HTTPClient: memClient(sts), Rand: func() float64 { return 0 }})
		ctx := t.Context()
		first, err := r.Credentials(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sts.FailAll(ststest.FaultServerError)
		// Sleep to the refresh time, then watch the backoff sleeps.
		time.Sleep(time.Until(first.next))
		synctest.Wait()
		if got := sts.Calls(); got != 2 {
			t.Fatalf("calls at refresh time = %d; want 2", got)
		}
		if st := r.Status().State; st != StateBackoff {
			t.Fatalf("state = %s; want backoff", st)
		}
		// With rand 0 each sleep is base/2: 0.5s, 1s, 2s, 4s … — read off
		// the stand-in's own request times.
		for sts.Calls() < 7 {
			time.Sleep(100 * time.Millisecond)
		}
		reqs := sts.Requests()[1:]
		want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
		for i := range want {
			if gap := reqs[i+1].Time.Sub(reqs[i].Time); gap < want[i] {
				t.Errorf("backoff sleep %d = %v; want ≥ %v", i, gap, want[i])
			}
		}
		// The old credentials are still served while valid.
		snap, err := r.Credentials(ctx)
		if err != nil || snap.creds.AccessKeyID != first.creds.AccessKeyID {
			t.Fatalf("during backoff Credentials() = %v; want the old key", err)
		}
		// Past expiry: an error, never the expired key.
		time.Sleep(time.Until(first.creds.Expiration))
		synctest.Wait()
		if snap, err := r.Credentials(ctx); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("after expiry Credentials() = %v, %v; want ErrUnavailable", snap, err)
		}
		if st := r.Status().State; st != StateExpired {
			t.Errorf("state after expiry = %s; want expired", st)
		}
		// Recovery once STS answers again (backoff is capped at 5m).
		sts.Clear()
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		snap, err = r.Credentials(ctx)
		if err != nil || snap.creds.AccessKeyID == first.creds.AccessKeyID {
			t.Fatalf("after recovery Credentials() = %v; want a new key", err)
		}
		if st := r.Status().State; st != StateOK {
			t.Errorf("state after recovery = %s; want ok", st)
		}
	})
}

func TestNonRetryableErrorWaitsTheCap(t *testing.T) {
	env := newEnv(t, sessionProfile)
	synctest.Test(t, func(t *testing.T) {
		sts := ststest.NewHandler(ststest.Options{})
		sts.FailAll(ststest.FaultAccessDenied)
		_, r := runDev(t, Options{Config: env.cfg, HTTPClient: memClient(sts), Rand: func() float64 { return 0 }})
		ctx := t.Context()
		synctest.Wait()
		if _, err := r.Credentials(ctx); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Credentials() = %v; want ErrUnavailable", err)
		}
		st := r.Status()
		if st.State != StateError || st.Reason != "AccessDenied" {
			t.Fatalf("status = %s/%s; want error/AccessDenied", st.State, st.Reason)
		}
		time.Sleep(2*time.Minute + 29*time.Second)
		synctest.Wait()
		if got := sts.Calls(); got != 1 {
			t.Errorf("calls within 2.5m of AccessDenied = %d; want 1", got)
		}
	})
}

func TestRequestsWaitForFirstFetchAndNeverFetch(t *testing.T) {
	env := newEnv(t, sessionProfile)
	synctest.Test(t, func(t *testing.T) {
		sts := ststest.NewHandler(ststest.Options{Latency: 2 * time.Second})
		_, r := runDev(t, Options{Config: env.cfg, HTTPClient: memClient(sts), Rand: fixedRand})
		ctx := t.Context()
		errs := make(chan error, 100)
		for range 100 {
			go func() { _, err := r.Credentials(ctx); errs <- err }()
		}
		for range 100 {
			if err := <-errs; err != nil {
				t.Fatalf("Credentials() = %v", err)
			}
		}
		if got := sts.Calls(); got != 1 {
			t.Errorf("calls = %d; want 1", got)
		}
	})
}

func TestClockSkew(t *testing.T) {
	env := newEnv(t, sessionProfile)
	synctest.Test(t, func(t *testing.T) {
		sts := ststest.NewHandler(ststest.Options{})
		sts.Fail(ststest.FaultExpired, ststest.FaultFarFuture)
		_, r := runDev(t, Options{Config: env.cfg, HTTPClient: memClient(sts), Rand: func() float64 { return 0 }})
		ctx := t.Context()
		synctest.Wait()
		if st := r.Status(); st.State != StateBackoff {
			t.Fatalf("after an already-expired answer state = %s; want backoff", st.State)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		snap, err := r.Credentials(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := snap.creds.Expiration.Sub(time.Now()); got > time.Hour {
			t.Errorf("far-future expiration kept: %v left; want clamped to the 1h duration", got)
		}
		if got := sts.Calls(); got != 2 {
			t.Errorf("calls = %d; want 2 (no storm)", got)
		}
	})
}

const mfaSerial = "arn:aws:iam::123456789012:mfa/alice"

func TestMFAProcessCodeSent(t *testing.T) {
	env := newEnv(t, sessionProfile+`mfa_serial = "`+mfaSerial+`"
mfa_process = "echo 246810"
`)
	synctest.Test(t, func(t *testing.T) {
		sts := ststest.NewHandler(ststest.Options{})
		sts.SetMFA(mfaSerial, "246810")
		_, r := runDev(t, Options{Config: env.cfg, HTTPClient: memClient(sts), Rand: fixedRand})
		ctx := t.Context()
		snap, err := r.Credentials(ctx)
		if err != nil {
			t.Fatalf("Credentials() = %v", err)
		}
		if snap.creds.AccountID != "123456789012" {
			t.Errorf("AccountID = %q; want the MFA ARN's account", snap.creds.AccountID)
		}
		p := sts.Requests()[0].Params
		if p.Get("SerialNumber") != mfaSerial || p.Get("TokenCode") != "246810" {
			t.Errorf("sent SerialNumber=%q TokenCode=%q", p.Get("SerialNumber"), p.Get("TokenCode"))
		}
	})
}

func TestNeedsMFAThenPushedCode(t *testing.T) {
	env := newEnv(t, sessionProfile+`mfa_serial = "`+mfaSerial+`"
`)
	synctest.Test(t, func(t *testing.T) {
		sts := ststest.NewHandler(ststest.Options{})
		sts.SetMFA(mfaSerial, "135790")
		_, r := runDev(t, Options{Config: env.cfg, HTTPClient: memClient(sts), Rand: fixedRand})
		ctx := t.Context()
		synctest.Wait()
		if _, err := r.Credentials(ctx); !errors.Is(err, mfa.ErrNeeded) {
			t.Fatalf("Credentials() = %v; want mfa.ErrNeeded", err)
		}
		if st := r.Status().State; st != StateNeedsMFA {
			t.Errorf("state = %s; want needs-mfa", st)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := sts.Calls(); got != 0 {
			t.Fatalf("called STS %d times without a code", got)
		}
		if err := r.SubmitMFA(ctx, "135790"); err != nil {
			t.Fatalf("SubmitMFA() = %v", err)
		}
		if _, err := r.Credentials(ctx); err != nil {
			t.Fatalf("after the code Credentials() = %v", err)
		}
		// At mfa_reminder (30m) before expiry it asks again, still serving.
		snap := r.snap.Load()
		time.Sleep(time.Until(snap.creds.Expiration.Add(-30*time.Minute)) + time.Second)
		synctest.Wait()
		if st := r.Status().State; st != StateNeedsMFA {
			t.Errorf("state at the reminder = %s; want needs-mfa", st)
		}
		if _, err := r.Credentials(ctx); err != nil {
			t.Errorf("old credentials not served while needs-mfa: %v", err)
		}
		if got := sts.Calls(); got != 1 {
			t.Errorf("calls = %d; want 1", got)
		}
	})
}

func TestRejectedCodeAsksAgainNoLoop(t *testing.T) {
	env := newEnv(t, sessionProfile+`mfa_serial = "`+mfaSerial+`"
`)
	synctest.Test(t, func(t *testing.T) {
		sts := ststest.NewHandler(ststest.Options{})
		sts.SetMFA(mfaSerial, "135790")
		_, r := runDev(t, Options{Config: env.cfg, HTTPClient: memClient(sts), Rand: fixedRand})
		ctx := t.Context()
		synctest.Wait()
		err := r.SubmitMFA(ctx, "999999")
		if !mfaRejected(err) {
			t.Fatalf("SubmitMFA(wrong) = %v; want the MFA rejection", err)
		}
		st := r.Status()
		if st.State != StateNeedsMFA || st.Reason != "mfa_rejected" || !strings.Contains(st.LastError, "invalid MFA one time pass code") {
			t.Errorf("status after a rejected code = %s/%s/%q", st.State, st.Reason, st.LastError)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := sts.Calls(); got != 1 {
			t.Errorf("calls an hour after a rejected code = %d; want 1 (no retry loop)", got)
		}
		if err := r.SubmitMFA(ctx, "999999"); !errors.Is(err, mfa.ErrCodeUsed) {
			t.Errorf("same code again = %v; want mfa.ErrCodeUsed", err)
		}
		if err := r.SubmitMFA(ctx, "135790"); err != nil {
			t.Fatalf("SubmitMFA(good) = %v", err)
		}
		if _, err := r.Credentials(ctx); err != nil {
			t.Errorf("after a good code: %v", err)
		}
	})
}

// TestSharedSerialProfilesNeverReuseACode: two profiles on one device with
// an mfa_process that prints the same code until the next TOTP step.
func TestSharedSerialProfilesNeverReuseACode(t *testing.T) {
	dir := t.TempDir()
	script := dir + "/code.sh"
	os.WriteFile(script, []byte(`#!/bin/sh
n=$(cat "$0.n" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$0.n"
if [ $n -le 2 ]; then echo 111111; else echo 222222; fi
`), 0o700)
	prof := func(name string) string {
		return "[profiles." + name + "]\nsource_profile = \"src\"\nduration = \"1h\"\nmfa_serial = \"" + mfaSerial + "\"\nmfa_process = \"" + script + "\"\n"
	}
	env := newEnv(t, prof("a")+prof("b"))
	synctest.Test(t, func(t *testing.T) {
		sts := ststest.NewHandler(ststest.Options{})
		sts.SetMFA(mfaSerial, "111111")
		s, _ := New(Options{Config: env.cfg, HTTPClient: memClient(sts), Rand: fixedRand})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go s.Refresher("a").Run(ctx)
		go s.Refresher("b").Run(ctx)
		for sts.Calls() < 1 {
			time.Sleep(time.Millisecond)
		}
		sts.SetMFA(mfaSerial, "222222") // the device's next code
		time.Sleep(31 * time.Second)
		synctest.Wait()
		var codes []string
		for _, r := range sts.Requests() {
			codes = append(codes, r.Params.Get("TokenCode"))
		}
		if len(codes) != 2 || codes[0] == codes[1] {
			t.Errorf("codes sent = %v; want two different codes", codes)
		}
		for _, p := range []string{"a", "b"} {
			if _, err := s.Refresher(p).Credentials(ctx); err != nil {
				t.Errorf("profile %s: %v", p, err)
			}
		}
	})
}

// fetcherFunc adapts a function to stsclient.Fetcher.
type fetcherFunc func(context.Context, stsclient.Request) (*stsclient.Result, error)

func (f fetcherFunc) Fetch(ctx context.Context, req stsclient.Request) (*stsclient.Result, error) {
	return f(ctx, req)
}

func TestPackedPolicySizeShownAndWarned(t *testing.T) {
	env := newEnv(t, `
[profiles.ci]
source_profile = "src"
mode = "federation"
policy_arns = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
`)
	synctest.Test(t, func(t *testing.T) {
		var logs servetest.Buffer
		s, _ := New(Options{Config: env.cfg, Rand: fixedRand, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
			NewFetcher: func(*config.Config, *config.Profile) stsclient.Fetcher {
				return fetcherFunc(func(context.Context, stsclient.Request) (*stsclient.Result, error) {
					now := time.Now().UTC()
					return &stsclient.Result{
						Credentials:      wire.Credentials{AccessKeyID: "ASIAFAKE000000000001", SecretAccessKey: "s", SessionToken: "t", Expiration: now.Add(time.Hour).Truncate(time.Second)},
						Issued:           now,
						ARN:              "arn:aws:sts::123456789012:federated-user/ci",
						PackedPolicySize: 95,
					}, nil
				})
			}})
		r := s.Refresher("ci")
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go r.Run(ctx)
		if _, err := r.Credentials(ctx); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the refresher logs after it publishes
		st := r.Status()
		if st.PackedPolicySize == nil || *st.PackedPolicySize != 95 || st.ARN == "" {
			t.Errorf("status packed size / arn = %v / %q", st.PackedPolicySize, st.ARN)
		}
		for _, want := range []string{"packed_policy_size=95", "event=packed_policy_near_limit"} {
			if !strings.Contains(logs.String(), want) {
				t.Errorf("logs lack %q:\n%s", want, logs.String())
			}
		}
	})
}

func TestNotifyCommandOnNeedsMFA(t *testing.T) {
	out := filepath.Join(t.TempDir(), "notified")
	env := newEnv(t, sessionProfile+`mfa_serial = "`+mfaSerial+`"
notify_command = "echo >> `+out+`"
`)
	synctest.Test(t, func(t *testing.T) {
		sts := ststest.NewHandler(ststest.Options{})
		s, _ := New(Options{Config: env.cfg, HTTPClient: memClient(sts)})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go s.Refresher("dev").Run(ctx)
		for s.Refresher("dev").Status().State != StateNeedsMFA {
			time.Sleep(time.Millisecond)
		}
	})
	b, err := os.ReadFile(out)
	if err != nil || string(b) != "dev\n" {
		t.Errorf("notify_command got %q, %v; want the profile name once", b, err)
	}
}

// TestCredentialsAt: credentials valid at the endpoint's clock reading are
// handed out with that reading (no second one); ones not valid at it are
// waited for and handed out with the clock read once they came, and never
// once they have expired.
func TestCredentialsAt(t *testing.T) {
	env := newEnv(t, sessionProfile)
	synctest.Test(t, func(t *testing.T) {
		sts := ststest.NewHandler(ststest.Options{})
		s, r := runDev(t, Options{Config: env.cfg, HTTPClient: memClient(sts), Rand: fixedRand})
		ctx := t.Context()
		first, err := r.Credentials(ctx)
		if err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(-time.Minute) // an endpoint's reading, taken a while ago
		c, got, err := s.CredentialsAt(ctx, "dev", at)
		if err != nil || !got.Equal(at) || c.AccessKeyID != first.creds.AccessKeyID {
			t.Errorf("CredentialsAt(valid) = %s, %v, %v; want %s at %v", c.AccessKeyID, got, err, first.creds.AccessKeyID, at)
		}
		// A reading past their expiry: the supervisor's own clock decides,
		// and its reading is the one handed back.
		late := first.creds.Expiration.Add(time.Second)
		c, got, err = s.CredentialsAt(ctx, "dev", late)
		if err != nil || !got.Equal(time.Now()) || !got.Before(c.Expiration) {
			t.Errorf("CredentialsAt(past expiry) = %v, %v (expires %v); want valid ones at now %v", got, err, c.Expiration, time.Now())
		}
		if _, _, err := s.CredentialsAt(ctx, "nope", time.Now()); !errors.Is(err, ErrUnknownProfile) {
			t.Errorf("unknown profile: %v", err)
		}
	})
}
