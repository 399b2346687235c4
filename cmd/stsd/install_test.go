package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}

func TestInstallCommands(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	writeFile(t, good, "[profiles.dev]\nsource_profile = \"src\"\n", 0o600)
	bad := filepath.Join(dir, "bad.toml")
	writeFile(t, bad, "[profiles.dev]\nsource_profile = \"src\"\nduration = \"1m\"\nmode = \"nope\"\n", 0o600)
	noSystemd := true
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		noSystemd = false
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  []string
		skip     bool
	}{
		{"dry run user", []string{"install", "--user", "--init", "systemd", "--config", good, "--dry-run"}, 0,
			[]string{"ExecStart=", "run --config " + good + "\n", "systemctl enable --user stsd.service"}, nil, false},
		{"dry run system", []string{"install", "--system", "--init", "systemd", "--config", good, "--dry-run"}, 0,
			[]string{"User=stsd", "--system\n", "/etc/systemd/system/stsd.service"}, nil, false},
		{"dry run launchd", []string{"install", "--init", "launchd", "--config", good, "--dry-run"}, 0,
			[]string{"<string>" + good + "</string>", "launchctl load"}, nil, false},
		{"dry run uninstall", []string{"uninstall", "--system", "--init", "systemd", "--dry-run"}, 0,
			[]string{"systemctl disable stsd.service"}, nil, false},
		{"broken config", []string{"install", "--init", "systemd", "--config", bad}, 2, nil,
			[]string{"bad.toml:3: profiles.dev.duration", "bad.toml:4: profiles.dev.mode", "fix them"}, false},
		{"windows user", []string{"install", "--init", "windows", "--config", good, "--dry-run"}, 2, nil, []string{"--system"}, false},
		{"user and system", []string{"install", "--user", "--system"}, 2, nil, []string{"exclude each other"}, false},
		{"bad init", []string{"install", "--init", "sysv"}, 2, nil, []string{"use systemd, launchd or windows"}, false},
		{"stray argument", []string{"start", "now"}, 2, nil, []string{`unexpected argument "now"`}, false},
		{"real install without systemd", []string{"install", "--init", "systemd", "--config", good}, 1, nil,
			[]string{"systemd is not running on this host"}, !noSystemd},
		{"start without systemd", []string{"start", "--init", "systemd"}, 1, nil, []string{"not running"}, !noSystemd},
		{"configure-profile needs a profile", []string{"configure-profile"}, 2, nil, []string{"give profile names or --all"}, false},
		{"configure-profile not both", []string{"configure-profile", "dev", "--all"}, 2, nil, []string{"give profile names or --all"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skip {
				t.Skip("systemd runs here: a real install would change the host")
			}
			out, errOut, code := runCLI(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("stsd %v = %d; want %d\nstdout: %s\nstderr: %s", tt.args, code, tt.wantCode, out, errOut)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
}

func TestConfigureProfileCommand(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	writeFile(t, creds, "[src]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = fake\n[dev]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n", 0o600)
	cfg := filepath.Join(dir, "stsd.toml")
	writeFile(t, cfg, "credentials_file = \""+creds+"\"\n[profiles.ci]\nsource_profile = \"src\"\n[profiles.dev]\nsource_profile = \"src\"\n", 0o600)
	awsConfig := filepath.Join(dir, "aws config")
	writeFile(t, awsConfig, "[profile ci]\nregion = eu-west-1\n", 0o600)
	bin := filepath.Join(dir, "bin", "stsd-credential-process")

	out, errOut, code := runCLI(t, "configure-profile", "ci", "--config", cfg, "--aws-config", awsConfig, "--binary", bin, "--dry-run")
	if code != 0 || !strings.Contains(out, "+credential_process = "+bin+" --profile ci") {
		t.Errorf("dry run = %d\n%s\n%s", code, out, errOut)
	}
	if b, _ := os.ReadFile(awsConfig); strings.Contains(string(b), "credential_process") {
		t.Errorf("dry run wrote the file")
	}
	_, errOut, code = runCLI(t, "configure-profile", "--all", "--config", cfg, "--aws-config", awsConfig, "--binary", bin)
	if code != 2 || !strings.Contains(errOut, "has keys under [dev]") || strings.Contains(errOut, "fake") {
		t.Errorf("--all with keys under [dev] = %d %q; want 2 and the reason", code, errOut)
	}
	out, errOut, code = runCLI(t, "configure-profile", "ci", "--config", cfg, "--aws-config", awsConfig, "--binary", bin)
	if code != 0 {
		t.Fatalf("configure-profile ci = %d %q", code, errOut)
	}
	b, _ := os.ReadFile(awsConfig)
	if want := "[profile ci]\nregion = eu-west-1\ncredential_process = " + bin + " --profile ci\n"; string(b) != want {
		t.Errorf("config = %q; want %q", b, want)
	}
	if !strings.Contains(out, "stsd-backup") {
		t.Errorf("output does not name the backup: %q", out)
	}
}
