package paths

import (
	"path/filepath"
	"testing"
)

func TestAWSFiles(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("USERPROFILE", home)
	wd, _ := filepath.Abs(".")
	tests := []struct {
		name, configured, credsEnv, configEnv string
		wantCreds, wantConfig                 string
	}{
		{"defaults", "", "", "", filepath.Join(home, ".aws", "credentials"), filepath.Join(home, ".aws", "config")},
		{"env with ~", "", "~/c", "~/k", filepath.Join(home, "c"), filepath.Join(home, "k")},
		{"relative env", "", "c", "k", filepath.Join(wd, "c"), filepath.Join(wd, "k")},
		{"configured wins", "/etc/stsd/credentials", "/x", "", "/etc/stsd/credentials", filepath.Join(home, ".aws", "config")},
		{"configured ~", "~/creds", "", "", filepath.Join(home, "creds"), filepath.Join(home, ".aws", "config")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", tt.credsEnv)
			t.Setenv("AWS_CONFIG_FILE", tt.configEnv)
			if got := AWSCredentialsFile(tt.configured); got != tt.wantCreds {
				t.Errorf("AWSCredentialsFile(%q) = %q; want %q", tt.configured, got, tt.wantCreds)
			}
			if got := AWSConfigFile(); got != tt.wantConfig {
				t.Errorf("AWSConfigFile() = %q; want %q", got, tt.wantConfig)
			}
		})
	}
}
