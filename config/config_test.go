package config_test

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stsd/stsd/config"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// writeFile writes body to dir/name with mode, whatever the umask.
func writeFile(t *testing.T, dir, name, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := "[ecs]\nlisten = \"127.0.0.1:0\"\ntoken_dir = \"tokens\"\n" + sess + fed
	path := writeFile(t, dir, "config.toml", src, 0o600)
	c, err := config.Load(path, config.Options{Hostname: testHost, User: "alice"})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := &config.Config{
		Path:     path,
		LogLevel: "info",
		ECS:      &config.ECS{Listen: "127.0.0.1:0", TokenDir: filepath.Join(dir, "tokens")},
		Keyring:  config.Keyring{Backend: "auto", Collection: "login", FileDir: c.Keyring.FileDir},
		Profiles: map[string]*config.Profile{
			"p": {
				Name: "p", Line: 4, SourceProfile: "src", Mode: config.ModeSession,
				Duration: 12 * time.Hour, Region: "us-east-1", RefreshBefore: 30 * time.Minute,
				MFAPrompt: "tty", MFAReminder: 30 * time.Minute,
				ConsoleName: "alice", ConsolePolicyARNs: []string{"arn:aws:iam::aws:policy/AdministratorAccess"},
			},
			"fed": {
				Name: "fed", Line: 6, SourceProfile: "src", Mode: config.ModeFederation,
				Duration: 12 * time.Hour, Region: "us-east-1", RefreshBefore: 30 * time.Minute,
				MFAPrompt: "tty", MFAReminder: 30 * time.Minute,
				FederationName: "fed",
				PolicyARNs:     []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"},
			},
		},
	}
	if diff := cmp.Diff(want, c, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Load(%q) (-want +got):\n%s", path, diff)
	}
	if got := c.ProfileNames(); !cmp.Equal(got, []string{"fed", "p"}) {
		t.Errorf("ProfileNames() = %q; want [fed p]", got)
	}
}

// TestDefaultTokenDir and the other tests that set HOME run serially.
func TestDefaultTokenDir(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_STATE_HOME", "")
	c, err := config.Parse(filepath.Join(home, "config.toml"), []byte("[ecs]\nlisten = \"127.0.0.1:0\"\n"+sess), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(home, ".local", "state", "stsd", "ecs"); c.ECS.TokenDir != want {
		t.Errorf("ECS.TokenDir = %q; want %q", c.ECS.TokenDir, want)
	}
}

func TestTildeExpansion(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	writeFile(t, home, "pol/p.json", `{"Version": "2012-10-17", "Statement": []}`, 0o644)
	writeFile(t, home, ".aws/credentials", "[src]\n", 0o600)
	cfgDir := t.TempDir()
	src := `credentials_file = "~/.aws/credentials"
[ecs]
listen = "127.0.0.1:0"
token_dir = "~"
[profiles.fed]
source_profile = "src"
mode = "federation"
policy_file = "~/pol/p.json"
[profiles.rel]
source_profile = "src"
mode = "federation"
policy_file = "../` + filepath.Base(home) + `/pol/p.json"
`
	c, err := config.Parse(filepath.Join(cfgDir, "config.toml"), []byte(src), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := []string{c.CredentialsFile, c.ECS.TokenDir, c.Profiles["fed"].PolicyFile, c.Profiles["rel"].PolicyFile, c.Profiles["fed"].CredentialsFile}
	want := []string{
		filepath.Join(home, ".aws", "credentials"), home,
		filepath.Join(home, "pol", "p.json"), filepath.Join(home, "pol", "p.json"),
		filepath.Join(home, ".aws", "credentials"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
	if p := c.Profiles["fed"].Policy; p != `{"Version":"2012-10-17","Statement":[]}` {
		t.Errorf("Policy = %q; want it minified", p)
	}
}

func TestSample(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	writeFile(t, home, ".aws/credentials", "[dev-long-term]\n", 0o600)
	c, err := config.Load(filepath.Join("testdata", "sample.toml"), config.Options{Hostname: "Build_01!x.example.com", User: "alice"})
	if err != nil {
		t.Fatalf("sample.toml does not load:\n%v", err)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("sample.toml warnings:\n%v", config.Errors(c.Warnings))
	}
	ci := c.Profiles["ci-proxy"]
	if ci.FederationName != "ci-Build_01-x" {
		t.Errorf("FederationName = %q; want ci-Build_01-x ({hostname} is the first label, disallowed characters made '-')", ci.FederationName)
	}
	want := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::ci-artifacts/*"}]}`
	if ci.Policy != want {
		t.Errorf("Policy = %s; want %s", ci.Policy, want)
	}
	if diff := cmp.Diff(map[string]string{"team": "build", "env": "ci"}, ci.Tags); diff != "" {
		t.Errorf("Tags (-want +got):\n%s", diff)
	}
	dev := c.Profiles["dev"]
	if dev.MFASerial != "arn:aws:iam::123456789012:mfa/alice" || dev.Region != "eu-west-1" || dev.IMDSListen != "127.0.0.1:9912" || !cmp.Equal(dev.AllowedUIDs, []int{1000}) {
		t.Errorf("dev = %+v", dev)
	}
	if c.ECS.TokenDir != filepath.Join(home, ".local", "state", "stsd", "ecs") {
		t.Errorf("ECS.TokenDir = %q", c.ECS.TokenDir)
	}
	r := c.Profiles["prod-admin"]
	if r.Mode != config.ModeRole || r.ViaProfile != "dev" || r.RoleSessionName != "stsd-alice-Build_01-x" || r.ParentFingerprint != dev.Fingerprint("") ||
		!cmp.Equal(r.TransitiveTagKeys, []string{"team"}) || r.Duration != time.Hour || r.ExternalID == "" || r.SourceIdentity != "alice" {
		t.Errorf("prod-admin = %+v", r)
	}
	if dev.ConsoleName != "alice" || c.SigninEndpoint != "https://signin.aws.amazon.com/federation" {
		t.Errorf("console name %q, signin endpoint %q", dev.ConsoleName, c.SigninEndpoint)
	}
}

func TestBrokerFields(t *testing.T) {
	t.Parallel()
	dir := fixtures(t)
	tok := strings.Repeat("AB", 32)
	src := brk + "client_ca_file = \"$TMP/ca.pem\"\nrate = \"600/m\"\nmax_connections = 10\ntrusted_proxies = [\"10.0.0.5/32\"]\n" +
		"[broker.clients.billing]\ntoken_sha256 = \"" + tok + "\"\nprofiles = [\"fed\"]\nallowed_cidrs = [\"10.20.0.0/16\"]\n" +
		fed + "name = \"{client}@{hostname}\"\n"
	c, errText := parse(t, dir, src, config.Options{})
	if errText != "" {
		t.Fatal(errText)
	}
	b := c.Broker
	if b.Listen != "0.0.0.0:9443" || b.TLSCertFile != filepath.Join(dir, "cert.pem") || b.TLSKeyFile != filepath.Join(dir, "key.pem") ||
		b.ClientCAFile != filepath.Join(dir, "ca.pem") || b.Rate != 10 || b.MaxConnections != 10 || len(b.TrustedProxies) != 1 || b.TrustedProxies[0].String() != "10.0.0.5/32" {
		t.Errorf("Broker = %+v", b)
	}
	cl := b.Clients["billing"]
	if cl == nil || cl.Name != "billing" || cl.Line != 9 || cl.TokenSHA256 != strings.ToLower(tok) || !cmp.Equal(cl.Profiles, []string{"fed"}) || len(cl.AllowedCIDRs) != 1 || cl.AllowedCIDRs[0].String() != "10.20.0.0/16" {
		t.Errorf("Clients[billing] = %+v", cl)
	}
	if got := c.Profiles["fed"].FederationName; got != "{client}@build-01" {
		t.Errorf("FederationName = %q; want {client} kept, {hostname} expanded", got)
	}
}

// TestManyProblems checks that one load reports every problem, in file
// order, with its line.
func TestManyProblems(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("testdata", "bad.toml"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = config.Parse("bad.toml", data, config.Options{Hostname: testHost})
	var es config.Errors
	if !errors.As(err, &es) {
		t.Fatalf("Parse(bad.toml) = %v; want config.Errors", err)
	}
	for i := 1; i < len(es); i++ {
		if es[i].Line < es[i-1].Line {
			t.Errorf("problems out of file order: %q after %q", es[i], es[i-1])
		}
	}
	// Every line marked "# error" holds a problem.
	for i, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "#") || !strings.Contains(l, "# error") {
			continue
		}
		found := false
		for _, e := range es {
			found = found || e.Line == i+1
		}
		if !found {
			t.Errorf("bad.toml:%d (%s) has no problem reported", i+1, strings.TrimSpace(l))
		}
	}
	golden(t, filepath.Join("testdata", "errors.golden"), err.Error()+"\n")
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

func TestLoadMissing(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "config.toml")
	c, err := config.Load(path, config.Options{})
	if c != nil || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(missing) = %v, %v; want nil, fs.ErrNotExist", c, err)
	}
	want := path + ": the config file does not exist; create it (see the sample in the README) or pass --config"
	if err.Error() != want {
		t.Errorf("Load(missing) error = %q; want %q", err, want)
	}
}

func TestResolvePath(t *testing.T) {
	cfgHome := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfgHome)
	t.Setenv("HOME", cfgHome)
	t.Setenv("STSD_CONFIG", "")
	def, err := config.ResolvePath("", false)
	if err != nil {
		t.Fatal(err)
	}
	ucd, err := os.UserConfigDir()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(ucd, "stsd", "config.toml"); def != want {
		t.Errorf("ResolvePath(\"\", false) = %q; want %q", def, want)
	}
	sys, err := config.ResolvePath("", true)
	if err != nil || !filepath.IsAbs(sys) || sys == def {
		t.Errorf("ResolvePath(\"\", true) = %q, %v; want the system path", sys, err)
	}

	env := filepath.Join(cfgHome, "env.toml")
	t.Setenv("STSD_CONFIG", env)
	if got, _ := config.ResolvePath("", false); got != env {
		t.Errorf("with STSD_CONFIG: ResolvePath(\"\", false) = %q; want %q", got, env)
	}
	if got, _ := config.ResolvePath("", true); got != env {
		t.Errorf("with STSD_CONFIG: ResolvePath(\"\", true) = %q; want %q", got, env)
	}
	flagPath := filepath.Join(cfgHome, "flag.toml")
	if got, _ := config.ResolvePath(flagPath, false); got != flagPath {
		t.Errorf("ResolvePath(%q, false) = %q; want the flag", flagPath, got)
	}
	wd, _ := os.Getwd()
	if got, _ := config.ResolvePath("rel.toml", false); got != filepath.Join(wd, "rel.toml") {
		t.Errorf("ResolvePath(rel.toml) = %q; want it absolute", got)
	}
}

func TestSourceFiles(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "")
	t.Setenv("AWS_CONFIG_FILE", "")
	c := &config.Config{Path: "/etc/stsd/config.toml"}
	p := &config.Profile{Name: "p"}
	want := []string{"/etc/stsd/config.toml", filepath.Join(home, ".aws", "credentials"), filepath.Join(home, ".aws", "config")}
	if diff := cmp.Diff(want, c.SourceFiles(p)); diff != "" {
		t.Errorf("SourceFiles defaults (-want +got):\n%s", diff)
	}

	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "~/creds")
	t.Setenv("AWS_CONFIG_FILE", "/x/aws-config")
	want = []string{"/etc/stsd/config.toml", filepath.Join(home, "creds"), "/x/aws-config"}
	if diff := cmp.Diff(want, c.SourceFiles(p)); diff != "" {
		t.Errorf("SourceFiles from env (-want +got):\n%s", diff)
	}

	c.CredentialsFile = "/y/credentials"
	p.PolicyFile = "/etc/stsd/policy.json"
	want = []string{"/etc/stsd/config.toml", "/y/credentials", "/x/aws-config", "/etc/stsd/policy.json"}
	if diff := cmp.Diff(want, c.SourceFiles(p)); diff != "" {
		t.Errorf("SourceFiles with credentials_file and policy_file (-want +got):\n%s", diff)
	}
}
