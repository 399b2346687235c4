//go:build !windows

package install

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stsd/stsd/internal/nobody"
)

// TestConfigureProfilesAsRootRefusesPlantedPaths: run as root (sudo with
// the user's HOME, say), configure-profile must not follow a symlink
// another user planted into a file of root's, nor edit through a
// directory others may write. Nothing is written, and the error says to
// run it as that user.
func TestConfigureProfilesAsRootRefusesPlantedPaths(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root")
	}
	target := filepath.Join(t.TempDir(), "root-owned")
	const precious = "# root's file\n"
	if err := os.WriteFile(target, []byte(precious), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, home string) string // returns the AWS config path
		want  string
	}{
		{"symlink planted by another user", func(t *testing.T, home string) string {
			os.Chown(home, nobody.UID, nobody.UID)
			cmd := nobody.Run(exec.Command("sh", "-c", `mkdir -p "$H/.aws" && ln -s "$T" "$H/.aws/config"`))
			cmd.Env = []string{"H=" + home, "T=" + target}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("planting the symlink as nobody: %v %s", err, out)
			}
			return filepath.Join(home, ".aws", "config")
		}, "is owned by uid 65534"},
		{"directory others may write", func(t *testing.T, home string) string {
			os.MkdirAll(filepath.Join(home, ".aws"), 0o700)
			os.Chmod(filepath.Join(home, ".aws"), 0o777)
			os.Symlink(target, filepath.Join(home, ".aws", "config"))
			return filepath.Join(home, ".aws", "config")
		}, "is writable by others (mode 0777)"},
		{"file others may write", func(t *testing.T, home string) string {
			os.MkdirAll(filepath.Join(home, ".aws"), 0o700)
			p := filepath.Join(home, ".aws", "config")
			os.WriteFile(p, []byte(precious), 0o666)
			os.Chmod(p, 0o666)
			return p
		}, "is writable by others (mode 0666)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newProfileEnv(t, "", devCreds)
			home, err := os.MkdirTemp("", "home")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(home) })
			os.Chmod(home, 0o755)
			e.awsConfig = tt.setup(t, home)
			var out bytes.Buffer
			err = ConfigureProfiles(e.options(&out, "dev"))
			if err == nil || !strings.Contains(err.Error(), "refusing to edit") || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "sudo -u") {
				t.Errorf("ConfigureProfiles as root = %v; want a refusal naming %q", err, tt.want)
			}
			if b, _ := os.ReadFile(target); string(b) != precious {
				t.Errorf("root's file was changed: %q", b)
			}
			if _, err := os.Stat(target + ".stsd-backup"); err == nil {
				t.Error("a backup was written next to root's file")
			}
		})
	}
}
