package daemon

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/clock"
	"github.com/stsd/stsd/internal/mfa"
	"github.com/stsd/stsd/internal/ststest"
)

const (
	role1ARN = "arn:aws:iam::123456789012:role/first"
	role2ARN = "arn:aws:iam::210987654321:role/second"
)

// chainProfiles is session → role → role, MFA on the session only, each
// 1h (role chaining's cap).
const chainProfiles = `
[profiles.dev]
source_profile = "src"
duration = "1h"
mfa_serial = "` + mfaSerial + `"
mfa_reminder = "10m"

[profiles.r1]
mode = "role"
role_arn = "` + role1ARN + `"
via_profile = "dev"

[profiles.r2]
mode = "role"
role_arn = "` + role2ARN + `"
via_profile = "r1"
`

// runAll builds a Supervisor and runs every refresher until the test ends
// (inside a synctest bubble: no socket).
func runAll(t *testing.T, o Options) *Supervisor {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range s.cur().names() {
		go s.Refresher(name).Run(t.Context())
	}
	return s
}

// assumeCalls are the AssumeRole requests h received, by role ARN.
func assumeCalls(h *ststest.Handler) map[string][]ststest.Request {
	out := map[string][]ststest.Request{}
	for _, r := range h.Requests() {
		if r.Action == ststest.ActionAssumeRole {
			out[r.Params.Get("RoleArn")] = append(out[r.Params.Get("RoleArn")], r)
		}
	}
	return out
}

// TestRoleChainOneMFACode: session → role → role. While the session needs
// an MFA code the roles wait, naming their parent, and make no STS call;
// one code (given for the last role, as credential_process does) refreshes
// the whole chain, each role signed with its parent's credentials. When the
// session needs a code again, the roles serve what they have and, once
// their parent has nothing valid, wait again without calling STS.
func TestRoleChainOneMFACode(t *testing.T) {
	env := newEnv(t, chainProfiles)
	synctest.Test(t, func(t *testing.T) {
		sts := ststest.NewHandler(ststest.Options{})
		sts.AddRole(ststest.Role{ARN: role1ARN, RequireMFA: true})
		sts.AddRole(ststest.Role{ARN: role2ARN, RequireMFA: true})
		sts.SetMFA(mfaSerial, "135790")
		s := runAll(t, Options{Config: env.cfg, HTTPClient: memClient(sts), Rand: fixedRand})
		ctx := t.Context()
		dev, r1, r2 := s.Refresher("dev"), s.Refresher("r1"), s.Refresher("r2")
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := sts.Calls(); got != 0 {
			t.Fatalf("%d STS calls while the session needs an MFA code; want 0", got)
		}
		for _, c := range []struct {
			r      *Refresher
			parent string
			msg    string
		}{
			{r1, "dev", "waiting for via_profile \"dev\", which needs an MFA code: run `stsd mfa dev`"},
			{r2, "r1", "waiting for via_profile \"r1\", which is waiting for via_profile \"dev\", which needs an MFA code: run `stsd mfa dev`"},
		} {
			st := c.r.Status()
			if st.State != StateWaiting || st.WaitingFor != c.parent || st.LastError != c.msg {
				t.Errorf("%s: state %s waiting for %q, %q; want waiting for %s: %q", st.Profile, st.State, st.WaitingFor, st.LastError, c.parent, c.msg)
			}
		}
		var pn *ParentNeedsMFAError
		if _, err := r2.Credentials(ctx); !errors.As(err, &pn) || pn.Parent != "dev" || !errors.Is(err, mfa.ErrNeeded) {
			t.Fatalf("r2 Credentials() = %v; want ParentNeedsMFAError naming dev", err)
		}

		// One code, handed over for r2 (what POST /v1/mfa/r2 does).
		if err := r2.mfaAncestor().SubmitMFA(ctx, "135790"); err != nil {
			t.Fatalf("SubmitMFA() = %v", err)
		}
		snap2, err := r2.Credentials(ctx)
		if err != nil {
			t.Fatalf("r2 after the code: %v", err)
		}
		if got := sts.CallsOf(ststest.ActionGetSessionToken); got != 1 {
			t.Errorf("GetSessionToken calls = %d; want 1", got)
		}
		calls := assumeCalls(sts)
		d, _ := dev.Credentials(ctx)
		s1, _ := r1.Credentials(ctx)
		if len(calls[role1ARN]) != 1 || calls[role1ARN][0].AccessKeyID != d.creds.AccessKeyID || !calls[role1ARN][0].SessionToken {
			t.Errorf("r1's AssumeRole = %+v; want one, signed with dev's %s", calls[role1ARN], d.creds.AccessKeyID)
		}
		if len(calls[role2ARN]) != 1 || calls[role2ARN][0].AccessKeyID != s1.creds.AccessKeyID {
			t.Errorf("r2's AssumeRole = %+v; want one, signed with r1's %s", calls[role2ARN], s1.creds.AccessKeyID)
		}
		for _, c := range calls {
			if got := c[0].Params.Get("DurationSeconds"); got != "3600" {
				t.Errorf("DurationSeconds = %s; want 3600", got)
			}
		}
		if !strings.Contains(snap2.arn, ":assumed-role/second/stsd-") {
			t.Errorf("r2 ARN = %q", snap2.arn)
		}

		// Two hours on, with no new code: dev's credentials expired an hour
		// ago; the roles refreshed while it was valid and then waited.
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		if st := dev.Status().State; st != StateNeedsMFA {
			t.Fatalf("dev state = %s; want needs-mfa", st)
		}
		before := sts.Calls()
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		if got := sts.Calls(); got != before {
			t.Errorf("%d STS calls while dev needs a code and has no valid credentials; want 0", got-before)
		}
		for _, r := range []*Refresher{r1, r2} {
			for _, req := range assumeCalls(sts)[r.profile.RoleARN] {
				if !req.Time.Before(d.creds.Expiration.Add(time.Hour)) {
					t.Errorf("%s called AssumeRole at %v, after its chain had expired", r.profile.Name, req.Time)
				}
			}
			if st := r.Status(); st.State != StateWaiting {
				t.Errorf("%s state = %s; want waiting", st.Profile, st.State)
			}
		}
		if got := sts.CallsOf(ststest.ActionGetSessionToken); got != 1 {
			t.Errorf("GetSessionToken calls = %d; want 1 (no code, no call)", got)
		}
	})
}

// TestRoleRefreshOrder runs a session profile (2h) and a role on it (1h,
// refresh_before 20m) on a fake clock: the role refreshes by its own
// margin from the session's current credentials, and the session's
// refresh does not force the role.
func TestRoleRefreshOrder(t *testing.T) {
	env := newEnv(t, `
[profiles.dev]
source_profile = "src"
duration = "2h"

[profiles.r]
mode = "role"
role_arn = "`+role1ARN+`"
via_profile = "dev"
refresh_before = "20m"
`)
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	fc := clock.NewFake(start)
	sts := ststest.NewHandler(ststest.Options{Now: fc.Now})
	sts.AddRole(ststest.Role{ARN: role1ARN})
	s, err := New(Options{Config: env.cfg, HTTPClient: memClient(sts), Clock: fc, Rand: fixedRand})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	for _, name := range []string{"dev", "r"} {
		go func() { s.Refresher(name).Run(ctx); done <- struct{}{} }()
	}
	t.Cleanup(func() { cancel(); <-done; <-done })

	// settle waits (bounded) until STS saw n calls and both refreshers
	// sleep on the fake clock again.
	settle := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for sts.Calls() != n || fc.Pending() < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("at +%v: %d STS calls, %d timers; want %d calls", fc.Now().Sub(start), sts.Calls(), fc.Pending(), n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// step advances to +at and checks the calls made there.
	type want struct {
		action string
		signer string // "dev": dev's credentials current at that moment
	}
	devKey := func() string { return s.Refresher("dev").snap.Load().creds.AccessKeyID }
	settle(2)
	keys := []string{devKey()}
	steps := []struct {
		at   time.Duration
		want []want
	}{
		{40 * time.Minute, []want{{ststest.ActionAssumeRole, "dev"}}},   // 1h − 20m
		{80 * time.Minute, []want{{ststest.ActionAssumeRole, "dev"}}},   // 40m + 40m
		{90 * time.Minute, []want{{ststest.ActionGetSessionToken, ""}}}, // 2h − 30m: the role is not forced
		{120 * time.Minute, []want{{ststest.ActionAssumeRole, "dev"}}},  // with dev's new key
		{160 * time.Minute, []want{{ststest.ActionAssumeRole, "dev"}}},
	}
	reqs := sts.Requests()
	if reqs[0].Action != ststest.ActionGetSessionToken || reqs[1].Action != ststest.ActionAssumeRole || reqs[1].AccessKeyID != keys[0] {
		t.Fatalf("start: %s then %s signed with %s; want GetSessionToken then AssumeRole signed with dev's key", reqs[0].Action, reqs[1].Action, reqs[1].AccessKeyID)
	}
	n := 2
	for _, st := range steps {
		signer := devKey() // dev's current key just before this moment
		fc.Advance(start.Add(st.at).Sub(fc.Now()))
		n += len(st.want)
		settle(n)
		got := sts.Requests()[n-len(st.want) : n]
		for i, w := range st.want {
			if got[i].Action != w.action {
				t.Errorf("+%v: call %s; want %s", st.at, got[i].Action, w.action)
			}
			if w.signer == "dev" && got[i].AccessKeyID != signer {
				t.Errorf("+%v: AssumeRole signed with %s; want dev's current %s", st.at, got[i].AccessKeyID, signer)
			}
		}
	}
	if devKey() == keys[0] {
		t.Error("dev never refreshed")
	}
}

// TestRoleChainControlAPI: over the control socket a role profile whose
// chain needs a code answers 409 naming the session profile and its
// prompt; one code posted for the role refreshes the chain, and the
// role's credentials follow: credential_process's one prompt.
func TestRoleChainControlAPI(t *testing.T) {
	env := newEnv(t, strings.Replace(chainProfiles, `mfa_reminder = "10m"`, `mfa_reminder = "10m"`+"\nmfa_prompt = \"zenity\"", 1))
	sts := ststest.NewServer(t, ststest.Options{})
	sts.AddRole(ststest.Role{ARN: role1ARN})
	sts.AddRole(ststest.Role{ARN: role2ARN})
	sts.SetMFA(mfaSerial, "246810")
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	_, c, _ := startDaemon(t, Options{Config: env.cfg})
	code, body := get(t, c, "/v1/credentials/r2")
	if code != 409 || !strings.Contains(string(body), `profile \"r2\" waits for profile \"dev\", which needs an MFA code: run `+"`stsd mfa dev`") || !strings.Contains(string(body), `"MFAPrompt":"zenity"`) {
		t.Fatalf("GET r2 = %d %s; want 409 naming dev and its prompt", code, body)
	}
	resp, err := c.Post("http://stsd/v1/mfa/r2", "text/plain", strings.NewReader("246810"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST /v1/mfa/r2 = %d", resp.StatusCode)
	}
	if code, body := get(t, c, "/v1/credentials/r2"); code != 200 {
		t.Fatalf("GET r2 after the code = %d %s", code, body)
	}
	if got := sts.Calls(); got != 3 {
		t.Errorf("STS calls = %d; want 3 (GetSessionToken, two AssumeRole)", got)
	}
	code, body = get(t, c, "/v1/status")
	if code != 200 || !strings.Contains(string(body), `"arn":"arn:aws:sts::210987654321:assumed-role/second/`) {
		t.Errorf("status = %d %s", code, body)
	}
	resp, err = c.Post("http://stsd/v1/mfa/r1", "text/plain", strings.NewReader("246810"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 409 {
		t.Errorf("POST /v1/mfa/r1 with the used code = %d; want 409 (single-use)", resp.StatusCode)
	}
}

// TestReloadRebuildsChildren: a reload that replaces a parent replaces its
// role profiles too, linked to the new parent; the new chain serves.
func TestReloadRebuildsChildren(t *testing.T) {
	const profiles = `
[profiles.dev]
source_profile = "src"
duration = "DURATION"

[profiles.r]
mode = "role"
role_arn = "` + role1ARN + `"
via_profile = "dev"
`
	env := newEnv(t, strings.Replace(profiles, "DURATION", "2h", 1))
	sts := ststest.NewServer(t, ststest.Options{})
	sts.AddRole(ststest.Role{ARN: role1ARN})
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	load := func() (*config.Config, error) { return config.Load(env.cfg.Path, config.Options{Hostname: "testhost"}) }
	s, c, _ := startDaemon(t, Options{Config: env.cfg, Load: load, WatchDebounce: 50 * time.Millisecond})
	if code, body := get(t, c, "/v1/credentials/r"); code != 200 {
		t.Fatalf("GET r = %d %s", code, body)
	}
	oldDev, oldR := s.Refresher("dev"), s.Refresher("r")
	write(t, env.cfg.Path, strings.Replace(profiles, "DURATION", "3h", 1))
	if err := s.Reload(t.Context(), "test"); err != nil {
		t.Fatal(err)
	}
	newDev, newR := s.Refresher("dev"), s.Refresher("r")
	if newDev == oldDev || newR == oldR || newR.parent != newDev {
		t.Fatalf("after the reload dev replaced %v, r replaced %v, r's parent is the new dev %v", newDev != oldDev, newR != oldR, newR.parent == newDev)
	}
	if code, body := get(t, c, "/v1/credentials/r"); code != 200 {
		t.Fatalf("GET r after the reload = %d %s", code, body)
	}
	// A change to r alone (its refresh_before) replaces r only.
	write(t, env.cfg.Path, strings.Replace(profiles, "DURATION", "3h", 1)+"refresh_before = \"20m\"\n")
	if err := s.Reload(t.Context(), "test"); err != nil {
		t.Fatal(err)
	}
	if s.Refresher("dev") != newDev || s.Refresher("r") == newR || s.Refresher("r").parent != newDev {
		t.Error("a change to r alone must replace r only, linked to the kept dev")
	}
}
