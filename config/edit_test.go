package config_test

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stsd/stsd/config"
)

var (
	hashA = strings.Repeat("a", 64)
	hashB = strings.Repeat("b", 64)
	hashC = strings.Repeat("c", 64)
)

// editBase is a config with comments, a client, and tables after [broker].
const editBase = `# stsd config
log_level = "info"

[broker]
listen = "0.0.0.0:9443"   # every interface
tls_cert_file = "cert.pem"
tls_key_file = "key.pem"

# The billing team's app servers.
[broker.clients.billing]
token_sha256 = "` + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" + `"  # rotated 2026-01
profiles = [
  "app",   # the only one
]

# Profiles below.
[profiles.app]
source_profile = "src"
mode = "federation"
name = "{client}"
policy = '''{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'''
`

func TestAddBrokerClient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		client   string
		profiles []string
		cidrs    []string
		want     string
		wantErr  error
	}{
		{
			name: "after the last client", in: editBase, client: "search", profiles: []string{"app"},
			want: strings.Replace(editBase, "]\n\n# Profiles below.", "]\n\n[broker.clients.search]\ntoken_sha256 = \""+hashB+"\"\nprofiles = [\"app\"]\n\n# Profiles below.", 1),
		},
		{
			name: "with cidrs and a quoted name", in: editBase, client: "ci.bot", profiles: []string{"app", "other"}, cidrs: []string{"10.20.0.0/16", "2001:db8::/32"},
			want: strings.Replace(editBase, "]\n\n# Profiles below.", "]\n\n[broker.clients.\"ci.bot\"]\ntoken_sha256 = \""+hashB+"\"\nprofiles = [\"app\", \"other\"]\nallowed_cidrs = [\"10.20.0.0/16\", \"2001:db8::/32\"]\n\n# Profiles below.", 1),
		},
		{
			name: "first client", in: "[broker]\nlisten = \"0.0.0.0:9443\"\n\n[profiles.app]\nmode = \"federation\"\n", client: "billing", profiles: []string{"app"},
			want: "[broker]\nlisten = \"0.0.0.0:9443\"\n\n[broker.clients.billing]\ntoken_sha256 = \"" + hashB + "\"\nprofiles = [\"app\"]\n\n[profiles.app]\nmode = \"federation\"\n",
		},
		{
			name: "no final newline", in: "[broker]\nlisten = \"0.0.0.0:9443\"", client: "billing", profiles: []string{"app"},
			want: "[broker]\nlisten = \"0.0.0.0:9443\"\n\n[broker.clients.billing]\ntoken_sha256 = \"" + hashB + "\"\nprofiles = [\"app\"]\n",
		},
		{
			name: "crlf", in: "[broker]\r\nlisten = \"0.0.0.0:9443\"\r\n", client: "billing", profiles: []string{"app"},
			want: "[broker]\r\nlisten = \"0.0.0.0:9443\"\r\n\r\n[broker.clients.billing]\r\ntoken_sha256 = \"" + hashB + "\"\r\nprofiles = [\"app\"]\r\n",
		},
		{name: "exists", in: editBase, client: "billing", profiles: []string{"app"}, wantErr: config.ErrClientExists},
		{name: "no broker", in: "[profiles.app]\nmode = \"federation\"\n", client: "billing", profiles: []string{"app"}, wantErr: config.ErrNoBroker},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var cidrs []netip.Prefix
			for _, c := range tt.cidrs {
				cidrs = append(cidrs, netip.MustParsePrefix(c))
			}
			got, err := config.AddBrokerClient([]byte(tt.in), tt.client, hashB, tt.profiles, cidrs)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("AddBrokerClient(%s) = %v; want %v", tt.client, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if d := cmp.Diff(tt.want, string(got)); d != "" {
				t.Errorf("AddBrokerClient(%s) (-want +got):\n%s", tt.client, d)
			}
		})
	}
	for _, bad := range []string{"x", `a"b`, "a b", strings.Repeat("n", 33)} {
		if _, err := config.AddBrokerClient([]byte(editBase), bad, hashB, []string{"app"}, nil); err == nil {
			t.Errorf("AddBrokerClient(%q) accepted a bad name", bad)
		}
	}
	if _, err := config.AddBrokerClient([]byte(editBase), "new", hashB, []string{`a"]`}, nil); err == nil {
		t.Error("AddBrokerClient accepted a bad profile name")
	}
}

func TestSetBrokerClientToken(t *testing.T) {
	t.Parallel()
	got, err := config.SetBrokerClientToken([]byte(editBase), "billing", hashC)
	if err != nil {
		t.Fatal(err)
	}
	// Only the value changes: the comment after it stays.
	if d := cmp.Diff(strings.Replace(editBase, hashA, hashC, 1), string(got)); d != "" {
		t.Errorf("SetBrokerClientToken (-want +got):\n%s", d)
	}
	lit := "[broker.clients.x1]\ntoken_sha256 = '" + hashA + "'\n"
	if got, _ := config.SetBrokerClientToken([]byte(lit), "x1", hashC); string(got) != "[broker.clients.x1]\ntoken_sha256 = \""+hashC+"\"\n" {
		t.Errorf("literal string: %q", got)
	}
	none := "[broker.clients.x1]\nprofiles = [\"app\"]\n"
	if got, _ := config.SetBrokerClientToken([]byte(none), "x1", hashC); string(got) != "[broker.clients.x1]\ntoken_sha256 = \""+hashC+"\"\nprofiles = [\"app\"]\n" {
		t.Errorf("missing token line: %q", got)
	}
	for _, tt := range []struct {
		in      string
		wantErr error
	}{
		{editBase, config.ErrNoClient},
		{"[broker]\nclients.nope.token_sha256 = \"" + hashA + "\"\n", config.ErrNotEditable},
		{"[broker.clients]\nnope = { token_sha256 = \"" + hashA + "\" }\n", config.ErrNotEditable},
	} {
		if _, err := config.SetBrokerClientToken([]byte(tt.in), "nope", hashC); !errors.Is(err, tt.wantErr) {
			t.Errorf("SetBrokerClientToken(nope) = %v; want %v", err, tt.wantErr)
		}
	}
}

func TestRemoveBrokerClient(t *testing.T) {
	t.Parallel()
	added, err := config.AddBrokerClient([]byte(editBase), "search", hashB, []string{"app"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Adding then removing gives back every byte.
	got, err := config.RemoveBrokerClient(added, "search")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(editBase, string(got)); d != "" {
		t.Errorf("add then remove (-want +got):\n%s", d)
	}
	// Removing the commented client keeps its comment above (it may
	// describe more) and the comment below (it belongs to what follows).
	got, err = config.RemoveBrokerClient([]byte(editBase), "billing")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(editBase, "[broker.clients.billing]\ntoken_sha256 = \""+hashA+"\"  # rotated 2026-01\nprofiles = [\n  \"app\",   # the only one\n]\n", "", 1)
	if d := cmp.Diff(want, string(got)); d != "" {
		t.Errorf("remove billing (-want +got):\n%s", d)
	}
	// The last table of the file.
	in := "[broker]\nlisten = \"x\"\n\n[broker.clients.zz]\ntoken_sha256 = \"" + hashA + "\"\nprofiles = [\"app\"]\n"
	if got, _ := config.RemoveBrokerClient([]byte(in), "zz"); string(got) != "[broker]\nlisten = \"x\"\n" {
		t.Errorf("remove the last table: %q", got)
	}
	if _, err := config.RemoveBrokerClient([]byte(editBase), "nope"); !errors.Is(err, config.ErrNoClient) {
		t.Errorf("RemoveBrokerClient(nope) = %v; want ErrNoClient", err)
	}
}

// editEnv writes a loadable broker config (with its certificate files and
// credentials) and returns its path.
func editEnv(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "cert.pem", "x", 0o600)
	writeFile(t, dir, "key.pem", "x", 0o600)
	writeFile(t, dir, "credentials", "[src]\n", 0o600)
	return writeFile(t, dir, "config.toml", "credentials_file = \"credentials\"\n"+body, mode)
}

func TestEditFile(t *testing.T) {
	t.Parallel()
	path := editEnv(t, editBase, 0o640)
	cfg, err := config.EditFile(path, config.Options{}, func(b []byte) ([]byte, error) {
		return config.AddBrokerClient(b, "search", hashB, []string{"app"}, nil)
	})
	if err != nil {
		t.Fatalf("EditFile: %v", err)
	}
	if c := cfg.Broker.Clients["search"]; c == nil || c.TokenSHA256 != hashB {
		t.Errorf("new config lacks client search: %+v", cfg.Broker.Clients)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v; want 0640 kept", fi.Mode().Perm())
	}
	before, _ := os.ReadFile(path)

	// A result that does not load leaves the file as it was.
	_, err = config.EditFile(path, config.Options{}, func(b []byte) ([]byte, error) {
		return config.AddBrokerClient(b, "third", hashC, []string{"no-such-profile"}, nil)
	})
	var errs config.Errors
	if !errors.As(err, &errs) || !strings.Contains(err.Error(), "no-such-profile") {
		t.Errorf("EditFile with an unknown profile = %v; want config errors naming it", err)
	}
	// The same token hash twice is refused by validation too.
	_, err = config.EditFile(path, config.Options{}, func(b []byte) ([]byte, error) {
		return config.AddBrokerClient(b, "third", hashA, []string{"app"}, nil)
	})
	if !errors.As(err, &errs) {
		t.Errorf("EditFile with a duplicate hash = %v; want config errors", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("a refused edit changed the file")
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 4 {
		t.Errorf("%d files in the config dir; want 4 (no temporary file left)", len(ents))
	}

	// Through a symlink: the target changes, the link stays.
	link := filepath.Join(filepath.Dir(path), "link.toml") // relative paths resolve beside the link
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	if _, err := config.EditFile(link, config.Options{}, func(b []byte) ([]byte, error) {
		return config.RemoveBrokerClient(b, "search")
	}); err != nil {
		t.Fatalf("EditFile through a link: %v", err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the symlink was replaced")
	}
	got, _ := os.ReadFile(path)
	if want := "credentials_file = \"credentials\"\n" + editBase; string(got) != want {
		t.Errorf("after add and remove (-want +got):\n%s", cmp.Diff(want, string(got)))
	}
}
