package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stsd/stsd/config"
)

// testHost is the Options.Hostname of every table test.
const testHost = "build-01.example.com"

// testUser is the Options.User of every table test.
const testUser = "alice"

// fixtures writes the files the table tests name through $TMP.
func fixtures(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := []struct {
		name string
		mode os.FileMode
		body string
	}{
		{"cert.pem", 0o644, "cert"},
		{"key.pem", 0o600, "key"},
		{"ca.pem", 0o644, "ca"},
		{"policy.json", 0o644, "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": []\n}\n"},
		{"bad-policy.json", 0o644, "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [}\n"},
		{"credentials", 0o600, "[src]\n"},
	}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, []byte(f.body), f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.mode); err != nil { // umask
			t.Fatal(err)
		}
	}
	return dir
}

// parse runs config.Parse on src with $TMP replaced by dir, and returns the
// config and the error text with dir replaced back by $TMP.
func parse(t *testing.T, dir, src string, o config.Options) (*config.Config, string) {
	t.Helper()
	if o.Hostname == "" {
		o.Hostname = testHost
	}
	if o.User == "" {
		o.User = testUser
	}
	c, err := config.Parse("config.toml", []byte(strings.ReplaceAll(src, "$TMP", dir)), o)
	if err == nil {
		if c == nil {
			t.Fatal("Parse returned nil config and nil error")
		}
		return c, ""
	}
	if c != nil {
		t.Errorf("Parse returned a config with error %v", err)
	}
	var es config.Errors
	if !errors.As(err, &es) {
		t.Fatalf("Parse error %T is not config.Errors: %v", err, err)
	}
	for _, e := range es {
		if e.File != "config.toml" {
			t.Errorf("error %q has File %q; want config.toml", e, e.File)
		}
	}
	return nil, strings.ReplaceAll(err.Error(), dir, "$TMP")
}

func warnings(c *config.Config, dir string) string {
	if c == nil {
		return ""
	}
	var ws []string
	for _, w := range c.Warnings {
		ws = append(ws, strings.ReplaceAll(w.Error(), dir, "$TMP"))
	}
	return strings.Join(ws, "\n")
}

const (
	sess = "[profiles.p]\nsource_profile = \"src\"\n"
	fed  = "[profiles.fed]\nsource_profile = \"src\"\nmode = \"federation\"\npolicy_arns = [\"arn:aws:iam::aws:policy/ReadOnlyAccess\"]\n"
	brk  = "[broker]\nlisten = \"0.0.0.0:9443\"\ntls_cert_file = \"$TMP/cert.pem\"\ntls_key_file = \"$TMP/key.pem\"\n"
)

type ruleTest struct {
	name     string
	src      string
	system   bool
	hostname string // Options.Hostname; default testHost
	user     string // Options.User; default testUser
	want     string // exact error text; "" = loads
	wantWarn string // exact warnings text
}

func runRules(t *testing.T, tests []ruleTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := fixtures(t)
			c, got := parse(t, dir, tt.src, config.Options{System: tt.system, Hostname: tt.hostname, User: tt.user})
			if os.Getenv("DUMP_RULES") != "" {
				fmt.Printf("=== %s\n%s\n~~~ warn\n%s\n", tt.name, got, warnings(c, dir))
				return
			}
			cwd, _ := os.Getwd()
			want := strings.ReplaceAll(tt.want, "$CWD", cwd)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Parse errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantWarn, warnings(c, dir)); diff != "" {
				t.Errorf("Parse warnings (-want +got):\n%s", diff)
			}
		})
	}
}
