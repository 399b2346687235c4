package ststest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stsd/stsd/internal/ststest"
)

// externalEnv is a minimal environment for python3 and aws: the stand-in as
// the STS endpoint, a fake long-term key and a HOME with no AWS files.
func externalEnv(t *testing.T, url string) []string {
	t.Helper()
	home := t.TempDir()
	env := []string{
		"HOME=" + home,
		"AWS_ACCESS_KEY_ID=" + userKey,
		"AWS_SECRET_ACCESS_KEY=fakesecretfakesecretfakesecretfakesecret",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_ENDPOINT_URL_STS=" + url,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_MAX_ATTEMPTS=1",
	}
	// Interpreter lookup (pyenv shims need PYENV_ROOT once HOME moves).
	for _, k := range []string{"PATH", "PYENV_ROOT", "PYENV_VERSION", "SYSTEMROOT", "TMPDIR", "LANG"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// runExternal runs a command and returns stdout; stderr goes into the
// failure message (it never holds secrets: the tools print errors there).
func runExternal(t *testing.T, env []string, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\nstderr:\n%s", name, err, stderr.String())
	}
	return stdout.Bytes()
}

// botoScript calls GetSessionToken, then GetCallerIdentity with the issued
// credentials, and prints only non-secret facts about them.
const botoScript = `
import boto3, json
r = boto3.client("sts").get_session_token(DurationSeconds=900)
c = r["Credentials"]
who = boto3.client("sts", aws_access_key_id=c["AccessKeyId"],
    aws_secret_access_key=c["SecretAccessKey"],
    aws_session_token=c["SessionToken"]).get_caller_identity()
print(json.dumps({
    "AccessKeyId": c["AccessKeyId"],
    "Expiration": c["Expiration"].isoformat(),
    "SecretLen": len(c["SecretAccessKey"]),
    "TokenLen": len(c["SessionToken"]),
    "Arn": who["Arn"],
}))
`

func TestBoto3(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	clk := &clock{t: time.Now().UTC().Truncate(time.Millisecond)}
	s := ststest.NewServer(t, ststest.Options{Now: clk.Now})
	env := externalEnv(t, s.URL)
	if err := (&exec.Cmd{Path: mustLookPath(t, "python3"), Args: []string{"python3", "-c", "import boto3"}, Env: env}).Run(); err != nil {
		t.Skipf("boto3 not importable: %v", err)
	}
	var got struct {
		AccessKeyID         string
		Expiration          string
		SecretLen, TokenLen int
		Arn                 string
	}
	out := runExternal(t, env, "python3", "-c", botoScript)
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("boto3 output does not parse: %v", err)
	}
	if !strings.HasPrefix(got.AccessKeyID, "ASIAFAKE") || got.SecretLen != 40 || got.TokenLen < 100 {
		t.Errorf("boto3 credentials: AccessKeyId %q, len(secret) %d, len(token) %d", got.AccessKeyID, got.SecretLen, got.TokenLen)
	}
	exp, err := time.Parse("2006-01-02T15:04:05.999999-07:00", got.Expiration)
	if err != nil || !exp.Equal(clk.Now().Add(15*time.Minute)) {
		t.Errorf("boto3 Expiration = %q (%v); want %v", got.Expiration, err, clk.Now().Add(15*time.Minute))
	}
	if want := "arn:aws:iam::" + ststest.DefaultAccount + ":user/" + ststest.DefaultUserName; got.Arn != want {
		t.Errorf("boto3 GetCallerIdentity Arn = %q; want %q", got.Arn, want)
	}
	reqs := s.Requests()
	if len(reqs) != 2 || reqs[0].AccessKeyID != userKey || reqs[0].Params.Get("DurationSeconds") != "900" {
		t.Errorf("Requests() = %d requests; want GetSessionToken signed with %s and DurationSeconds 900", len(reqs), userKey)
	}
}

func TestAWSCLI(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("aws CLI not installed")
	}
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	s := ststest.NewServer(t, ststest.Options{Now: clk.Now})
	out := runExternal(t, externalEnv(t, s.URL), "aws", "sts", "get-session-token", "--duration-seconds", "3600", "--output", "json")
	var got struct {
		Credentials struct {
			AccessKeyID string
			Expiration  string
		}
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("aws output does not parse: %v", err)
	}
	if !strings.HasPrefix(got.Credentials.AccessKeyID, "ASIAFAKE") {
		t.Errorf("aws AccessKeyId = %q; want ASIAFAKE…", got.Credentials.AccessKeyID)
	}
	exp, err := time.Parse(time.RFC3339, got.Credentials.Expiration)
	if want := clk.Now().Add(time.Hour); err != nil || !exp.Equal(want) {
		t.Errorf("aws Expiration = %q (%v); want %v", got.Credentials.Expiration, err, want)
	}
	if got := s.CallsOf("GetSessionToken"); got != 1 {
		t.Errorf("CallsOf(GetSessionToken) = %d; want 1", got)
	}
}

func mustLookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed", name)
	}
	return p
}
