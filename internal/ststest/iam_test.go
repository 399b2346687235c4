package ststest_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"

	"github.com/stsd/stsd/internal/ststest"
)

func iamClient(s *ststest.Server, id string) *iam.Client {
	return iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.URL), HTTPClient: http.DefaultClient, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(id, "secretsecretsecretsecretsecretsecret0000", "")})
}

// TestIAMAccessKeys drives the stand-in's IAM with the real SDK: its XML
// answers and IAM's error shapes parse as the SDK expects, and keys it
// makes work for STS.
func TestIAMAccessKeys(t *testing.T) {
	t.Parallel()
	s := ststest.NewServer(t, ststest.Options{})
	s.AddAccessKey("AKIAFAKEFIRSTKEY0001")
	ctx := context.Background()
	c := iamClient(s, "AKIAFAKEFIRSTKEY0001")
	user := aws.String(ststest.DefaultUserName)
	out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: user})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.AccessKey.AccessKeyId)
	if aws.ToString(out.AccessKey.SecretAccessKey) == "" || out.AccessKey.CreateDate == nil || out.AccessKey.Status != "Active" {
		t.Errorf("CreateAccessKey = %+v", out.AccessKey)
	}
	_, err = c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: user})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "LimitExceeded" || ae.ErrorMessage() != "Cannot exceed quota for AccessKeysPerUser: 2" {
		t.Errorf("third key = %v; want LimitExceeded", err)
	}
	list, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: user})
	if err != nil || len(list.AccessKeyMetadata) != 2 {
		t.Fatalf("ListAccessKeys = %+v, %v", list, err)
	}
	if _, err := iamClient(s, id).GetUser(ctx, &iam.GetUserInput{}); err != nil {
		t.Errorf("GetUser with the new key: %v", err)
	}
	lu, err := c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(id)})
	if err != nil || lu.AccessKeyLastUsed.LastUsedDate == nil {
		t.Errorf("GetAccessKeyLastUsed = %+v, %v; want the GetUser just made", lu, err)
	}
	if _, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: user, AccessKeyId: aws.String(id), Status: "Inactive"}); err != nil {
		t.Fatal(err)
	}
	if _, err := iamClient(s, id).GetUser(ctx, &iam.GetUserInput{}); !errors.As(err, &ae) || ae.ErrorCode() != "InvalidClientTokenId" {
		t.Errorf("an inactive key = %v; want InvalidClientTokenId", err)
	}
	if _, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: user, AccessKeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: user, AccessKeyId: aws.String(id)})
	if !errors.As(err, &ae) || ae.ErrorCode() != "NoSuchEntity" {
		t.Errorf("deleting twice = %v; want NoSuchEntity", err)
	}
	s.FailIAM(ststest.ActionCreateAccessKey, 1)
	if _, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: user}); !errors.As(err, &ae) || ae.ErrorCode() != "ServiceFailure" {
		t.Errorf("injected failure = %v; want ServiceFailure", err)
	}
	s.SetPropagation(2)
	out, _ = c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: user})
	nc := iamClient(s, aws.ToString(out.AccessKey.AccessKeyId))
	for i := range 3 {
		_, err := nc.GetUser(ctx, &iam.GetUserInput{})
		if (err == nil) != (i == 2) {
			t.Errorf("GetUser try %d with a propagating key = %v", i+1, err)
		}
	}
}
