package stsclient

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/redact"
)

// ErrNoParent is a role profile's Fetch without its via_profile's
// credentials.
var ErrNoParent = errors.New("no credentials from via_profile yet")

// assumeRole makes a role profile's AssumeRole call, signed with the
// parent's current credentials (via_profile) or with the long-term source
// key, which then also carries the MFA code.
func (c *Client) assumeRole(ctx context.Context, req Request) (*Result, error) {
	p := c.profile
	var caller aws.Credentials
	if p.ViaProfile != "" {
		if req.Parent == nil {
			return nil, fmt.Errorf("profile %q: %w (profile %q)", p.Name, ErrNoParent, p.ViaProfile)
		}
		caller = aws.Credentials{AccessKeyID: req.Parent.AccessKeyID, SecretAccessKey: req.Parent.SecretAccessKey, SessionToken: req.Parent.SessionToken}
	} else {
		src, err := c.sourceCredentials(ctx)
		if err != nil {
			return nil, err
		}
		caller = src
	}
	api, err := c.stsClient(ctx)
	if err != nil {
		return nil, err
	}
	in := RoleInput(p)
	if p.MFASerial != "" {
		in.SerialNumber, in.TokenCode = aws.String(p.MFASerial), aws.String(req.TokenCode)
	}
	out, err := api.AssumeRole(ctx, in, withSource(caller))
	if err != nil {
		return nil, &Error{Op: "AssumeRole", Err: err, Hint: roleHint(err, c.cfg, p)}
	}
	res := &Result{SourceKeyID: redact.KeyID(caller.AccessKeyID), PackedPolicySize: -1}
	if out.AssumedRoleUser != nil {
		res.ARN = aws.ToString(out.AssumedRoleUser.Arn)
	}
	if out.PackedPolicySize != nil {
		res.PackedPolicySize = int(*out.PackedPolicySize)
	}
	if err := c.fill(res, out.Credentials, "AssumeRole"); err != nil {
		return nil, err
	}
	if res.Credentials.AccountID == "" {
		res.Credentials.AccountID = AccountFromARN(p.RoleARN)
	}
	return res, nil
}

// RoleInput builds the AssumeRole request for p, without the MFA code.
func RoleInput(p *config.Profile) *sts.AssumeRoleInput {
	in := &sts.AssumeRoleInput{
		RoleArn:         aws.String(p.RoleARN),
		RoleSessionName: aws.String(p.RoleSessionName),
		DurationSeconds: aws.Int32(int32(p.Duration / time.Second)),
	}
	if p.ExternalID != "" {
		in.ExternalId = aws.String(p.ExternalID)
	}
	if p.SourceIdentity != "" {
		in.SourceIdentity = aws.String(p.SourceIdentity)
	}
	in.Policy, in.PolicyArns, in.Tags = sessionPolicies(p)
	in.TransitiveTagKeys = append(in.TransitiveTagKeys, p.TransitiveTagKeys...)
	return in
}

// roleHint says what to change after an AssumeRole refusal.
func roleHint(err error, cfg *config.Config, p *config.Profile) string {
	msg := err.Error()
	switch code := Code(err); {
	case code == "ValidationError" && strings.Contains(msg, "MaxSessionDuration"):
		return fmt.Sprintf("duration %s is longer than the MaxSessionDuration of role %s (1h unless raised in IAM): shorten duration in profile %s, or raise the role's maximum session duration", p.Duration, p.RoleARN, p.Name)
	case code == "ValidationError" && strings.Contains(msg, "role chaining"):
		return fmt.Sprintf("AWS caps a role assumed with temporary credentials at 1h: set duration in profile %s to 1h or less, or assume the role with source_profile (the long-term key)", p.Name)
	case code == "AccessDenied" && strings.Contains(msg, "MultiFactorAuthentication"):
		return fmt.Sprintf("the MFA code was rejected: check mfa_serial (%s) and the device's clock, then give a new code with `stsd mfa %s`", p.MFASerial, p.Name)
	case code == "AccessDenied" && strings.Contains(msg, "root accounts"):
		return fmt.Sprintf("source profile %q holds the account root's key, which cannot assume roles: use an IAM user's key", p.SourceProfile)
	case code == "AccessDenied":
		return "STS gives the same AccessDenied for each of these, so check them in turn: " + strings.Join(deniedCauses(cfg, p), "; ")
	case code == "ExpiredToken" && p.ViaProfile != "":
		return fmt.Sprintf("the credentials of via_profile %q expired: `stsd refresh %s`", p.ViaProfile, p.ViaProfile)
	case code == "InvalidClientTokenId" && p.ViaProfile == "":
		return fmt.Sprintf("the long-term key of source profile %q is unknown to AWS (deleted or rotated?): update it, then `stsd refresh %s`", p.SourceProfile, p.Name)
	}
	return ""
}

// deniedCauses lists why AssumeRole may be denied, led by what p's config
// lacks (an ExternalId, MFA anywhere on its chain).
func deniedCauses(cfg *config.Config, p *config.Profile) []string {
	var out []string
	if p.ExternalID == "" {
		out = append(out, "the trust policy may require an ExternalId (set external_id)")
	}
	if root := chainRoot(cfg, p); root.MFASerial == "" {
		out = append(out, fmt.Sprintf("the trust policy may require MFA (set mfa_serial on profile %s)", root.Name))
	}
	if p.ExternalID != "" {
		out = append(out, "external_id may not be the one the trust policy expects")
	}
	caller := fmt.Sprintf("the IAM user of source profile %q", p.SourceProfile)
	if p.ViaProfile != "" {
		caller = fmt.Sprintf("the identity of via_profile %q", p.ViaProfile)
	}
	out = append(out,
		fmt.Sprintf("the trust policy of %s may not name %s", p.RoleARN, caller),
		fmt.Sprintf("%s may lack sts:AssumeRole on it", caller))
	if len(p.Tags) > 0 {
		out = append(out, "tags need sts:TagSession in the trust policy")
	}
	if p.SourceIdentity != "" {
		out = append(out, "source_identity needs sts:SetSourceIdentity in the trust policy")
	}
	return out
}

// chainRoot is the profile at the end of p's via_profile chain: the one
// that signs with the long-term key.
func chainRoot(cfg *config.Config, p *config.Profile) *config.Profile {
	for i := 0; cfg != nil && p.ViaProfile != "" && i <= len(cfg.Profiles); i++ {
		next := cfg.Profiles[p.ViaProfile]
		if next == nil {
			break
		}
		p = next
	}
	return p
}
