package stsclient

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stsd/stsd/internal/mfa"
	"github.com/stsd/stsd/internal/ststest"
	"github.com/stsd/stsd/internal/wire"
)

const (
	testRole = "arn:aws:iam::210987654321:role/deploy"
	testMFA  = "arn:aws:iam::123456789012:mfa/alice"
)

// TestAssumeRoleParameters: every role parameter reaches STS as
// configured, with the long-term key and the MFA code.
func TestAssumeRoleParameters(t *testing.T) {
	cfg := setup(t, longTerm, "", `
[profiles.r]
mode = "role"
role_arn = "`+testRole+`"
source_profile = "src"
duration = "2h"
external_id = "ext-1234"
role_session_name = "{user}-{profile}"
source_identity = "alice"
mfa_serial = "`+testMFA+`"
policy = '{ "Version": "2012-10-17", "Statement": [] }'
policy_arns = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
tags = { team = "build", env = "ci" }
transitive_tag_keys = ["team"]
`)
	sts := ststest.NewHandler(ststest.Options{})
	sts.AddRole(ststest.Role{ARN: testRole, MaxSessionDuration: 12 * time.Hour, ExternalID: "ext-1234", RequireMFA: true})
	sts.SetMFA(testMFA, "123456")
	if _, err := fetch(t, cfg, "r", sts, Request{}); !errors.Is(err, mfa.ErrNeeded) || sts.Calls() != 0 {
		t.Fatalf("Fetch without a code = %v (%d calls); want mfa.ErrNeeded and no call", err, sts.Calls())
	}
	res, err := fetch(t, cfg, "r", sts, Request{TokenCode: "123456"})
	if err != nil {
		t.Fatal(err)
	}
	r := sts.Requests()[0]
	got := map[string]string{}
	for k := range r.Params {
		got[k] = r.Params.Get(k)
	}
	user := cfg.Profiles["r"].RoleSessionName
	if !strings.HasSuffix(user, "-r") {
		t.Fatalf("RoleSessionName = %q", user)
	}
	want := map[string]string{
		"Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": testRole, "RoleSessionName": user,
		"DurationSeconds": "7200", "ExternalId": "ext-1234", "SourceIdentity": "alice",
		"SerialNumber": testMFA, "TokenCode": "123456",
		"Policy":                  `{"Version":"2012-10-17","Statement":[]}`,
		"PolicyArns.member.1.arn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
		"Tags.member.1.Key":       "env", "Tags.member.1.Value": "ci", "Tags.member.2.Key": "team", "Tags.member.2.Value": "build",
		"TransitiveTagKeys.member.1": "team",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("AssumeRole params (-want +got):\n%s", d)
	}
	if r.AccessKeyID != "AKIAFAKESOURCE000001" || r.SessionToken {
		t.Errorf("signed with %s (session token %v); want the long-term key", r.AccessKeyID, r.SessionToken)
	}
	if res.ARN != "arn:aws:sts::210987654321:assumed-role/deploy/"+user || res.Credentials.AccountID != "210987654321" {
		t.Errorf("ARN, account = %q, %q", res.ARN, res.Credentials.AccountID)
	}
	if sts.CallsOf(ststest.ActionGetCallerIdentity) != 0 {
		t.Error("a role refresh called GetCallerIdentity")
	}
}

// TestAssumeRoleViaParent: with via_profile the call is signed with the
// parent's credentials as given, and without them nothing is sent.
func TestAssumeRoleViaParent(t *testing.T) {
	cfg := setup(t, longTerm, "", `
[profiles.dev]
source_profile = "src"
[profiles.r]
mode = "role"
role_arn = "`+testRole+`"
via_profile = "dev"
`)
	sts := ststest.NewHandler(ststest.Options{})
	sts.AddRole(ststest.Role{ARN: testRole})
	if _, err := fetch(t, cfg, "r", sts, Request{}); !errors.Is(err, ErrNoParent) || sts.Calls() != 0 {
		t.Fatalf("Fetch without parent credentials = %v (%d calls); want ErrNoParent and no call", err, sts.Calls())
	}
	parent, err := fetch(t, cfg, "dev", sts, Request{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fetch(t, cfg, "r", sts, Request{Parent: &parent.Credentials}); err != nil {
		t.Fatal(err)
	}
	r := sts.Requests()[1]
	if r.Action != "AssumeRole" || r.AccessKeyID != parent.Credentials.AccessKeyID || !r.SessionToken {
		t.Errorf("AssumeRole signed with %s (session token %v); want the parent's %s", r.AccessKeyID, r.SessionToken, parent.Credentials.AccessKeyID)
	}
	if got := r.Params.Get("DurationSeconds"); got != "3600" {
		t.Errorf("DurationSeconds = %s; want the 1h default", got)
	}
}

// TestAssumeRoleHints: refusals that need the user to act get one line
// saying what to change.
func TestAssumeRoleHints(t *testing.T) {
	cfg := setup(t, longTerm, "", `
[profiles.dev]
source_profile = "src"
[profiles.chain]
mode = "role"
role_arn = "`+testRole+`"
via_profile = "dev"
[profiles.long]
mode = "role"
role_arn = "`+testRole+`"
source_profile = "src"
duration = "4h"
[profiles.ext]
mode = "role"
role_arn = "`+testRole+`"
source_profile = "src"
external_id = "ext-1"
mfa_serial = "`+testMFA+`"
tags = { team = "x" }
`)
	sts := ststest.NewHandler(ststest.Options{})
	parent, err := fetch(t, cfg, "dev", sts, Request{})
	if err != nil {
		t.Fatal(err)
	}
	sts.SetMFA(testMFA, "123456")
	const denied = "AssumeRole: AccessDenied: User: arn:aws:iam::123456789012:user/alice is not authorized to perform: sts:AssumeRole on resource: " + testRole + ": STS gives the same AccessDenied for each of these, so check them in turn: "
	tests := []struct {
		name    string
		profile string
		req     Request
		role    *ststest.Role
		want    string
	}{
		{"max session duration", "long", Request{}, &ststest.Role{ARN: testRole},
			"AssumeRole: ValidationError: The requested DurationSeconds exceeds the MaxSessionDuration set for this role.: duration 4h0m0s is longer than the MaxSessionDuration of role " + testRole + " (1h unless raised in IAM): shorten duration in profile long, or raise the role's maximum session duration"},
		{"denied, nothing configured", "chain", Request{Parent: &parent.Credentials}, &ststest.Role{ARN: testRole, ExternalID: "another"},
			"AssumeRole: AccessDenied: User: arn:aws:iam::123456789012:user/alice is not authorized to perform: sts:AssumeRole on resource: " + testRole + ": STS gives the same AccessDenied for each of these, so check them in turn: " +
				"the trust policy may require an ExternalId (set external_id); the trust policy may require MFA (set mfa_serial on profile dev); " +
				"the trust policy of " + testRole + ` may not name the identity of via_profile "dev"; the identity of via_profile "dev" may lack sts:AssumeRole on it`},
		{"denied with external id and mfa", "ext", Request{TokenCode: "123456"}, &ststest.Role{ARN: testRole, ExternalID: "another"},
			denied + `external_id may not be the one the trust policy expects; the trust policy of ` + testRole + ` may not name the IAM user of source profile "src"; the IAM user of source profile "src" may lack sts:AssumeRole on it; tags need sts:TagSession in the trust policy`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.role != nil {
				sts.AddRole(*tt.role)
			}
			_, err := fetch(t, cfg, tt.profile, sts, tt.req)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Fetch() =\n%v\nwant\n%s", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Error("the error is not one line")
			}
		})
	}
}

// TestSigninURL: role, federation and session profiles reach the console
// through getSigninToken with their session JSON, SessionDuration only for
// roles, and a login URL with the destination and issuer.
func TestSigninURL(t *testing.T) {
	cfg := setup(t, longTerm, "", `
[profiles.dev]
source_profile = "src"
console_name = "{user}-console"
[profiles.r]
mode = "role"
role_arn = "`+testRole+`"
via_profile = "dev"
[profiles.fed]
source_profile = "src"
mode = "federation"
policy_arns = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
`)
	s := ststest.NewServer(t, ststest.Options{})
	s.AddRole(ststest.Role{ARN: testRole})
	hc := &http.Client{Transport: s.RoundTripper()}
	client := func(name string) *Client { return New(cfg, cfg.Profiles[name], Options{HTTPClient: hc}) }
	dev, err := client("dev").Fetch(t.Context(), Request{})
	if err != nil {
		t.Fatal(err)
	}
	role, err := client("r").Fetch(t.Context(), Request{Parent: &dev.Credentials})
	if err != nil {
		t.Fatal(err)
	}
	fed, err := client("fed").Fetch(t.Context(), Request{})
	if err != nil {
		t.Fatal(err)
	}
	console, err := client("dev").ConsoleCredentials(t.Context(), 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	gft := s.Requests()[len(s.Requests())-1]
	if gft.Params.Get("Name") != cfg.Profiles["dev"].ConsoleName || gft.Params.Get("PolicyArns.member.1.arn") != "arn:aws:iam::aws:policy/AdministratorAccess" ||
		gft.Params.Get("DurationSeconds") != "7200" || gft.Params.Get("Policy") != "" {
		t.Errorf("console GetFederationToken params = %v", gft.Params)
	}
	const dest = "https://console.aws.amazon.com/s3/home?region=eu-west-1"
	tests := []struct {
		name     string
		creds    wire.Credentials
		duration time.Duration
		wantErr  string
	}{
		{"role", role.Credentials, 30 * time.Minute, ""},
		{"federation", fed.Credentials, 0, ""},
		{"session console", console, 0, ""},
		{"federation with SessionDuration", fed.Credentials, time.Hour, "HTTP 400: SessionDuration cannot be used with federation tokens"},
		{"session credentials", dev.Credentials, 0, "HTTP 400: Only federation tokens or assume role tokens may be used for federated login"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := len(s.SigninRequests())
			u, err := SigninURL(t.Context(), tt.creds, ConsoleOptions{Endpoint: s.SigninURL, Destination: dest, SessionDuration: tt.duration})
			if tt.wantErr != "" {
				if err == nil || !strings.HasSuffix(err.Error(), tt.wantErr) || strings.Contains(err.Error(), tt.creds.SecretAccessKey) {
					t.Fatalf("SigninURL() = %v; want …%s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r := s.SigninRequests()[n]
			wantDuration := ""
			if tt.duration > 0 {
				wantDuration = "1800"
			}
			if r.Action != "getSigninToken" || !r.SessionMatched || r.SessionKeyID != tt.creds.AccessKeyID || r.SessionDuration != wantDuration {
				t.Errorf("getSigninToken request = %+v", r)
			}
			pu, err := url.Parse(u)
			if err != nil || !strings.HasPrefix(u, s.SigninURL+"?") {
				t.Fatalf("login URL does not start with the endpoint")
			}
			q := pu.Query()
			if q.Get("Action") != "login" || q.Get("Issuer") != "stsd" || q.Get("Destination") != dest || q.Get("SigninToken") == "" {
				t.Errorf("login URL query has Action %q Issuer %q Destination %q", q.Get("Action"), q.Get("Issuer"), q.Get("Destination"))
			}
			resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(u)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != dest {
				t.Errorf("login = %d to %q; want 302 to the destination", resp.StatusCode, resp.Header.Get("Location"))
			}
		})
	}
}

// TestConsoleDenyWithoutMFA: a user under "deny unless MFA" cannot get the
// console's GetFederationToken; one line points to a role profile.
func TestConsoleDenyWithoutMFA(t *testing.T) {
	cfg := setup(t, longTerm, "", "[profiles.dev]\nsource_profile = \"src\"\nmfa_serial = \""+testMFA+"\"\n")
	sts := ststest.NewHandler(ststest.Options{})
	sts.DenyWithoutMFA()
	c := New(cfg, cfg.Profiles["dev"], Options{HTTPClient: &http.Client{Transport: sts.RoundTripper()}})
	_, err := c.ConsoleCredentials(t.Context(), time.Hour)
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.HasSuffix(err.Error(), `add a role profile (mode = "role", via_profile = "dev") and run `+"`stsd console`"+` with it`) {
		t.Errorf("ConsoleCredentials() = %v; want one line pointing to a role profile", err)
	}
}

func TestDefaultSigninEndpoints(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"aws-iso", "aws-eusc"} {
		if _, err := SigninURL(t.Context(), wire.Credentials{}, ConsoleOptions{Partition: p}); err == nil || !strings.Contains(err.Error(), "signin_endpoint") {
			t.Errorf("partition %s: %v; want a pointer to signin_endpoint", p, err)
		}
	}
	for p, want := range map[string]string{"aws": "signin.aws.amazon.com", "aws-cn": "signin.amazonaws.cn", "aws-us-gov": "signin.amazonaws-us-gov.com"} {
		if !strings.Contains(signin[p].endpoint, want) || !strings.HasPrefix(signin[p].endpoint, "https://") {
			t.Errorf("partition %s endpoint %s", p, signin[p].endpoint)
		}
	}
}
