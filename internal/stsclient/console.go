package stsclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/wire"
)

// The console sign-in endpoints and console home pages per partition (IAM
// User Guide, "Enable custom identity broker access to the AWS console").
var signin = map[string]struct{ endpoint, console string }{
	"aws":        {"https://signin.aws.amazon.com/federation", "https://console.aws.amazon.com/"},
	"aws-cn":     {"https://signin.amazonaws.cn/federation", "https://console.amazonaws.cn/"},
	"aws-us-gov": {"https://signin.amazonaws-us-gov.com/federation", "https://console.amazonaws-us-gov.com/"},
}

// DefaultIssuer is the Issuer of the login URLs stsd builds: the console
// sends a user whose session ends there.
const DefaultIssuer = "stsd"

// signinTimeout bounds the getSigninToken call.
const signinTimeout = 30 * time.Second

// maxSigninBody bounds what is read of a getSigninToken answer.
const maxSigninBody = 64 << 10

// ConsoleOptions configure SigninURL. Zero values mean defaults.
type ConsoleOptions struct {
	// Endpoint is the sign-in federation endpoint; default the
	// partition's (config signin_endpoint overrides it).
	Endpoint string
	// Partition picks the default endpoint and destination; default aws.
	Partition string
	// Destination is the console page to open; default the partition's
	// console home.
	Destination string
	// Issuer is where the console sends a user whose session ended;
	// default DefaultIssuer.
	Issuer string
	// SessionDuration is the console session's length, sent only when set:
	// the endpoint refuses it with federation credentials.
	SessionDuration time.Duration
	// HTTPClient sends the request; default one with signinTimeout.
	HTTPClient *http.Client
}

// SigninURL trades c (federation or assume-role credentials: the endpoint
// accepts no others) for a sign-in token and returns the console login URL.
// The URL is a secret, valid 15 minutes: callers print it to stdout or hand
// it to a browser, never to a log.
func SigninURL(ctx context.Context, c wire.Credentials, o ConsoleOptions) (string, error) {
	if o.Partition == "" {
		o.Partition = "aws"
	}
	def, known := signin[o.Partition]
	if o.Endpoint == "" {
		if !known {
			return "", fmt.Errorf("partition %s has no known console sign-in endpoint: set signin_endpoint in the config", o.Partition)
		}
		o.Endpoint = def.endpoint
	}
	if o.Destination == "" {
		if !known {
			return "", fmt.Errorf("partition %s has no known console: pass --destination", o.Partition)
		}
		o.Destination = def.console
	}
	if o.Issuer == "" {
		o.Issuer = DefaultIssuer
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: signinTimeout}
	}
	token, err := signinToken(ctx, c, o)
	if err != nil {
		return "", err
	}
	q := url.Values{"Action": {"login"}, "Issuer": {o.Issuer}, "Destination": {o.Destination}, "SigninToken": {token}}
	return o.Endpoint + "?" + q.Encode(), nil
}

// signinToken is the getSigninToken call: a GET with the session JSON, as
// the IAM User Guide's examples send it.
func signinToken(ctx context.Context, c wire.Credentials, o ConsoleOptions) (string, error) {
	session, err := json.Marshal(struct {
		ID    string `json:"sessionId"`
		Key   string `json:"sessionKey"`
		Token string `json:"sessionToken"`
	}{c.AccessKeyID, c.SecretAccessKey, c.SessionToken})
	if err != nil {
		return "", err
	}
	q := url.Values{"Action": {"getSigninToken"}, "Session": {string(session)}}
	if o.SessionDuration > 0 {
		q.Set("SessionDuration", strconv.Itoa(int(o.SessionDuration/time.Second)))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.Endpoint+"?"+q.Encode(), nil)
	if err != nil {
		return "", fmt.Errorf("sign-in endpoint %s: %w", o.Endpoint, err)
	}
	resp, err := o.HTTPClient.Do(req)
	if err != nil {
		// The request URL holds the session: name only the endpoint.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("getSigninToken at %s: %v", o.Endpoint, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSigninBody))
	if err != nil {
		return "", fmt.Errorf("getSigninToken at %s: %v", o.Endpoint, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("getSigninToken at %s: HTTP %d%s", o.Endpoint, resp.StatusCode, signinReason(body, c))
	}
	token, err := ParseSigninToken(body)
	if err != nil {
		return "", fmt.Errorf("getSigninToken at %s: %w", o.Endpoint, err)
	}
	return token, nil
}

// ParseSigninToken reads a getSigninToken answer, {"SigninToken":"…"}.
func ParseSigninToken(body []byte) (string, error) {
	var out struct{ SigninToken string }
	if err := json.Unmarshal(body, &out); err != nil || out.SigninToken == "" {
		return "", errors.New(`the answer is not {"SigninToken":…}`)
	}
	if strings.ContainsAny(out.SigninToken, "\x00\r\n") {
		return "", errors.New("the sign-in token holds control characters")
	}
	return out.SigninToken, nil
}

// signinReason is ": " + a short plain-text error body, or "" when it is
// long, not text, or echoes any part of the session.
func signinReason(body []byte, c wire.Credentials) string {
	s := oneLine(string(body), 200)
	if s == "" || strings.ContainsAny(s, "<{") || strings.Contains(s, "…") {
		return ""
	}
	for _, v := range []string{c.AccessKeyID, c.SecretAccessKey, c.SessionToken} {
		if v != "" && strings.Contains(s, v) {
			return ""
		}
	}
	return ": " + s
}

// ConsoleCredentials makes the GetFederationToken a session profile's
// console sign-in uses (the sign-in endpoint accepts no GetSessionToken
// credentials): with the long-term key, Name console_name and
// console_policy_arns, for duration. GetFederationToken takes no MFA
// code, so the console session carries no MFA context.
func (c *Client) ConsoleCredentials(ctx context.Context, duration time.Duration) (wire.Credentials, error) {
	p := c.profile
	if p.Mode != config.ModeSession {
		return wire.Credentials{}, fmt.Errorf("profile %s is a %s profile: it signs in with its own credentials", p.Name, p.Mode)
	}
	if p.ConsoleName == "" {
		return wire.Credentials{}, fmt.Errorf("profile %s: the default console name {user} is not a federated user name (2..32 of letters, digits and _+=,.@-): set console_name", p.Name)
	}
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	src, err := c.sourceCredentials(ctx)
	if err != nil {
		return wire.Credentials{}, err
	}
	api, err := c.stsClient(ctx)
	if err != nil {
		return wire.Credentials{}, err
	}
	in := &sts.GetFederationTokenInput{Name: aws.String(p.ConsoleName), DurationSeconds: aws.Int32(int32(duration / time.Second))}
	for _, arn := range p.ConsolePolicyARNs {
		in.PolicyArns = append(in.PolicyArns, ststypes.PolicyDescriptorType{Arn: aws.String(arn)})
	}
	out, err := api.GetFederationToken(ctx, in, withSource(src))
	if err != nil {
		return wire.Credentials{}, &Error{Op: "GetFederationToken", Err: err, Hint: consoleHint(err, p)}
	}
	res := &Result{}
	if err := c.fill(res, out.Credentials, "GetFederationToken"); err != nil {
		return wire.Credentials{}, err
	}
	return res.Credentials, nil
}

// consoleHint says what to do when the console's GetFederationToken is
// refused.
func consoleHint(err error, p *config.Profile) string {
	if Code(err) != "AccessDenied" {
		return federationHint(err, p)
	}
	return fmt.Sprintf("a session profile signs in to the console through GetFederationToken, which takes no MFA code: an IAM user whose policies deny actions without MFA (or do not allow sts:GetFederationToken) cannot sign in this way; add a role profile (mode = \"role\", via_profile = %q) and run `stsd console` with it", p.Name)
}
