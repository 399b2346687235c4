//go:build !windows

package config_test

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stsd/stsd/config"
)

// nobody is the uid tests chown files to.
const nobody = 65534

func TestFileChecks(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("needs root to chown files to another user")
	}
	me := userName(t, os.Getuid())
	nb := userName(t, nobody)
	tests := []struct {
		name   string
		mode   os.FileMode
		owner  int // -1: keep
		system bool
		setup  func(t *testing.T, dir string) string // returns extra config text
		want   string
	}{
		{name: "private config", mode: 0o600, owner: -1},
		{name: "readable config", mode: 0o644, owner: -1},
		{name: "world-writable config", mode: 0o666, owner: -1,
			want: "$TMP/config.toml: $TMP/config.toml is group- and world-writable (mode 0666), so others could change what stsd does; run: chmod go-w $TMP/config.toml"},
		{name: "group-writable config", mode: 0o664, owner: -1,
			want: "$TMP/config.toml: $TMP/config.toml is group-writable (mode 0664), so others could change what stsd does; run: chmod go-w $TMP/config.toml"},
		{name: "foreign config", mode: 0o644, owner: nobody,
			want: "$TMP/config.toml: $TMP/config.toml is owned by " + nb + ", not by you (" + me + ") or root, so its owner could change what stsd does; run: chown " + me + " $TMP/config.toml"},
		{name: "credentials readable", mode: 0o600, owner: -1, setup: func(t *testing.T, dir string) string {
			writeFile(t, dir, "credentials", "", 0o644)
			return "credentials_file = \"credentials\"\n"
		}, want: "$TMP/config.toml:1: credentials_file: $TMP/credentials holds secrets but is accessible to group and others (mode 0644); run: chmod 0600 $TMP/credentials"},
		{name: "credentials group readable", mode: 0o600, owner: -1, setup: func(t *testing.T, dir string) string {
			writeFile(t, dir, "credentials", "", 0o640)
			return "credentials_file = \"credentials\"\n"
		}, want: "$TMP/config.toml:1: credentials_file: $TMP/credentials holds secrets but is accessible to its group (mode 0640); run: chmod 0600 $TMP/credentials"},
		{name: "system credentials group readable", mode: 0o640, owner: -1, system: true, setup: func(t *testing.T, dir string) string {
			writeFile(t, dir, "credentials", "", 0o640)
			return "credentials_file = \"credentials\"\n"
		}},
		{name: "system credentials world readable", mode: 0o640, owner: -1, system: true, setup: func(t *testing.T, dir string) string {
			writeFile(t, dir, "credentials", "", 0o644)
			return "credentials_file = \"credentials\"\n"
		}, want: "$TMP/config.toml:1: credentials_file: $TMP/credentials holds secrets but is accessible to others (mode 0644); run: chmod 0640 $TMP/credentials"},
		{name: "credentials foreign", mode: 0o600, owner: -1, setup: func(t *testing.T, dir string) string {
			p := writeFile(t, dir, "credentials", "", 0o600)
			chown(t, p, nobody)
			return "credentials_file = \"credentials\"\n"
		}, want: "$TMP/config.toml:1: credentials_file: $TMP/credentials is owned by " + nb + ", not by you (" + me + ") or root, so its owner could change what stsd does; run: chown " + me + " $TMP/credentials"},
		{name: "policy file writable and foreign", mode: 0o600, owner: -1, setup: func(t *testing.T, dir string) string {
			p := writeFile(t, dir, "my policy.json", `{}`, 0o666)
			chown(t, p, nobody)
			return "[profiles.fed]\nsource_profile = \"src\"\nmode = \"federation\"\npolicy_file = \"my policy.json\"\n"
		}, want: "$TMP/config.toml:4: profiles.fed.policy_file: $TMP/my policy.json is owned by " + nb + ", not by you (" + me + ") or root, so its owner could change what stsd does; run: chown " + me + " '$TMP/my policy.json'\n" +
			"$TMP/config.toml:4: profiles.fed.policy_file: $TMP/my policy.json is group- and world-writable (mode 0666), so others could change what stsd does; run: chmod go-w '$TMP/my policy.json'"},
		{name: "tls key readable", mode: 0o600, owner: -1, setup: func(t *testing.T, dir string) string {
			writeFile(t, dir, "cert.pem", "", 0o644)
			writeFile(t, dir, "key.pem", "", 0o644)
			return "[broker]\nlisten = \":9443\"\ntls_cert_file = \"cert.pem\"\ntls_key_file = \"key.pem\"\n"
		}, want: "$TMP/config.toml:4: broker.tls_key_file: $TMP/key.pem holds secrets but is accessible to group and others (mode 0644); run: chmod 0600 $TMP/key.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			extra := ""
			if tt.setup != nil {
				extra = tt.setup(t, dir)
			}
			path := writeFile(t, dir, "config.toml", extra+sess, tt.mode)
			if tt.owner >= 0 {
				chown(t, path, tt.owner)
			}
			_, err := config.Load(path, config.Options{System: tt.system, Hostname: testHost})
			got := ""
			if err != nil {
				got = strings.ReplaceAll(err.Error(), dir, "$TMP")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Load errors (-want +got):\n%s", diff)
			}
		})
	}
}

func chown(t *testing.T, path string, uid int) {
	t.Helper()
	if err := os.Chown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
}

// TestParseSkipsOwnModeCheck: Parse does not stat the config itself.
func TestParseSkipsOwnModeCheck(t *testing.T) {
	t.Parallel()
	path := writeFile(t, t.TempDir(), "config.toml", sess, 0o666)
	if _, err := config.Parse(path, []byte(sess), config.Options{}); err != nil {
		t.Errorf("Parse(%s) = %v; want no error", filepath.Base(path), err)
	}
}

func userName(t *testing.T, uid int) string {
	t.Helper()
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil && u.Username != "" {
		return u.Username
	}
	return strconv.Itoa(uid)
}

// TestSharedFileChecks: the AWS shared files stsd really reads (here the
// ones $AWS_SHARED_CREDENTIALS_FILE and $AWS_CONFIG_FILE name, not a
// credentials_file) get the secret and config rules: a planted
// credential_process must not be able to get in.
func TestSharedFileChecks(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to chown files to another user")
	}
	me := userName(t, os.Getuid())
	nb := userName(t, nobody)
	tests := []struct {
		name              string
		credsMode, cfMode os.FileMode
		owner             int // of the AWS config file; -1: keep
		want              string
	}{
		{"private", 0o600, 0o644, -1, ""},
		{"credentials group-writable", 0o620, 0o644, -1,
			"$TMP/config.toml: $TMP/credentials holds secrets but is accessible to its group (mode 0620); run: chmod 0600 $TMP/credentials"},
		{"credentials world-readable", 0o604, 0o644, -1,
			"$TMP/config.toml: $TMP/credentials holds secrets but is accessible to others (mode 0604); run: chmod 0600 $TMP/credentials"},
		{"aws config world-writable", 0o600, 0o646, -1,
			"$TMP/config.toml: $TMP/aws-config is world-writable (mode 0646), so others could change what stsd does; run: chmod go-w $TMP/aws-config"},
		{"aws config foreign", 0o600, 0o644, nobody,
			"$TMP/config.toml: $TMP/aws-config is owned by " + nb + ", not by you (" + me + ") or root, so its owner could change what stsd does; run: chown " + me + " $TMP/aws-config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "credentials", "", tt.credsMode)
			cf := writeFile(t, dir, "aws-config", "", tt.cfMode)
			if tt.owner >= 0 {
				chown(t, cf, tt.owner)
			}
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
			t.Setenv("AWS_CONFIG_FILE", cf)
			path := writeFile(t, dir, "config.toml", sess, 0o600)
			cfg, err := config.Load(path, config.Options{Hostname: testHost})
			got := ""
			if err != nil {
				got = strings.ReplaceAll(err.Error(), dir, "$TMP")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Load errors (-want +got):\n%s", diff)
			}
			if cfg != nil && len(cfg.SharedFileProblems()) != 0 {
				t.Errorf("SharedFileProblems = %v; want none", cfg.SharedFileProblems())
			}
		})
	}
}
