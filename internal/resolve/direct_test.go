package resolve

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stsd/stsd/cache"
	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/mfa"
	"github.com/stsd/stsd/internal/ststest"
)

const serial = "arn:aws:iam::123456789012:mfa/alice"

// setup makes a private HOME with a long-term key and the given profiles;
// it sets env vars, so tests here stay serial.
func setup(t *testing.T, profiles string) (*config.Config, *cache.Store, string) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "aws-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	os.WriteFile(filepath.Join(dir, "credentials"), []byte("[src]\naws_access_key_id = AKIAFAKESOURCE000001\naws_secret_access_key = fakeSecretFakeSecretFakeSecretFakeSecret\n"), 0o600)
	path := filepath.Join(dir, "stsd.toml")
	os.WriteFile(path, []byte(profiles), 0o600)
	cfg, err := config.Load(path, config.Options{Hostname: "h"})
	if err != nil {
		t.Fatal(err)
	}
	store, err := cache.Open(filepath.Join(dir, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg, store, dir
}

func TestCacheReusedUnderLock(t *testing.T) {
	cfg, store, _ := setup(t, "[profiles.dev]\nsource_profile = \"src\"\nduration = \"1h\"\n")
	sts := ststest.NewHandler(ststest.Options{})
	o := Options{Config: cfg, Profile: "dev", Store: store, HTTPClient: &http.Client{Transport: sts.RoundTripper()}}
	first, err := Direct(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	second, err := Direct(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if sts.Calls() != 1 || second.Credentials.AccessKeyID != first.Credentials.AccessKeyID {
		t.Errorf("calls = %d, same key %v; want 1 call and the cached key", sts.Calls(), second.Credentials.AccessKeyID == first.Credentials.AccessKeyID)
	}
	// Less than min(15m, lifetime/4) left: a new call.
	o.Now = func() time.Time { return first.Credentials.Expiration.Add(-14 * time.Minute) }
	if _, err := Direct(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if sts.Calls() != 2 {
		t.Errorf("calls near expiry = %d; want 2", sts.Calls())
	}
}

func TestUnknownProfile(t *testing.T) {
	cfg, store, _ := setup(t, "[profiles.dev]\nsource_profile = \"src\"\n")
	_, err := Direct(t.Context(), Options{Config: cfg, Profile: "nope", Store: store})
	if err == nil || err.Error() != `profile "nope" is not in `+cfg.Path+`: add [profiles.nope] or fix the --profile argument` {
		t.Errorf("Credentials(nope) = %v", err)
	}
}

// TestSharedSerialNeverReusesCode: two profiles on one MFA device whose
// mfa_process prints the same code twice; the second waits for the next
// TOTP step and sends the new code.
func TestSharedSerialNeverReusesCode(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "code.sh")
	os.WriteFile(script, []byte(`#!/bin/sh
n=$(cat "$0.n" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$0.n"
if [ $n -le 2 ]; then echo 111111; else echo 222222; fi
`), 0o700)
	prof := func(name string) string {
		return "[profiles." + name + "]\nsource_profile = \"src\"\nmfa_serial = \"" + serial + "\"\nmfa_process = \"" + script + "\"\n"
	}
	cfg, store, _ := setup(t, prof("a")+prof("b"))
	sts := ststest.NewHandler(ststest.Options{})
	sts.SetMFA(serial, "111111")
	// 10ms before the next 30 s step, so the wait is short.
	stepEnd := time.Now().Truncate(30 * time.Second).Add(30 * time.Second)
	o := Options{Config: cfg, Store: store, HTTPClient: &http.Client{Transport: sts.RoundTripper()},
		Now: func() time.Time { return stepEnd.Add(-10 * time.Millisecond) }}
	o.Profile = "a"
	if _, err := Direct(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	sts.SetMFA(serial, "222222")
	o.Profile = "b"
	if _, err := Direct(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, r := range sts.Requests() {
		if r.Action == ststest.ActionGetSessionToken {
			codes = append(codes, r.Params.Get("TokenCode"))
		}
	}
	if diff := cmp.Diff([]string{"111111", "222222"}, codes); diff != "" {
		t.Errorf("TokenCodes sent (-want +got):\n%s", diff)
	}
}

func TestPromptedCodeReuseRefused(t *testing.T) {
	prof := func(name string) string {
		return "[profiles." + name + "]\nsource_profile = \"src\"\nmfa_serial = \"" + serial + "\"\n"
	}
	cfg, store, _ := setup(t, prof("a")+prof("b"))
	sts := ststest.NewHandler(ststest.Options{})
	sts.SetMFA(serial, "333333")
	o := Options{Config: cfg, Store: store, HTTPClient: &http.Client{Transport: sts.RoundTripper()},
		Prompt: func(context.Context, *config.Profile) (string, error) { return "333333", nil }}
	o.Profile = "a"
	if _, err := Direct(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	o.Profile = "b"
	if _, err := Direct(t.Context(), o); !errors.Is(err, mfa.ErrCodeUsed) {
		t.Errorf("second profile with the same typed code: %v; want mfa.ErrCodeUsed", err)
	}
	o.Prompt = nil
	_, err := Direct(t.Context(), o)
	if want := `profile "b" needs an MFA code: set mfa_process, or run ` + "`stsd run`" + ` and give it one with ` + "`stsd mfa b`"; err == nil || err.Error() != want {
		t.Errorf("no prompt: %v; want %q", err, want)
	}
	if sts.Calls() != 1 {
		t.Errorf("calls = %d; want 1", sts.Calls())
	}
}

// TestDirectRoleChainOnePrompt: without a daemon, a role on a role on an
// MFA session profile asks for one code, makes one call per profile, and
// then serves every link from the cache.
func TestDirectRoleChainOnePrompt(t *testing.T) {
	const (
		role1 = "arn:aws:iam::123456789012:role/first"
		role2 = "arn:aws:iam::210987654321:role/second"
	)
	cfg, store, _ := setup(t, `
[profiles.dev]
source_profile = "src"
duration = "1h"
mfa_serial = "`+serial+`"
[profiles.r1]
mode = "role"
role_arn = "`+role1+`"
via_profile = "dev"
[profiles.r2]
mode = "role"
role_arn = "`+role2+`"
via_profile = "r1"
`)
	sts := ststest.NewHandler(ststest.Options{})
	sts.AddRole(ststest.Role{ARN: role1, RequireMFA: true})
	sts.AddRole(ststest.Role{ARN: role2, RequireMFA: true})
	sts.SetMFA(serial, "112233")
	prompts := 0
	o := Options{Config: cfg, Profile: "r2", Store: store, HTTPClient: &http.Client{Transport: sts.RoundTripper()},
		Prompt: func(context.Context, *config.Profile) (string, error) { prompts++; return "112233", nil }}
	e, err := Direct(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if prompts != 1 || sts.Calls() != 3 {
		t.Fatalf("prompts = %d, STS calls = %d; want 1 and 3", prompts, sts.Calls())
	}
	if e.ARN != "arn:aws:sts::210987654321:assumed-role/second/stsd-"+cfg.Profiles["r2"].RoleSessionName[len("stsd-"):] {
		t.Errorf("ARN = %q", e.ARN)
	}
	reqs := sts.Requests()
	last := reqs[len(reqs)-1]
	r1, err := store.Load("r1")
	if err != nil {
		t.Fatal(err)
	}
	if last.Action != ststest.ActionAssumeRole || last.Params.Get("RoleArn") != role2 || last.AccessKeyID != r1.Credentials.AccessKeyID || !last.SessionToken {
		t.Errorf("last call = %s %s signed with %s; want AssumeRole of the second role with r1's credentials", last.Action, last.Params.Get("RoleArn"), last.AccessKeyID)
	}
	for _, name := range []string{"r2", "r1", "dev"} {
		o.Profile = name
		if _, err := Direct(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
	if prompts != 1 || sts.Calls() != 3 {
		t.Errorf("after cached reads: prompts = %d, STS calls = %d; want 1 and 3", prompts, sts.Calls())
	}
}
