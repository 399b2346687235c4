package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

func TestUsageAndVersion(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"no args", nil, 2, "", "usage: stsd"},
		{"unknown", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"version", []string{"version"}, 0, "stsd dev", ""},
		{"--version", []string{"--version"}, 0, "stsd dev", ""},
		{"bad flag", []string{"status", "--nope"}, 2, "", "flag provided but not defined: -nope"},
		{"refresh needs a profile", []string{"refresh"}, 2, "", "give exactly one profile"},
		{"credential-process needs a profile", []string{"credential-process"}, 2, "", "--profile PROFILE"},
		{"container-env needs one mode", []string{"container-env"}, 2, "", "stsd container-env PROFILE [--ttl 12h]"},
		{"container-env profile and list", []string{"container-env", "dev", "--list"}, 2, "", "stsd container-env PROFILE"},
		{"container-env format", []string{"container-env", "dev", "--format", "sh"}, 2, "", "--format env|docker|json"},
		{"container-run needs --", []string{"container-run", "dev", "alpine"}, 2, "", "stsd container-run PROFILE [--ttl 12h] -- DOCKER-RUN-ARG"},
		{"container-run needs a profile", []string{"container-run", "--", "alpine"}, 2, "", "stsd container-run PROFILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stsd %v = %d, %q, %q; want %d, %q, %q", tt.args, code, out, errOut, tt.wantCode, tt.wantOut, tt.wantErr)
			}
			if n := strings.Count(strings.TrimSpace(errOut), "\n"); tt.wantCode == 2 && tt.args != nil && n > 0 {
				t.Errorf("usage error is %d lines; want one:\n%s", n+1, errOut)
			}
		})
	}
}

func TestResolvingGuard(t *testing.T) {
	t.Setenv("STSD_RESOLVING", "1")
	_, errOut, code := runCLI(t, "credential-process", "--profile", "dev")
	if code != 1 || !strings.Contains(errOut, "STSD_RESOLVING is set") {
		t.Errorf("with STSD_RESOLVING: %d %q; want 1 and the reason", code, errOut)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	os.WriteFile(good, []byte("[profiles.dev]\nsource_profile = \"src\"\n"), 0o600)
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[profiles.dev]\nsource_profile = \"src\"\nduration = \"1m\"\nmode = \"nope\"\n"), 0o600)

	out, errOut, code := runCLI(t, "check", "--config", good)
	if code != 0 || !strings.Contains(out, "ok, 1 profile(s)") {
		t.Errorf("check good = %d %q %q", code, out, errOut)
	}
	_, errOut, code = runCLI(t, "check", "--config", bad)
	if code != 2 {
		t.Fatalf("check bad = %d; want 2", code)
	}
	for _, want := range []string{"bad.toml:3: profiles.dev.duration", "bad.toml:4: profiles.dev.mode"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("check output lacks %q:\n%s", want, errOut)
		}
	}
	_, errOut, code = runCLI(t, "check", "--config", filepath.Join(dir, "missing.toml"))
	if code != 2 || strings.Count(errOut, "\n") != 1 {
		t.Errorf("check missing = %d %q; want 2 and one line", code, errOut)
	}
}
