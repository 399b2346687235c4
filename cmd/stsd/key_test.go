package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeyCommandUsage(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	creds := filepath.Join(dir, "credentials")
	os.WriteFile(creds, []byte("[src]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"), 0o600)
	os.WriteFile(cfg, []byte("credentials_file = \""+creds+"\"\n[profiles.dev]\nsource_profile = \"src\"\n"), 0o600)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"no subcommand", []string{"key"}, 2, "", "stsd key: give a command: add, import, list, remove, rotate"},
		{"unknown", []string{"key", "steal"}, 2, "", `unknown command "steal"`},
		{"rotate needs a name", []string{"key", "rotate", "--config", cfg}, 2, "", "name one key"},
		{"two names", []string{"key", "remove", "a", "b", "--config", cfg}, 2, "", "name one key"},
		{"list", []string{"key", "list", "--config", cfg}, 0, "src  credentials_file  AKIA…MPLE", ""},
		{"add to the credentials file", []string{"key", "add", "src", "--config", cfg}, 1, "", `add [keys.src] with store = "keyring"`},
		{"import needs the keyring store", []string{"key", "import", "src", "--config", cfg}, 1, "", `add [keys.src] with store = "keyring"`},
		{"remove a credentials_file key", []string{"key", "remove", "src", "--config", cfg}, 1, "", "remove its [src] section there"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stsd %v = %d, %q, %q; want %d, %q, %q", tt.args, code, out, errOut, tt.wantCode, tt.wantOut, tt.wantErr)
			}
			if strings.Contains(out+errOut, "wJalr") {
				t.Error("the output shows the secret")
			}
			if n := strings.Count(strings.TrimSpace(errOut), "\n"); n > 0 {
				t.Errorf("error is %d lines; want one:\n%s", n+1, errOut)
			}
		})
	}
}
