package stsclient

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stsd/stsd/cache"
	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/mfa"
	"github.com/stsd/stsd/internal/ststest"
	"github.com/stsd/stsd/internal/wire"
)

// setup writes a shared credentials file and config with the given
// sections and loads an stsd config with profiles. It sets AWS_* and HOME:
// callers stay serial.
func setup(t *testing.T, credentials, awsConfig, profiles string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	for _, k := range []string{"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", wire.ResolvingEnv} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	os.WriteFile(filepath.Join(dir, "credentials"), []byte(credentials), 0o600)
	os.WriteFile(filepath.Join(dir, "config"), []byte(awsConfig), 0o600)
	path := filepath.Join(dir, "stsd.toml")
	os.WriteFile(path, []byte(profiles), 0o600)
	cfg, err := config.Load(path, config.Options{Hostname: "host1"})
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	return cfg
}

const longTerm = "[src]\naws_access_key_id = AKIAFAKESOURCE000001\naws_secret_access_key = fakeSecretFakeSecretFakeSecretFakeSecret\n"

func fetch(t *testing.T, cfg *config.Config, profile string, sts *ststest.Handler, req Request) (*Result, error) {
	t.Helper()
	c := New(cfg, cfg.Profiles[profile], Options{HTTPClient: &http.Client{Transport: sts.RoundTripper()}})
	return c.Fetch(t.Context(), req)
}

func TestGetSessionTokenParameters(t *testing.T) {
	cfg := setup(t, longTerm, "", `
[profiles.dev]
source_profile = "src"
duration = "2h"
mfa_serial = "arn:aws:iam::123456789012:mfa/alice"
`)
	sts := ststest.NewHandler(ststest.Options{})
	sts.SetMFA("arn:aws:iam::123456789012:mfa/alice", "123456")
	if _, err := fetch(t, cfg, "dev", sts, Request{}); !errors.Is(err, mfa.ErrNeeded) {
		t.Fatalf("Fetch without a code = %v; want mfa.ErrNeeded", err)
	}
	if got := sts.Calls(); got != 0 {
		t.Fatalf("a profile with mfa_serial called STS without a code (%d calls)", got)
	}
	res, err := fetch(t, cfg, "dev", sts, Request{TokenCode: "123456"})
	if err != nil {
		t.Fatal(err)
	}
	reqs := sts.Requests()
	got := map[string]string{}
	for k := range reqs[0].Params {
		got[k] = reqs[0].Params.Get(k)
	}
	want := map[string]string{"Action": "GetSessionToken", "Version": "2011-06-15", "DurationSeconds": "7200",
		"SerialNumber": "arn:aws:iam::123456789012:mfa/alice", "TokenCode": "123456"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("GetSessionToken params (-want +got):\n%s", d)
	}
	if res.Credentials.AccountID != "123456789012" {
		t.Errorf("AccountID = %q; want it from the MFA ARN", res.Credentials.AccountID)
	}
	if res.Credentials.Expiration.Nanosecond() != 0 || res.Credentials.Expiration.Location() != time.UTC {
		t.Errorf("Expiration %v is not whole-second UTC", res.Credentials.Expiration)
	}
}

func TestGetFederationTokenParameters(t *testing.T) {
	cfg := setup(t, longTerm, "", `
[profiles.ci]
source_profile = "src"
mode = "federation"
name = "ci-{hostname}"
duration = "36h"
policy = '{ "Version": "2012-10-17", "Statement": [ { "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*" } ] }'
policy_arns = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
tags = { team = "build", env = "ci" }
`)
	sts := ststest.NewHandler(ststest.Options{})
	res, err := fetch(t, cfg, "ci", sts, Request{})
	if err != nil {
		t.Fatal(err)
	}
	p := sts.Requests()[0].Params
	got := map[string]string{}
	for k := range p {
		got[k] = p.Get(k)
	}
	want := map[string]string{
		"Action": "GetFederationToken", "Version": "2011-06-15", "Name": "ci-host1", "DurationSeconds": "129600",
		"Policy":                  `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`,
		"PolicyArns.member.1.arn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
		"Tags.member.1.Key":       "env", "Tags.member.1.Value": "ci",
		"Tags.member.2.Key": "team", "Tags.member.2.Value": "build",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("GetFederationToken params (-want +got):\n%s", d)
	}
	if res.ARN != "arn:aws:sts::123456789012:federated-user/ci-host1" || res.Credentials.AccountID != "123456789012" {
		t.Errorf("ARN, account = %q, %q", res.ARN, res.Credentials.AccountID)
	}
	if res.PackedPolicySize < 0 {
		t.Errorf("PackedPolicySize not reported")
	}
}

func TestSourceMustBeLongTerm(t *testing.T) {
	const profiles = "[profiles.dev]\nsource_profile = \"src\"\n"
	tests := []struct {
		name        string
		credentials string
		awsConfig   string
		wantErr     string
	}{
		{"temporary key", "[src]\naws_access_key_id = ASIAFAKESOURCE000001\naws_secret_access_key = x\naws_session_token = y\n", "",
			`source profile "src" yields temporary credentials (ASIA…0001): STS refuses GetSessionToken/GetFederationToken with session credentials; use an IAM user's long-term key (AKIA…)`},
		{"role", "", "[profile src]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = base\n[profile base]\n",
			`source profile "src" uses a role, SSO or web identity: those yield temporary credentials, and STS needs an IAM user's long-term key (AKIA…) for GetSessionToken/GetFederationToken`},
		{"missing", "", "", `source profile "src" not found in `},
		{"no keys", "", "[profile src]\nregion = us-east-1\n", `source profile "src" has no credentials: add aws_access_key_id and aws_secret_access_key to `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := setup(t, tt.credentials, tt.awsConfig, profiles)
			sts := ststest.NewHandler(ststest.Options{})
			_, err := fetch(t, cfg, "dev", sts, Request{})
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("Fetch() = %v; want %q", err, tt.wantErr)
			}
			if sts.Calls() != 0 {
				t.Errorf("STS was called")
			}
		})
	}
}

func TestSourceCredentialProcess(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "src.sh")
	// The source tool sees STSD_RESOLVING (so a loop back into stsd stops).
	os.WriteFile(script, []byte(`#!/bin/sh
[ "$STSD_RESOLVING" = 1 ] || exit 3
echo '{"Version":1,"AccessKeyId":"AKIAFAKEPROCESS00001","SecretAccessKey":"s"}'
`), 0o700)
	cfg := setup(t, "", "[profile src]\ncredential_process = "+script+"\n", "[profiles.dev]\nsource_profile = \"src\"\n")
	sts := ststest.NewHandler(ststest.Options{})
	if _, err := fetch(t, cfg, "dev", sts, Request{}); err != nil {
		t.Fatalf("Fetch() = %v", err)
	}
	if got := sts.Requests()[0].AccessKeyID; got != "AKIAFAKEPROCESS00001" {
		t.Errorf("signed with %q; want the process's key", got)
	}
}

func TestRotatedKeyUsedNextFetch(t *testing.T) {
	cfg := setup(t, longTerm, "", "[profiles.dev]\nsource_profile = \"src\"\n")
	sts := ststest.NewHandler(ststest.Options{})
	c := New(cfg, cfg.Profiles["dev"], Options{HTTPClient: &http.Client{Transport: sts.RoundTripper()}})
	if _, err := c.Fetch(t.Context(), Request{}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(os.Getenv("AWS_SHARED_CREDENTIALS_FILE"), []byte(strings.ReplaceAll(longTerm, "000001", "000002")), 0o600)
	if _, err := c.Fetch(t.Context(), Request{}); err != nil {
		t.Fatal(err)
	}
	if got := sts.Requests()[1].AccessKeyID; got != "AKIAFAKESOURCE000002" {
		t.Errorf("second fetch signed with %q; want the rotated key", got)
	}
}

func TestErrorClassification(t *testing.T) {
	cfg := setup(t, longTerm, "", "[profiles.dev]\nsource_profile = \"src\"\n")
	tests := []struct {
		fault     ststest.Fault
		retryable bool
		reason    string
		text      string
	}{
		{ststest.FaultServerError, true, "InternalFailure", "GetSessionToken: InternalFailure"},
		{ststest.FaultUnavailable, true, "ServiceUnavailable", "GetSessionToken: ServiceUnavailable"},
		{ststest.FaultThrottling, true, "Throttling", "GetSessionToken: Throttling: Rate exceeded"},
		{ststest.FaultAccessDenied, false, "AccessDenied", "GetSessionToken: AccessDenied"},
		{ststest.FaultInvalidClientTokenId, false, "InvalidClientTokenId", "GetSessionToken: InvalidClientTokenId: The security token included in the request is invalid."},
		{ststest.FaultReset, true, "network", "GetSessionToken: network error"},
		{ststest.FaultMalformed, true, "malformed_response", "GetSessionToken: malformed response from STS"},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			sts := ststest.NewHandler(ststest.Options{})
			sts.Fail(tt.fault)
			_, err := fetch(t, cfg, "dev", sts, Request{})
			if err == nil {
				t.Fatal("Fetch() succeeded")
			}
			if got := Retryable(err); got != tt.retryable {
				t.Errorf("Retryable(%v) = %v; want %v", err, got, tt.retryable)
			}
			if got := Reason(err); got != tt.reason {
				t.Errorf("Reason(%v) = %q; want %q", err, got, tt.reason)
			}
			if !strings.HasPrefix(err.Error(), tt.text) {
				t.Errorf("error text %q; want prefix %q", err, tt.text)
			}
			if sts.Calls() != 1 {
				t.Errorf("calls = %d; want 1 (no SDK retries)", sts.Calls())
			}
		})
	}
}

func TestHangTimesOut(t *testing.T) {
	cfg := setup(t, longTerm, "", "[profiles.dev]\nsource_profile = \"src\"\n")
	sts := ststest.NewHandler(ststest.Options{})
	sts.Fail(ststest.FaultHang)
	c := New(cfg, cfg.Profiles["dev"], Options{HTTPClient: &http.Client{Transport: sts.RoundTripper()}, Timeout: 200 * time.Millisecond})
	_, err := c.Fetch(context.Background(), Request{})
	if err == nil || !Retryable(err) || Reason(err) != "timeout" {
		t.Errorf("hang: %v (retryable %v, reason %q); want a retryable timeout", err, Retryable(err), Reason(err))
	}
}

func TestAccountFromARN(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"arn:aws:iam::123456789012:mfa/alice":         "123456789012",
		"arn:aws:sts::123456789012:federated-user/ci": "123456789012",
		"GAHT12345678":                        "",
		"arn:aws:iam::12345:user/x":           "",
		"arn:aws-cn:iam::123456789012:user/x": "123456789012",
		"":                                    "",
	} {
		if got := AccountFromARN(in); got != want {
			t.Errorf("AccountFromARN(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestRootDetectedOnceAndClamped(t *testing.T) {
	cfg := setup(t, longTerm, "", "[profiles.dev]\nsource_profile = \"src\"\nduration = \"12h\"\n")
	store, err := cache.Open(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	sts := ststest.NewHandler(ststest.Options{})
	sts.SetRoot("AKIAFAKESOURCE000001")
	newClient := func() *Client {
		return New(cfg, cfg.Profiles["dev"], Options{HTTPClient: &http.Client{Transport: sts.RoundTripper()}, Identities: store})
	}
	res, err := newClient().Fetch(t.Context(), Request{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Root || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "is the account root: STS allows root at most 1h, so duration 12h0m0s is clamped to 1h") {
		t.Errorf("root = %v, warnings = %q", res.Root, res.Warnings)
	}
	if got := sts.Requests()[1].Params.Get("DurationSeconds"); got != "3600" {
		t.Errorf("DurationSeconds sent = %s; want 3600", got)
	}
	if res.Credentials.AccountID != "123456789012" {
		t.Errorf("AccountID = %q; want the identity's account", res.Credentials.AccountID)
	}
	// Later refreshes and a restarted client (same store) never ask again.
	newClient().Fetch(t.Context(), Request{})
	if got := sts.CallsOf("GetCallerIdentity"); got != 1 {
		t.Errorf("GetCallerIdentity calls = %d; want 1 per source key", got)
	}
	if !KnownRoot(t.Context(), cfg, cfg.Profiles["dev"], store) {
		t.Error("KnownRoot = false after detection")
	}
}

func TestPackedPolicyTooLargeNamesWhatToShrink(t *testing.T) {
	var tags strings.Builder
	for i := range 50 {
		// Incompressible values: hex of a hash chain.
		v := sha256.Sum256([]byte{byte(i)})
		val := ""
		for len(val) < 250 {
			v = sha256.Sum256(v[:])
			val += hex.EncodeToString(v[:])
		}
		fmt.Fprintf(&tags, "k%02d = \"%s\"\n", i, val[:250])
	}
	cfg := setup(t, longTerm, "", "[profiles.ci]\nsource_profile = \"src\"\nmode = \"federation\"\npolicy_arns = [\"arn:aws:iam::aws:policy/ReadOnlyAccess\"]\n[profiles.ci.tags]\n"+tags.String())
	sts := ststest.NewHandler(ststest.Options{})
	_, err := fetch(t, cfg, "ci", sts, Request{})
	if err == nil || !strings.Contains(err.Error(), "PackedPolicyTooLarge") || !strings.Contains(err.Error(), "shrink profile ci's session policy (0 characters), policy_arns (1) or tags (50)") {
		t.Errorf("Fetch() = %v; want PackedPolicyTooLarge naming what to shrink", err)
	}
}

// hostRecorder records the host of every request it forwards.
type hostRecorder struct {
	next  http.RoundTripper
	hosts []string
}

func (h *hostRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	h.hosts = append(h.hosts, r.URL.Host)
	return h.next.RoundTrip(r)
}

func TestRegionalEndpoint(t *testing.T) {
	cfg := setup(t, longTerm, "", "[profiles.eu]\nsource_profile = \"src\"\nregion = \"eu-west-1\"\n[profiles.us]\nsource_profile = \"src\"\n")
	sts := ststest.NewHandler(ststest.Options{})
	for profile, want := range map[string]string{"eu": "sts.eu-west-1.amazonaws.com", "us": "sts.us-east-1.amazonaws.com"} {
		rec := &hostRecorder{next: sts.RoundTripper()}
		c := New(cfg, cfg.Profiles[profile], Options{HTTPClient: &http.Client{Transport: rec}})
		if _, err := c.Fetch(t.Context(), Request{}); err != nil {
			t.Fatal(err)
		}
		if len(rec.hosts) != 1 || rec.hosts[0] != want {
			t.Errorf("profile %s called %v; want %s (regional)", profile, rec.hosts, want)
		}
	}
	// AWS_ENDPOINT_URL_STS overrides (tests, private endpoints).
	t.Setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1")
	rec := &hostRecorder{next: sts.RoundTripper()}
	c := New(cfg, cfg.Profiles["eu"], Options{HTTPClient: &http.Client{Transport: rec}})
	c.Fetch(t.Context(), Request{})
	if len(rec.hosts) != 1 || rec.hosts[0] != "127.0.0.1:1" {
		t.Errorf("with AWS_ENDPOINT_URL_STS called %v", rec.hosts)
	}
}
