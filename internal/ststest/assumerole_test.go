package ststest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/google/go-cmp/cmp"

	"github.com/stsd/stsd/internal/ststest"
)

const (
	roleARN   = "arn:aws:iam::210987654321:role/ops/deploy"
	mfaSerial = "arn:aws:iam::123456789012:mfa/alice"
)

func assume(arn string, seconds int32) *sts.AssumeRoleInput {
	in := &sts.AssumeRoleInput{RoleArn: aws.String(arn), RoleSessionName: aws.String("stsd-alice-host")}
	if seconds > 0 {
		in.DurationSeconds = aws.Int32(seconds)
	}
	return in
}

// TestAssumeRole: every parameter is recorded as sent, the answer has the
// real shape, and the role credentials identify as the assumed role.
func TestAssumeRole(t *testing.T) {
	t.Parallel()
	s := ststest.NewServer(t, ststest.Options{})
	s.AddRole(ststest.Role{ARN: roleARN, MaxSessionDuration: 12 * time.Hour, ExternalID: "ext-1", RequireMFA: true})
	s.SetMFA(mfaSerial, "123456")
	in := assume(roleARN, 7200)
	in.ExternalId = aws.String("ext-1")
	in.SerialNumber, in.TokenCode = aws.String(mfaSerial), aws.String("123456")
	in.SourceIdentity = aws.String("alice")
	in.Policy = aws.String(`{"Version":"2012-10-17"}`)
	in.PolicyArns = []types.PolicyDescriptorType{{Arn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")}}
	in.Tags = []types.Tag{{Key: aws.String("team"), Value: aws.String("build")}}
	in.TransitiveTagKeys = []string{"team"}
	out, err := userClient(t, s).AssumeRole(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	checkCreds(t, out.Credentials)
	const wantARN = "arn:aws:sts::210987654321:assumed-role/deploy/stsd-alice-host"
	if got := aws.ToString(out.AssumedRoleUser.Arn); got != wantARN {
		t.Errorf("AssumedRoleUser.Arn = %q; want %q", got, wantARN)
	}
	if id := aws.ToString(out.AssumedRoleUser.AssumedRoleId); !strings.HasPrefix(id, "AROA") || !strings.HasSuffix(id, ":stsd-alice-host") {
		t.Errorf("AssumedRoleId = %q; want AROA…:stsd-alice-host", id)
	}
	if aws.ToString(out.SourceIdentity) != "alice" || out.PackedPolicySize == nil {
		t.Errorf("SourceIdentity = %q, PackedPolicySize = %v", aws.ToString(out.SourceIdentity), out.PackedPolicySize)
	}
	if got := out.Credentials.Expiration.Sub(s.Requests()[0].Time).Round(time.Second); got != 2*time.Hour {
		t.Errorf("lifetime = %v; want 2h", got)
	}
	got := map[string]string{}
	for k := range s.Requests()[0].Params {
		got[k] = s.Requests()[0].Params.Get(k)
	}
	want := map[string]string{
		"Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": roleARN, "RoleSessionName": "stsd-alice-host",
		"DurationSeconds": "7200", "ExternalId": "ext-1", "SerialNumber": mfaSerial, "TokenCode": "123456",
		"SourceIdentity": "alice", "Policy": `{"Version":"2012-10-17"}`,
		"PolicyArns.member.1.arn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
		"Tags.member.1.Key":       "team", "Tags.member.1.Value": "build", "TransitiveTagKeys.member.1": "team",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("recorded parameters (-want +got):\n%s", diff)
	}
	id, err := fromCreds(t, s, out.Credentials).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Arn) != wantARN || aws.ToString(id.Account) != "210987654321" {
		t.Errorf("GetCallerIdentity with role credentials = %v, %v; want %s", id, err, wantARN)
	}
	if n := s.Calls(); n != 1 {
		t.Errorf("Calls() = %d; want 1 (AssumeRole counts)", n)
	}
}

// TestAssumeRoleRefusals: the trust policy, duration and caller rules
// answer with STS's codes and messages.
func TestAssumeRoleRefusals(t *testing.T) {
	t.Parallel()
	const (
		plain    = "arn:aws:iam::123456789012:role/plain"
		external = "arn:aws:iam::123456789012:role/external"
		needsMFA = "arn:aws:iam::123456789012:role/mfa"
		long     = "arn:aws:iam::123456789012:role/long"
	)
	s := ststest.NewServer(t, ststest.Options{})
	s.AddRole(ststest.Role{ARN: plain})
	s.AddRole(ststest.Role{ARN: external, ExternalID: "ext-1"})
	s.AddRole(ststest.Role{ARN: needsMFA, RequireMFA: true})
	s.AddRole(ststest.Role{ARN: long, MaxSessionDuration: 12 * time.Hour})
	s.SetMFA(mfaSerial, "111111")
	user := userClient(t, s)
	sessionPlain, err := user.GetSessionToken(t.Context(), &sts.GetSessionTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	sessionMFA, err := user.GetSessionToken(t.Context(), &sts.GetSessionTokenInput{SerialNumber: aws.String(mfaSerial), TokenCode: aws.String("111111")})
	if err != nil {
		t.Fatal(err)
	}
	fed, err := user.GetFederationToken(t.Context(), &sts.GetFederationTokenInput{Name: aws.String("fed")})
	if err != nil {
		t.Fatal(err)
	}
	chained, err := fromCreds(t, s, sessionMFA.Credentials).AssumeRole(t.Context(), assume(long, 0))
	if err != nil {
		t.Fatal(err)
	}
	const rootKey = "AKIAFAKEROOT00000009"
	s.SetRoot(rootKey)
	withExt := func(id string) *sts.AssumeRoleInput {
		in := assume(external, 0)
		in.ExternalId = aws.String(id)
		return in
	}
	denied := func(caller, arn string) string {
		return "User: " + caller + " is not authorized to perform: sts:AssumeRole on resource: " + arn
	}
	const userARN = "arn:aws:iam::123456789012:user/alice"
	const chainMsg = "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
	tests := []struct {
		name     string
		c        *sts.Client
		in       *sts.AssumeRoleInput
		wantCode string
		wantMsg  string
	}{
		{"user", user, assume(plain, 0), "", ""},
		{"unknown role", user, assume("arn:aws:iam::123456789012:role/nope", 0), "AccessDenied", denied(userARN, "arn:aws:iam::123456789012:role/nope")},
		{"external id missing", user, assume(external, 0), "AccessDenied", denied(userARN, external)},
		{"external id wrong", user, withExt("ext-2"), "AccessDenied", denied(userARN, external)},
		{"external id right", user, withExt("ext-1"), "", ""},
		{"mfa missing", user, assume(needsMFA, 0), "AccessDenied", denied(userARN, needsMFA)},
		{"mfa session without mfa", fromCreds(t, s, sessionPlain.Credentials), assume(needsMFA, 0), "AccessDenied", denied(userARN, needsMFA)},
		{"mfa session with mfa", fromCreds(t, s, sessionMFA.Credentials), assume(needsMFA, 0), "", ""},
		{"max session duration", user, assume(plain, 7200), "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."},
		{"long role 12h", user, assume(long, 43200), "", ""},
		{"over model max", user, assume(long, 43201), "ValidationError", "1 validation error detected: Value '43201' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200"},
		{"session chained 1h", fromCreds(t, s, sessionPlain.Credentials), assume(long, 3600), "", ""},
		{"session chained over 1h", fromCreds(t, s, sessionPlain.Credentials), assume(long, 3601), "ValidationError", chainMsg},
		{"role chained over 1h", fromCreds(t, s, chained.Credentials), assume(long, 7200), "ValidationError", chainMsg},
		{"role chained mfa carried", fromCreds(t, s, chained.Credentials), assume(needsMFA, 0), "", ""},
		{"federated user", fromCreds(t, s, fed.Credentials), assume(plain, 0), "AccessDenied", denied("arn:aws:sts::123456789012:federated-user/fed", plain)},
		{"root", client(t, s.URL, aws.Credentials{AccessKeyID: rootKey}, nil), assume(plain, 0), "AccessDenied", "Roles may not be assumed by root accounts."},
		{"session name", user, &sts.AssumeRoleInput{RoleArn: aws.String(plain), RoleSessionName: aws.String("a b")}, "ValidationError",
			"1 validation error detected: Value 'a b' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"},
	}
	for _, tt := range tests {
		_, err := tt.c.AssumeRole(t.Context(), tt.in)
		if apiCode(err) != tt.wantCode || apiMessage(err) != tt.wantMsg {
			t.Errorf("%s: AssumeRole = %q %q; want %q %q", tt.name, apiCode(err), apiMessage(err), tt.wantCode, tt.wantMsg)
		}
	}
}

func TestAssumeRoleFaults(t *testing.T) {
	t.Parallel()
	s := ststest.NewServer(t, ststest.Options{})
	s.AddRole(ststest.Role{ARN: roleARN})
	s.Fail(ststest.FaultThrottling, ststest.FaultAccessDenied)
	c := userClient(t, s)
	if _, err := c.AssumeRole(t.Context(), assume(roleARN, 0)); apiCode(err) != "Throttling" {
		t.Errorf("first AssumeRole = %v; want Throttling", err)
	}
	_, err := c.AssumeRole(t.Context(), assume(roleARN, 0))
	if want := "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: sts:AssumeRole on resource: " + roleARN; apiMessage(err) != want {
		t.Errorf("second AssumeRole = %q; want %q", apiMessage(err), want)
	}
	if _, err := c.AssumeRole(t.Context(), assume(roleARN, 0)); err != nil {
		t.Errorf("third AssumeRole = %v", err)
	}
}

// TestSignin: getSigninToken takes federation and role credentials as the
// Session JSON, refuses session credentials and SessionDuration with
// federation credentials, and login redirects to Destination.
func TestSignin(t *testing.T) {
	t.Parallel()
	s := ststest.NewServer(t, ststest.Options{})
	s.AddRole(ststest.Role{ARN: roleARN, MaxSessionDuration: 12 * time.Hour})
	user := userClient(t, s)
	role, err := user.AssumeRole(t.Context(), assume(roleARN, 0))
	if err != nil {
		t.Fatal(err)
	}
	fed, err := user.GetFederationToken(t.Context(), &sts.GetFederationTokenInput{Name: aws.String("fed")})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := user.GetSessionToken(t.Context(), &sts.GetSessionTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	chained, err := fromCreds(t, s, sess.Credentials).AssumeRole(t.Context(), assume(roleARN, 0))
	if err != nil {
		t.Fatal(err)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(q url.Values) (int, string, http.Header) {
		resp, err := noRedirect.Get(s.SigninURL + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	token := func(c *types.Credentials, duration string) (int, string) {
		session, _ := json.Marshal(map[string]string{"sessionId": aws.ToString(c.AccessKeyId),
			"sessionKey": aws.ToString(c.SecretAccessKey), "sessionToken": aws.ToString(c.SessionToken)})
		q := url.Values{"Action": {"getSigninToken"}, "Session": {string(session)}}
		if duration != "" {
			q.Set("SessionDuration", duration)
		}
		code, body, _ := get(q)
		return code, body
	}
	tests := []struct {
		name     string
		creds    *types.Credentials
		duration string
		want     int
	}{
		{"role", role.Credentials, "", 200},
		{"role 12h", role.Credentials, "43200", 200},
		{"role too long", role.Credentials, "43201", 400},
		{"federation", fed.Credentials, "", 200},
		{"federation with SessionDuration", fed.Credentials, "3600", 400},
		{"session", sess.Credentials, "", 400},
		{"chained 1h", chained.Credentials, "3600", 200},
		{"chained over 1h", chained.Credentials, "3601", 400},
		{"forged secret", &types.Credentials{AccessKeyId: role.Credentials.AccessKeyId, SecretAccessKey: aws.String("x"), SessionToken: role.Credentials.SessionToken}, "", 400},
	}
	var signinToken string
	for _, tt := range tests {
		code, body := token(tt.creds, tt.duration)
		if code != tt.want {
			t.Errorf("%s: getSigninToken = %d %s; want %d", tt.name, code, body, tt.want)
		}
		if code == 200 {
			var out struct{ SigninToken string }
			if err := json.Unmarshal([]byte(body), &out); err != nil || out.SigninToken == "" {
				t.Errorf("%s: body is not {\"SigninToken\":…}", tt.name)
			}
			signinToken = out.SigninToken
		}
	}
	reqs := s.SigninRequests()
	if r := reqs[0]; r.Action != "getSigninToken" || !r.SessionMatched || r.SessionKeyID != aws.ToString(role.Credentials.AccessKeyId) {
		t.Errorf("first SigninRequest = %+v; want the role's matched session", r)
	}
	const dest = "https://console.aws.amazon.com/ec2/home"
	code, _, hdr := get(url.Values{"Action": {"login"}, "Issuer": {"stsd"}, "Destination": {dest}, "SigninToken": {signinToken}})
	if code != http.StatusFound || hdr.Get("Location") != dest {
		t.Errorf("login = %d to %q; want 302 to %s", code, hdr.Get("Location"), dest)
	}
	if code, _, _ := get(url.Values{"Action": {"login"}, "Destination": {dest}, "SigninToken": {"forged"}}); code != 400 {
		t.Errorf("login with a forged token = %d; want 400", code)
	}
	last := s.SigninRequests()
	if r := last[len(last)-2]; r.Issuer != "stsd" || r.Destination != dest || !r.SigninToken {
		t.Errorf("login request = %+v", r)
	}
}
