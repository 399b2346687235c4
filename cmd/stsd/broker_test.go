package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stsd/stsd/config"
)

const brokerCLIConfig = `# my stsd
credentials_file = "credentials"

[broker]
listen = "0.0.0.0:9443"   # all interfaces
tls_cert_file = "cert.pem"
tls_key_file = "key.pem"

[profiles.app]   # the one app profile
source_profile = "src"
mode = "federation"
name = "{client}"
policy_arns = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
`

func TestBrokerClientCommands(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"cert.pem": "x", "key.pem": "x", "credentials": "[src]\n", "config.toml": brokerCLIConfig} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "config.toml")
	load := func() *config.Config {
		t.Helper()
		cfg, err := config.Load(path, config.Options{})
		if err != nil {
			t.Fatalf("config after the command: %v", err)
		}
		return cfg
	}
	hashOf := func(tok string) string {
		s := sha256.Sum256([]byte(tok))
		return hex.EncodeToString(s[:])
	}

	out, errOut, code := runCLI(t, "broker", "add-client", "billing", "--profiles", "app", "--cidrs", "10.20.0.0/16", "--config", path)
	if code != 0 {
		t.Fatalf("add-client = %d %s", code, errOut)
	}
	token := strings.TrimSuffix(out, "\n")
	if len(token) != 26 || strings.ContainsAny(token, "\r\n ") {
		t.Fatalf("add-client stdout is not one token line (%d bytes)", len(out))
	}
	if !strings.Contains(errOut, "no stsd daemon is running: the change applies when it starts") || strings.Contains(errOut, token) {
		t.Errorf("add-client stderr must say when the change applies and not repeat the token: %s", errOut)
	}
	c := load().Broker.Clients["billing"]
	if c == nil || c.TokenSHA256 != hashOf(token) || c.AllowedCIDRs[0].String() != "10.20.0.0/16" {
		t.Fatalf("client billing = %+v; want the token's hash and the CIDR", c)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), token) || !strings.Contains(string(data), "# the one app profile") {
		t.Errorf("the config holds the token or lost a comment:\n%s", data)
	}

	out, errOut, code = runCLI(t, "broker", "list-clients", "--config", path)
	if code != 0 || !strings.Contains(out, "billing") || !strings.Contains(out, "10.20.0.0/16") || strings.Contains(out, hashOf(token)) {
		t.Errorf("list-clients = %d %q %q; want billing with its profiles and CIDRs, no hash", code, out, errOut)
	}

	out, errOut, code = runCLI(t, "broker", "rotate-client", "billing", "--config", path)
	next := strings.TrimSpace(out)
	if code != 0 || next == token || load().Broker.Clients["billing"].TokenSHA256 != hashOf(next) {
		t.Fatalf("rotate-client = %d %s; want a new token whose hash replaced the old", code, errOut)
	}

	if _, errOut, code := runCLI(t, "broker", "add-client", "billing", "--profiles", "app", "--config", path); code != 2 || !strings.Contains(errOut, "already exists") {
		t.Errorf("adding billing twice = %d %s; want 2", code, errOut)
	}
	before, _ := os.ReadFile(path)
	if out, errOut, code := runCLI(t, "broker", "add-client", "other", "--profiles", "nope", "--config", path); code != 2 || out != "" || !strings.Contains(errOut, "unchanged") {
		t.Errorf("add-client with an unknown profile = %d %q %s; want 2, no token, file unchanged", code, out, errOut)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("a refused add-client changed the file")
	}

	if _, errOut, code := runCLI(t, "broker", "remove-client", "billing", "--config", path); code != 0 {
		t.Fatalf("remove-client = %d %s", code, errOut)
	}
	if data, _ := os.ReadFile(path); string(data) != brokerCLIConfig {
		t.Errorf("after add, rotate and remove the file differs from the original:\n%s", data)
	}
	for _, args := range [][]string{
		{"broker"},
		{"broker", "frob"},
		{"broker", "add-client", "x1"},
		{"broker", "add-client", "x1", "--profiles", "app", "--cidrs", "10.0.0.1/8"},
		{"broker", "remove-client", "nope", "--config", path},
		{"broker", "rotate-client"},
	} {
		if _, errOut, code := runCLI(t, args...); code != 2 || errOut == "" {
			t.Errorf("stsd %v = %d %q; want 2 and a message", args, code, errOut)
		}
	}
}
