package stsclient

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/stsd/stsd/keys"
)

// iamRegion signs IAM calls: IAM is global, its endpoint in us-east-1
// (AWS_ENDPOINT_URL_IAM overrides the endpoint, as for every SDK).
const iamRegion = "us-east-1"

// mfaSessionDuration is the life of the GetSessionToken session a
// rotation makes for IAM when MFA is required: one rotation call.
const mfaSessionDuration = time.Hour

// CloudOptions configure a Cloud. Zero values mean defaults.
type CloudOptions struct {
	HTTPClient aws.HTTPClient // nil: the SDK's default client
	Region     string         // STS region; default us-east-1
	Timeout    time.Duration  // bounds each call; default DefaultTimeout
}

// Cloud makes the calls a key rotation needs, each signed with the key
// it is given (never a shared profile's): GetCallerIdentity,
// GetSessionToken with MFA, and IAM's access-key calls. The SDK's
// retryer is off: CreateAccessKey must never be sent twice.
type Cloud struct {
	o CloudOptions

	mu  sync.Mutex // guards the clients
	sts *sts.Client
	iam *iam.Client
}

// NewCloud returns a Cloud.
func NewCloud(o CloudOptions) *Cloud {
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return &Cloud{o: o}
}

func (c *Cloud) clients(ctx context.Context) (*sts.Client, *iam.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sts != nil {
		return c.sts, c.iam, nil
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx,
		awsconfig.WithRegion(c.o.Region),
		awsconfig.WithCredentialsProvider(aws.AnonymousCredentials{}), // replaced per call
		awsconfig.WithRetryMaxAttempts(1),
		awsconfig.WithSharedConfigFiles([]string{ConfigFile()}),
		awsconfig.WithSharedCredentialsFiles([]string{}),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("aws config: %w", err)
	}
	c.sts = sts.NewFromConfig(awsCfg, func(o *sts.Options) {
		if c.o.HTTPClient != nil {
			o.HTTPClient = c.o.HTTPClient
		}
	})
	c.iam = iam.NewFromConfig(awsCfg, func(o *iam.Options) {
		o.Region = iamRegion
		if c.o.HTTPClient != nil {
			o.HTTPClient = c.o.HTTPClient
		}
	})
	return c.sts, c.iam, nil
}

func static(k keys.Key) aws.Credentials {
	return aws.Credentials{AccessKeyID: k.ID, SecretAccessKey: k.Secret, Source: "stsd"}
}

// Identity makes one GetCallerIdentity signed with k.
func (c *Cloud) Identity(ctx context.Context, k keys.Key) (string, error) {
	api, _, err := c.clients(ctx)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	out, err := api.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}, withSource(static(k)))
	if err != nil {
		return "", &Error{Op: "GetCallerIdentity", Err: err}
	}
	return aws.ToString(out.Arn), nil
}

// IAM returns the access-key calls of user signed with k, or with a
// GetSessionToken session made with k and a code for m.Serial: a user
// whose policy demands MFA can call IAM only so. Federation credentials
// can never call IAM, so they are never used here.
func (c *Cloud) IAM(ctx context.Context, k keys.Key, user string, m keys.MFA) (keys.IAM, error) {
	stsAPI, iamAPI, err := c.clients(ctx)
	if err != nil {
		return nil, err
	}
	creds := static(k)
	if m.Serial != "" {
		if m.Code == nil {
			return nil, fmt.Errorf("IAM needs an MFA code from %s and none can be had", m.Serial)
		}
		code, err := m.Code(ctx)
		if err != nil {
			return nil, fmt.Errorf("MFA code for IAM: %w", err)
		}
		cctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
		defer cancel()
		out, err := stsAPI.GetSessionToken(cctx, &sts.GetSessionTokenInput{
			DurationSeconds: aws.Int32(int32(mfaSessionDuration / time.Second)),
			SerialNumber:    aws.String(m.Serial), TokenCode: aws.String(code),
		}, withSource(creds))
		if err != nil {
			return nil, &Error{Op: "GetSessionToken", Err: err, Hint: "the MFA session for IAM was refused: check mfa_serial and the code"}
		}
		cr := out.Credentials
		creds = aws.Credentials{AccessKeyID: aws.ToString(cr.AccessKeyId), SecretAccessKey: aws.ToString(cr.SecretAccessKey), SessionToken: aws.ToString(cr.SessionToken), Source: "stsd"}
	}
	return &userIAM{api: iamAPI, user: user, creds: creds, timeout: c.o.Timeout}, nil
}

// userIAM is IAM for one user, signed with one set of credentials.
type userIAM struct {
	api     *iam.Client
	user    string
	creds   aws.Credentials
	timeout time.Duration
}

func (u *userIAM) sign(o *iam.Options) {
	o.Credentials = credentials.StaticCredentialsProvider{Value: u.creds}
}

func (u *userIAM) call(ctx context.Context, op string, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, u.timeout)
	defer cancel()
	if err := f(ctx); err != nil {
		e := &Error{Op: "iam:" + op, Err: err}
		if Code(err) == "AccessDenied" {
			e.Hint = "allow iam:" + op + " on the user itself (arn:aws:iam::*:user/${aws:username}); if its policy demands MFA, set mfa_serial in [keys.NAME]"
		}
		return e
	}
	return nil
}

func (u *userIAM) CreateAccessKey(ctx context.Context) (keys.Key, error) {
	var k keys.Key
	err := u.call(ctx, "CreateAccessKey", func(ctx context.Context) error {
		out, err := u.api.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(u.user)}, u.sign)
		if err == nil {
			if out.AccessKey == nil || aws.ToString(out.AccessKey.AccessKeyId) == "" || aws.ToString(out.AccessKey.SecretAccessKey) == "" {
				return errors.New("the answer holds no key")
			}
			k = keys.Key{ID: aws.ToString(out.AccessKey.AccessKeyId), Secret: aws.ToString(out.AccessKey.SecretAccessKey)}
		}
		return err
	})
	return k, err
}

func (u *userIAM) UpdateAccessKey(ctx context.Context, id string, active bool) error {
	st := iamtypes.StatusTypeInactive
	if active {
		st = iamtypes.StatusTypeActive
	}
	return u.call(ctx, "UpdateAccessKey", func(ctx context.Context) error {
		_, err := u.api.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(u.user), AccessKeyId: aws.String(id), Status: st}, u.sign)
		return err
	})
}

func (u *userIAM) DeleteAccessKey(ctx context.Context, id string) error {
	return u.call(ctx, "DeleteAccessKey", func(ctx context.Context) error {
		_, err := u.api.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(u.user), AccessKeyId: aws.String(id)}, u.sign)
		return err
	})
}

func (u *userIAM) ListAccessKeys(ctx context.Context) ([]keys.AccessKey, error) {
	var out []keys.AccessKey
	err := u.call(ctx, "ListAccessKeys", func(ctx context.Context) error {
		res, err := u.api.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(u.user)}, u.sign)
		if err != nil {
			return err
		}
		for _, m := range res.AccessKeyMetadata {
			out = append(out, keys.AccessKey{ID: aws.ToString(m.AccessKeyId), Active: m.Status == iamtypes.StatusTypeActive, Created: aws.ToTime(m.CreateDate)})
		}
		return nil
	})
	return out, err
}

func (u *userIAM) LastUsed(ctx context.Context, id string) (time.Time, error) {
	var t time.Time
	err := u.call(ctx, "GetAccessKeyLastUsed", func(ctx context.Context) error {
		res, err := u.api.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(id)}, u.sign)
		if err == nil && res.AccessKeyLastUsed != nil {
			t = aws.ToTime(res.AccessKeyLastUsed.LastUsedDate)
		}
		return err
	})
	return t, err
}

// SourceOptions name a long-term key in the shared files, for IAM calls
// made with it outside any stsd profile (stsd init).
type SourceOptions struct {
	Profile         string // the shared-file profile holding the key
	CredentialsFile string // "" = paths.AWSCredentialsFile("")
	// HTTPClient sends the request; nil = the SDK's default client.
	HTTPClient aws.HTTPClient
}

// MFADevices lists the serial numbers (ARNs of virtual devices) of the
// MFA devices of the IAM user whose key o names: one iam:ListMFADevices
// call, signed with that key. IAM refuses it (AccessDenied) unless the
// user's policies allow it, which many do only with MFA.
func MFADevices(ctx context.Context, o SourceOptions) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	defer cancel()
	creds := o.CredentialsFile
	if creds == "" {
		creds = CredentialsFile(nil)
	}
	sc, err := awsconfig.LoadSharedConfigProfile(ctx, o.Profile, func(lo *awsconfig.LoadSharedConfigOptions) {
		lo.CredentialsFiles = []string{creds}
		lo.ConfigFiles = []string{ConfigFile()}
	})
	if err != nil {
		return nil, fmt.Errorf("source profile %q: %w", o.Profile, err)
	}
	if !sc.Credentials.HasKeys() || sc.Credentials.SessionToken != "" {
		return nil, fmt.Errorf("source profile %q holds no long-term key in %s", o.Profile, creds)
	}
	// Only this key signs: the environment's keys and other profiles stay out.
	cfg, err := awsconfig.LoadDefaultConfig(ctx,
		awsconfig.WithRegion("us-east-1"), // IAM is global; its endpoint signs for us-east-1
		awsconfig.WithRetryMaxAttempts(1),
		awsconfig.WithSharedConfigFiles([]string{ConfigFile()}),
		awsconfig.WithSharedCredentialsFiles([]string{creds}),
		awsconfig.WithSharedConfigProfile(o.Profile),
		awsconfig.WithCredentialsProvider(credentials.StaticCredentialsProvider{Value: sc.Credentials}),
	)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	api := iam.NewFromConfig(cfg, func(io *iam.Options) {
		if o.HTTPClient != nil {
			io.HTTPClient = o.HTTPClient
		}
	})
	out, err := api.ListMFADevices(ctx, &iam.ListMFADevicesInput{})
	if err != nil {
		return nil, &Error{Op: "ListMFADevices", Err: err}
	}
	serials := make([]string, 0, len(out.MFADevices))
	for _, d := range out.MFADevices {
		serials = append(serials, aws.ToString(d.SerialNumber))
	}
	return serials, nil
}
