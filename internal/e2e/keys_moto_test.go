//go:build !windows

package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/stsclient"
	"github.com/stsd/stsd/keys"
)

// TestRotateAgainstMoto rotates a key kept in the shared credentials file
// against moto_server's IAM and STS (AWS_ENDPOINT_URL_IAM/_STS): create,
// verify, store, last-used check, deactivate, and after the grace
// delete, each checked with IAM's own ListAccessKeys.
func TestRotateAgainstMoto(t *testing.T) {
	m := moto(t)
	t.Setenv("AWS_ENDPOINT_URL_IAM", m.url)
	t.Setenv("AWS_ENDPOINT_URL_STS", m.url)
	t.Setenv("AWS_REGION", "us-east-1")
	ctx := t.Context()
	admin := iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(m.url), HTTPClient: http.DefaultClient,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAFAKEADMIN0000000", "adminsecretadminsecretadminsecret000000", "")})
	if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	ak, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatalf("CreateAccessKey: %v", err)
	}
	oldID := aws.ToString(ak.AccessKey.AccessKeyId)
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	writeFile(t, creds, "[src]\naws_access_key_id = "+oldID+"\naws_secret_access_key = "+aws.ToString(ak.AccessKey.SecretAccessKey)+"\n")
	cfg, err := config.Parse(filepath.Join(dir, "config.toml"), []byte("credentials_file = \""+creds+"\"\n[profiles.p]\nsource_profile = \"src\"\n[keys.src]\nrotate_every = \"30d\"\n"), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	st := keys.New(cfg, keys.Options{StateDir: filepath.Join(dir, "state"), Now: clock})
	o := keys.RotateOptions{Cloud: stsclient.NewCloud(stsclient.CloudOptions{})}

	list := func() map[string]iamtypes.StatusType {
		out, err := admin.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
		if err != nil {
			t.Fatalf("ListAccessKeys: %v", err)
		}
		m := map[string]iamtypes.StatusType{}
		for _, k := range out.AccessKeyMetadata {
			m[aws.ToString(k.AccessKeyId)] = k.Status
		}
		return m
	}
	out, err := st.Rotate(ctx, "src", o)
	if err != nil || out.Step != keys.StepDeactivated {
		t.Fatalf("Rotate = %+v, %v", out, err)
	}
	nk, err := st.Load(ctx, "src")
	if err != nil || nk.ID == oldID {
		t.Fatalf("stored key = %v, %v; want the new one", nk, err)
	}
	if got := list(); len(got) != 2 || got[oldID] != iamtypes.StatusTypeInactive || got[nk.ID] != iamtypes.StatusTypeActive {
		t.Errorf("IAM keys after rotate = %v; want the old inactive, the new active", got)
	}
	if b, _ := os.ReadFile(creds); string(b) != "[src]\naws_access_key_id = "+nk.ID+"\naws_secret_access_key = "+nk.Secret+"\n" {
		t.Errorf("credentials file = %q; want the two values replaced", b)
	}
	mu.Lock()
	now = now.Add(time.Hour + time.Minute)
	mu.Unlock()
	if out, err = st.Resume(ctx, "src", o); err != nil || out.Step != "" {
		t.Fatalf("Resume after the grace = %+v, %v", out, err)
	}
	if got := list(); len(got) != 1 || got[nk.ID] != iamtypes.StatusTypeActive {
		t.Errorf("IAM keys after the grace = %v; want only the new key", got)
	}
	// The new key works for STS.
	f := stsclient.New(cfg, cfg.Profiles["p"], stsclient.Options{})
	if _, err := f.Fetch(context.Background(), stsclient.Request{}); err != nil {
		t.Errorf("GetSessionToken with the rotated key: %v", err)
	}
}
