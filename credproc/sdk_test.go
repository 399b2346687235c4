package credproc_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials/processcreds"
	"github.com/stsd/stsd/internal/wire"
)

// TestSDKAcceptsOutput hands Marshal's output to aws-sdk-go-v2's own
// credential_process provider (which runs the command with sh -c). The SDK
// is imported by this test file only; the package stays SDK-free
// (cmd/stsd-credential-process TestDeps).
func TestSDKAcceptsOutput(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("uses cat via sh -c")
	}
	c := fakeCreds()
	out := filepath.Join(t.TempDir(), "out.json")
	if err := os.WriteFile(out, wire.Marshal(c), 0o600); err != nil {
		t.Fatal(err)
	}
	p := processcreds.NewProvider("cat " + out)
	got, err := p.Retrieve(context.Background())
	if err != nil {
		t.Fatalf("processcreds Retrieve: %v", err)
	}
	switch {
	case got.AccessKeyID != c.AccessKeyID:
		t.Errorf("AccessKeyID = %q; want %q", got.AccessKeyID, c.AccessKeyID)
	case got.SecretAccessKey != c.SecretAccessKey || got.SessionToken != c.SessionToken:
		t.Error("secret or session token did not survive (values not shown)")
	case !got.CanExpire || !got.Expires.Equal(c.Expiration):
		t.Errorf("Expires = %v (CanExpire %v); want %v", got.Expires, got.CanExpire, c.Expiration)
	case got.AccountID != c.AccountID:
		t.Errorf("AccountID = %q; want %q", got.AccountID, c.AccountID)
	case got.Source != processcreds.ProviderName:
		t.Errorf("Source = %q", got.Source)
	}
}

// TestBotocoreAcceptsOutput runs botocore's ProcessProvider (no shell,
// shlex-split command, tz-aware expiry) on Marshal's output when python3
// with botocore is installed.
func TestBotocoreAcceptsOutput(t *testing.T) {
	t.Parallel()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	if err := exec.Command(py, "-c", "import botocore").Run(); err != nil {
		t.Skip("no botocore")
	}
	c := fakeCreds()
	c.Expiration = time.Now().Add(time.Hour) // botocore refuses expired ones
	dir := t.TempDir()
	out := filepath.Join(dir, "out.json")
	if err := os.WriteFile(out, wire.Marshal(c), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config")
	if err := os.WriteFile(cfg, []byte("[profile dev]\ncredential_process = cat "+out+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	script := `
import botocore.session
s = botocore.session.Session(profile="dev")
c = s.get_credentials()
f = c.get_frozen_credentials()
print(f.access_key, c.method, getattr(f, "account_id", "") or "", sep="\n")
`
	cmd := exec.Command(py, "-c", script)
	cmd.Env = []string{
		"AWS_CONFIG_FILE=" + cfg,
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "none"),
		"HOME=" + dir,
		"PATH=" + os.Getenv("PATH"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("botocore: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < 2 || lines[0] != c.AccessKeyID || lines[1] != "custom-process" {
		t.Errorf("botocore saw %q; want [%s custom-process …]", lines, c.AccessKeyID)
	}
}
