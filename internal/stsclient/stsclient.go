// Package stsclient resolves a profile's long-term source key and makes the
// one STS call (GetSessionToken, GetFederationToken or AssumeRole) that a
// refresh is; it also builds console sign-in URLs.
package stsclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/processcreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/stsd/stsd/cache"
	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/mfa"
	"github.com/stsd/stsd/internal/paths"
	"github.com/stsd/stsd/internal/redact"
	"github.com/stsd/stsd/internal/shell"
	"github.com/stsd/stsd/internal/wire"
	"github.com/stsd/stsd/keys"
)

// DefaultTimeout bounds one STS call, including resolving the source key.
const DefaultTimeout = 30 * time.Second

// processTimeout bounds a source profile's credential_process, as the Go
// SDK's own default does.
const processTimeout = time.Minute

// Options configure a Client. Zero values mean defaults.
type Options struct {
	// HTTPClient sends STS requests (tests: an in-memory transport); nil
	// means the SDK's default client, which honours AWS_CA_BUNDLE and
	// proxy settings.
	HTTPClient aws.HTTPClient
	// APIs, when set, shares the STS API clients of the Clients given
	// the same APIs; nil: each Client builds its own.
	APIs *APIs
	// Timeout bounds each Fetch; default DefaultTimeout.
	Timeout time.Duration
	// Now is the clock used to stamp Issued; default time.Now.
	Now func() time.Time
	// Identities remembers GetCallerIdentity per source key (a
	// *cache.Store); nil means never ask.
	Identities Identities
	// Keys reads source keys kept in the keyring ([keys.NAME] store =
	// "keyring"); nil means a keys.Stores of the config, made on first
	// use.
	Keys KeyLoader
}

// KeyLoader reads a long-term key by name (a *keys.Stores).
type KeyLoader interface {
	Load(ctx context.Context, name string) (keys.Key, error)
}

// Identities stores what GetCallerIdentity said about each source key.
type Identities interface {
	LoadIdentity(keyID string) (*cache.Identity, error)
	SaveIdentity(keyID string, id *cache.Identity) error
}

// rootMaxDuration is the longest session STS grants an account root key;
// longer requests are silently shortened to it.
const rootMaxDuration = time.Hour

// Fetcher makes one STS call for a profile: *Client, or a test's fake.
type Fetcher interface {
	Fetch(ctx context.Context, req Request) (*Result, error)
}

// Client fetches credentials for one profile. It re-reads the source
// profile on every Fetch, so a rotated long-term key is used from the next
// refresh on. It is safe for concurrent use (the broker's clients of one
// profile share it).
type Client struct {
	cfg     *config.Config
	profile *config.Profile
	o       Options

	mu   sync.Mutex  // guards api and keys
	api  *sts.Client // built on first use
	keys KeyLoader   // Options.Keys, or made on first use
}

// New returns a Client for p, a profile of cfg.
func New(cfg *config.Config, p *config.Profile, o Options) *Client {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Client{cfg: cfg, profile: p, o: o}
}

// Request carries what a single refresh needs beyond the profile.
type Request struct {
	TokenCode string // MFA code; required when the profile has mfa_serial
	Client    string // broker client, for {client} names
	// Parent is the via_profile's current credentials, which sign a role
	// profile's AssumeRole; required for a role profile with via_profile.
	Parent *wire.Credentials
}

// Result is what one STS call returned.
type Result struct {
	Credentials      wire.Credentials
	Issued           time.Time // our clock when the response arrived
	ARN              string    // federated user or assumed-role ARN, or "" for session tokens
	PackedPolicySize int       // percent of the packed limit (federation), -1 if not reported
	SourceKeyID      string    // redacted source key id, for logs
	Root             bool      // the source key is the account root
	Warnings         []string  // things the caller should log (never secrets)
}

// Fetch makes exactly one STS call. The SDK's retryer is off
// (RetryMaxAttempts = 1): the caller's backoff is the only retry, so an MFA
// code is never sent twice and call counts stay exact.
func (c *Client) Fetch(ctx context.Context, req Request) (*Result, error) {
	p := c.profile
	if p.MFASerial != "" && req.TokenCode == "" {
		return nil, mfa.ErrNeeded
	}
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	if p.Mode == config.ModeRole {
		return c.assumeRole(ctx, req)
	}

	src, err := c.sourceCredentials(ctx)
	if err != nil {
		return nil, err
	}
	api, err := c.stsClient(ctx)
	if err != nil {
		return nil, err
	}
	res := &Result{SourceKeyID: redact.KeyID(src.AccessKeyID), PackedPolicySize: -1}
	duration := p.Duration
	id, err := c.identity(ctx, api, src)
	if err != nil {
		res.Warnings = append(res.Warnings, "could not look up the source key's identity: "+err.Error())
	}
	if id != nil && id.Root {
		res.Root = true
		if duration > rootMaxDuration {
			duration = rootMaxDuration
			res.Warnings = append(res.Warnings, fmt.Sprintf("source profile %q is the account root: STS allows root at most 1h, so duration %s is clamped to 1h (use an IAM user instead of root keys)", p.SourceProfile, p.Duration))
		}
	}
	seconds := aws.Int32(int32(duration / time.Second))
	var out *ststypes.Credentials
	switch p.Mode {
	case config.ModeFederation:
		in := FederationInput(p, req.Client)
		in.DurationSeconds = seconds
		o, err := api.GetFederationToken(ctx, in, withSource(src))
		if err != nil {
			return nil, &Error{Op: "GetFederationToken", Err: err, Hint: federationHint(err, p)}
		}
		out = o.Credentials
		if o.FederatedUser != nil {
			res.ARN = aws.ToString(o.FederatedUser.Arn)
		}
		if o.PackedPolicySize != nil {
			res.PackedPolicySize = int(*o.PackedPolicySize)
		}
	default:
		in := &sts.GetSessionTokenInput{DurationSeconds: seconds}
		if p.MFASerial != "" {
			in.SerialNumber = aws.String(p.MFASerial)
			in.TokenCode = aws.String(req.TokenCode)
		}
		o, err := api.GetSessionToken(ctx, in, withSource(src))
		if err != nil {
			return nil, &Error{Op: "GetSessionToken", Err: err, Hint: sessionHint(err, p)}
		}
		out = o.Credentials
	}
	if err := c.fill(res, out, opName(p.Mode)); err != nil {
		return nil, err
	}
	if res.Credentials.AccountID == "" {
		res.Credentials.AccountID = AccountFromARN(p.MFASerial)
	}
	if res.Credentials.AccountID == "" && id != nil {
		res.Credentials.AccountID = id.Account
	}
	return res, nil
}

// fill stamps res and copies out into it, refusing an answer without
// usable credentials.
func (c *Client) fill(res *Result, out *ststypes.Credentials, op string) error {
	res.Issued = c.o.Now().UTC()
	if out == nil || aws.ToString(out.AccessKeyId) == "" || aws.ToString(out.SecretAccessKey) == "" || out.Expiration == nil {
		return &Error{Op: op, Err: errNoCredentials}
	}
	res.Credentials = wire.Credentials{
		AccessKeyID:     aws.ToString(out.AccessKeyId),
		SecretAccessKey: aws.ToString(out.SecretAccessKey),
		SessionToken:    aws.ToString(out.SessionToken),
		Expiration:      out.Expiration.UTC().Truncate(time.Second),
		AccountID:       AccountFromARN(res.ARN),
	}
	return nil
}

// identity returns what GetCallerIdentity says about the source key,
// asking STS only the first time a key is seen (the answer is kept on
// disk, so restarts and later refreshes make no call).
func (c *Client) identity(ctx context.Context, api *sts.Client, src aws.Credentials) (*cache.Identity, error) {
	if c.o.Identities == nil {
		return nil, nil
	}
	keyID := src.AccessKeyID
	if id, err := c.o.Identities.LoadIdentity(keyID); err == nil {
		return id, nil
	}
	out, err := api.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}, withSource(src))
	if err != nil {
		return nil, &Error{Op: "GetCallerIdentity", Err: err}
	}
	arn := aws.ToString(out.Arn)
	id := &cache.Identity{Account: aws.ToString(out.Account), ARN: arn, Root: strings.HasSuffix(arn, ":root"), Checked: c.o.Now().UTC()}
	if id.Account == "" {
		id.Account = AccountFromARN(arn)
	}
	if err := c.o.Identities.SaveIdentity(keyID, id); err != nil {
		return id, fmt.Errorf("record identity: %w", err)
	}
	return id, nil
}

// KnownRoot reports, without any network call or running a source
// credential_process, whether p's static source key is known (from an
// earlier GetCallerIdentity) to be the account root.
func KnownRoot(ctx context.Context, cfg *config.Config, p *config.Profile, ids Identities) bool {
	sc, err := awsconfig.LoadSharedConfigProfile(ctx, p.SourceProfile, func(o *awsconfig.LoadSharedConfigOptions) {
		o.CredentialsFiles = []string{CredentialsFile(cfg)}
		o.ConfigFiles = []string{ConfigFile()}
	})
	if err != nil || !sc.Credentials.HasKeys() {
		return false
	}
	id, err := ids.LoadIdentity(sc.Credentials.AccessKeyID)
	return err == nil && id.Root
}

// RootWarnings are the lines `stsd check` prints for profiles whose
// source key an earlier run found to be the account root, when their
// duration is over the 1h STS grants root.
func RootWarnings(ctx context.Context, cfg *config.Config, ids Identities) []string {
	var out []string
	for _, name := range cfg.ProfileNames() {
		p := cfg.Profiles[name]
		if p.Duration > time.Hour && KnownRoot(ctx, cfg, p, ids) {
			out = append(out, fmt.Sprintf("%s:%d: profiles.%s: source profile %q is the account root: STS grants root at most 1h, so duration %s will be clamped to 1h", cfg.Path, p.Line, name, p.SourceProfile, p.Duration))
		}
	}
	return out
}

// federationHint says what to change after GetFederationToken refusals.
func federationHint(err error, p *config.Profile) string {
	switch Code(err) {
	case "PackedPolicyTooLarge", "PackedPolicyTooLargeException":
		return fmt.Sprintf("shrink profile %s's session policy (%d characters), policy_arns (%d) or tags (%d): STS packs all three into one size limit", p.Name, len(p.Policy), len(p.PolicyARNs), len(p.Tags))
	case "MalformedPolicyDocument", "MalformedPolicyDocumentException":
		return fmt.Sprintf("fix profile %s's session policy: STS rejected it as an IAM policy", p.Name)
	case "AccessDenied":
		if strings.Contains(err.Error(), "session credentials") {
			return "source_profile must hold an IAM user's long-term key"
		}
		return fmt.Sprintf("allow sts:GetFederationToken (and sts:TagSession when tags are set) for the IAM user of source profile %q", p.SourceProfile)
	}
	return ""
}

// sessionHint says what to change after GetSessionToken refusals.
func sessionHint(err error, p *config.Profile) string {
	if Code(err) == "AccessDenied" && strings.Contains(err.Error(), "MultiFactorAuthentication") {
		return fmt.Sprintf("the MFA code was rejected: check mfa_serial (%s) and the device's clock, then give a new code with `stsd mfa %s`", p.MFASerial, p.Name)
	}
	if Code(err) == "InvalidClientTokenId" {
		return fmt.Sprintf("the long-term key of source profile %q is unknown to AWS (deleted or rotated?): update it, then `stsd refresh %s`", p.SourceProfile, p.Name)
	}
	return ""
}

func opName(m config.Mode) string {
	if m == config.ModeFederation {
		return "GetFederationToken"
	}
	return "GetSessionToken"
}

// FederationInput builds the GetFederationToken request for p.
func FederationInput(p *config.Profile, client string) *sts.GetFederationTokenInput {
	in := &sts.GetFederationTokenInput{
		Name:            aws.String(strings.ReplaceAll(p.FederationName, "{client}", client)),
		DurationSeconds: aws.Int32(int32(p.Duration / time.Second)),
	}
	in.Policy, in.PolicyArns, in.Tags = sessionPolicies(p)
	return in
}

// sessionPolicies are p's inline session policy, managed session
// policies and session tags (tags in key order), as GetFederationToken
// and AssumeRole take them.
func sessionPolicies(p *config.Profile) (policy *string, arns []ststypes.PolicyDescriptorType, tags []ststypes.Tag) {
	if p.Policy != "" {
		policy = aws.String(p.Policy)
	}
	for _, arn := range p.PolicyARNs {
		arns = append(arns, ststypes.PolicyDescriptorType{Arn: aws.String(arn)})
	}
	for _, k := range sortedKeys(p.Tags) {
		tags = append(tags, ststypes.Tag{Key: aws.String(k), Value: aws.String(p.Tags[k])})
	}
	return policy, arns, tags
}

// sourceCredentials resolves the source profile from the shared files. Only
// long-term keys are accepted: static keys or another tool's
// credential_process; roles, SSO and web identity yield temporary
// credentials, which STS refuses for these calls.
func (c *Client) sourceCredentials(ctx context.Context) (aws.Credentials, error) {
	name := c.profile.SourceProfile
	if c.cfg.Key(name).Store == config.StoreKeyring {
		// Read at every refresh: a rotated key is used from the next one.
		k, err := c.keyLoader().Load(ctx, name)
		if err != nil {
			return aws.Credentials{}, fmt.Errorf("source profile %q: %w", name, err)
		}
		return aws.Credentials{AccessKeyID: k.ID, SecretAccessKey: k.Secret, Source: "stsd keyring"}, nil
	}
	// Checked before every read: a file others can write could name a
	// credential_process that would run as this user.
	if probs := c.cfg.SharedFileProblems(); len(probs) > 0 {
		return aws.Credentials{}, fmt.Errorf("source profile %q refused: %s", name, probs[0].Msg)
	}
	sc, err := awsconfig.LoadSharedConfigProfile(ctx, name, func(o *awsconfig.LoadSharedConfigOptions) {
		o.CredentialsFiles = []string{CredentialsFile(c.cfg)}
		o.ConfigFiles = []string{ConfigFile()}
	})
	if err != nil {
		var nf awsconfig.SharedConfigProfileNotExistError
		var ar awsconfig.SharedConfigAssumeRoleError
		if errors.As(err, &ar) {
			return aws.Credentials{}, errRoleSource(name)
		}
		if errors.As(err, &nf) {
			return aws.Credentials{}, fmt.Errorf("source profile %q not found in %s or %s: add its aws_access_key_id/aws_secret_access_key", name, CredentialsFile(c.cfg), ConfigFile())
		}
		return aws.Credentials{}, fmt.Errorf("source profile %q: %w", name, err)
	}
	var creds aws.Credentials
	switch {
	case sc.Credentials.HasKeys():
		creds = sc.Credentials
	case sc.CredentialProcess != "":
		creds, err = c.runProcess(ctx, sc.CredentialProcess)
		if err != nil {
			return aws.Credentials{}, fmt.Errorf("source profile %q credential_process: %w", name, err)
		}
	case sc.RoleARN != "" || sc.SSOSessionName != "" || sc.SSOStartURL != "" || sc.WebIdentityTokenFile != "":
		return aws.Credentials{}, errRoleSource(name)
	default:
		return aws.Credentials{}, fmt.Errorf("source profile %q has no credentials: add aws_access_key_id and aws_secret_access_key to %s", name, CredentialsFile(c.cfg))
	}
	if creds.SessionToken != "" || strings.HasPrefix(creds.AccessKeyID, "ASIA") {
		return aws.Credentials{}, fmt.Errorf("source profile %q yields temporary credentials (%s): STS refuses GetSessionToken/GetFederationToken with session credentials; use an IAM user's long-term key (AKIA…)", name, redact.KeyID(creds.AccessKeyID))
	}
	return creds, nil
}

func (c *Client) keyLoader() KeyLoader {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil {
		c.keys = c.o.Keys
	}
	if c.keys == nil {
		c.keys = keys.New(c.cfg, keys.Options{Now: c.o.Now})
	}
	return c.keys
}

func errRoleSource(name string) error {
	return fmt.Errorf("source profile %q uses a role, SSO or web identity: those yield temporary credentials, and STS needs an IAM user's long-term key (AKIA…) for GetSessionToken/GetFederationToken", name)
}

func (c *Client) runProcess(ctx context.Context, command string) (aws.Credentials, error) {
	p := processcreds.NewProviderCommand(processcreds.NewCommandBuilderFunc(func(ctx context.Context) (*exec.Cmd, error) {
		cmd := shell.Command(ctx, command)
		cmd.Env = append(wire.ChildEnv(os.Environ()), wire.ResolvingEnv+"=1")
		cmd.Stderr = os.Stderr
		return cmd, nil
	}), func(o *processcreds.Options) { o.Timeout = processTimeout })
	creds, err := p.Retrieve(ctx)
	if err != nil {
		// processcreds may quote the process's stdout in its errors; keep
		// only our own words.
		var pe *processcreds.ProviderError
		if errors.As(err, &pe) {
			return aws.Credentials{}, errors.New("the command failed or printed invalid output")
		}
		return aws.Credentials{}, errors.New("the command failed")
	}
	return creds, nil
}

// stsClient builds the STS client once, or takes the one its APIs share
// with the profiles reaching STS the same way: loading the SDK config
// parses AWS_CA_BUNDLE and the shared files, milliseconds of CPU that every
// refresh (and every broker client) would otherwise pay again, and each
// client keeps its own pool of connections. The source key is passed per
// call (withSource), so a rotated key still applies at once.
func (c *Client) stsClient(ctx context.Context) (*sts.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.api != nil {
		return c.api, nil
	}
	build := func() (*sts.Client, error) { return c.newAPI(ctx) }
	var err error
	if c.o.APIs == nil {
		c.api, err = build()
		return c.api, err
	}
	k := apiKey{region: c.profile.Region, sourceProfile: c.profile.SourceProfile,
		keyring:         c.cfg.Key(c.profile.SourceProfile).Store == config.StoreKeyring,
		credentialsFile: CredentialsFile(c.cfg), cfgFile: ConfigFile()}
	c.api, err = c.o.APIs.get(k, build)
	return c.api, err
}

// newAPI builds an STS API client for the profile's region and source.
func (c *Client) newAPI(ctx context.Context) (*sts.Client, error) {
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(c.profile.Region),
		awsconfig.WithCredentialsProvider(aws.AnonymousCredentials{}), // replaced per call
		awsconfig.WithRetryMaxAttempts(1),
		awsconfig.WithSharedConfigFiles([]string{ConfigFile()}),
		awsconfig.WithSharedCredentialsFiles([]string{CredentialsFile(c.cfg)}),
	}
	if c.cfg.Key(c.profile.SourceProfile).Store != config.StoreKeyring {
		// A keyring key has no section in the shared files.
		opts = append(opts, awsconfig.WithSharedConfigProfile(c.profile.SourceProfile))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	return sts.NewFromConfig(awsCfg, func(o *sts.Options) {
		if c.o.HTTPClient != nil {
			o.HTTPClient = c.o.HTTPClient
		}
	}), nil
}

// withSource signs one call with src: the long-term source key, or a
// parent profile's temporary credentials.
func withSource(src aws.Credentials) func(*sts.Options) {
	return func(o *sts.Options) { o.Credentials = credentials.StaticCredentialsProvider{Value: src} }
}

// CredentialsFile is the shared credentials file stsd reads
// (paths.AWSCredentialsFile).
func CredentialsFile(cfg *config.Config) string {
	if cfg == nil {
		return paths.AWSCredentialsFile("")
	}
	return paths.AWSCredentialsFile(cfg.CredentialsFile)
}

// ConfigFile is the AWS shared config file (paths.AWSConfigFile).
func ConfigFile() string { return paths.AWSConfigFile() }

// AccountFromARN returns the account id of an IAM/STS ARN, or "".
func AccountFromARN(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" || len(parts[4]) != 12 {
		return ""
	}
	if _, err := strconv.ParseUint(parts[4], 10, 64); err != nil {
		return ""
	}
	return parts[4]
}

// Error is a failed STS call. Its text carries STS's error code and message
// (which hold no secrets), never a raw response body.
type Error struct {
	Op   string
	Err  error
	Hint string // what to do, when known
}

func (e *Error) Error() string {
	if e.Hint != "" {
		return e.text() + ": " + e.Hint
	}
	return e.text()
}

func (e *Error) text() string {
	var ae smithy.APIError
	if errors.As(e.Err, &ae) && ae.ErrorCode() != unknownCode {
		code := oneLine(ae.ErrorCode(), maxCode)
		msg := oneLine(ae.ErrorMessage(), maxMessage)
		if msg == "" {
			return fmt.Sprintf("%s: %s", e.Op, code)
		}
		return fmt.Sprintf("%s: %s: %s", e.Op, code, msg)
	}
	switch reason, _ := classify(e.Err); {
	case reason == "timeout":
		return e.Op + ": timed out"
	case reason == "malformed_response" && errors.Is(e.Err, errNoCredentials):
		return e.Op + ": malformed response from STS: it holds no credentials"
	case reason == "malformed_response":
		return e.Op + ": malformed response from STS"
	case reason == "network":
		var oe *net.OpError
		if errors.As(e.Err, &oe) && oe.Err != nil {
			return fmt.Sprintf("%s: network error: %s %v", e.Op, oe.Op, oe.Err)
		}
		return fmt.Sprintf("%s: network error", e.Op)
	case strings.HasPrefix(reason, "http_"):
		s := fmt.Sprintf("%s: HTTP %s", e.Op, strings.TrimPrefix(reason, "http_"))
		if ae != nil {
			if msg := oneLine(ae.ErrorMessage(), maxMessage); msg != "" && msg != unknownCode {
				s += ": " + msg
			}
		}
		return s
	}
	return fmt.Sprintf("%s: %v", e.Op, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// unknownCode is the code the SDK gives an error answer whose body names
// none (a proxy's HTML page, an empty 5xx): its HTTP status says more.
const unknownCode = "UnknownError"

// errNoCredentials is a successful answer without usable credentials.
var errNoCredentials = errors.New("response has no credentials")

// What of an STS error answer reaches error texts, status, logs and
// metric labels: STS's codes are short identifiers and its messages one
// sentence, but the body is whatever the network delivered.
const (
	maxCode    = 64
	maxMessage = 512
)

// oneLine makes s one line of at most n bytes: control characters become
// spaces and the rest is cut (on a UTF-8 boundary) with an ellipsis.
func oneLine(s string, n int) string {
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD")))
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Code is the STS error code of err ("" when it is not an STS API error).
func Code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// Retryable reports whether err is worth retrying soon: throttling, 5xx,
// timeouts, network errors and garbled responses. Permission and
// validation errors are not: they need a change (a new key, config or MFA
// code) first.
func Retryable(err error) bool {
	_, r := classify(err)
	return r
}

// Reason is a short, stable label for err, for metrics and status.
func Reason(err error) string {
	r, _ := classify(err)
	return r
}

var retryableCodes = map[string]bool{
	"Throttling": true, "ThrottlingException": true, "RequestLimitExceeded": true,
	"TooManyRequestsException": true, "InternalFailure": true, "InternalError": true,
	"ServiceUnavailable": true, "ServiceUnavailableException": true, "RequestTimeout": true,
}

// label reports whether code can stand as a reason label: a short
// identifier, as every STS error code is.
func label(code string) bool {
	if len(code) > maxCode {
		return false
	}
	for _, c := range []byte(code) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// classify is the one place that sorts errors: it drives backoff, status
// and error text alike.
func classify(err error) (reason string, retryable bool) {
	if err == nil {
		return "", false
	}
	if errors.Is(err, mfa.ErrNeeded) {
		return "needs_mfa", false
	}
	if code := Code(err); code != "" && code != unknownCode {
		if !label(code) {
			// Not an STS code: keep metric labels and status short.
			return "sts_error", retryableCodes[code]
		}
		return code, retryableCodes[code]
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout", true
	}
	var de *smithy.DeserializationError
	if errors.As(err, &de) {
		return "malformed_response", true
	}
	var ne net.Error
	var errno syscall.Errno
	if errors.As(err, &ne) || errors.As(err, &errno) {
		return "network", true
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() != 0 {
		s := re.HTTPStatusCode()
		return "http_" + strconv.Itoa(s), s >= 500 || s == http.StatusTooManyRequests
	}
	if errors.Is(err, errNoCredentials) {
		return "malformed_response", true
	}
	if Code(err) == unknownCode {
		return "sts_error", false // an error answer without a code or status
	}
	var se *Error
	if errors.As(err, &se) {
		return "network", true // any other transport failure
	}
	return "source", false
}
