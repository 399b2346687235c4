package stsclient

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

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
