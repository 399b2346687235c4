//go:build !windows

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stsd/stsd/internal/ststest"
	"github.com/stsd/stsd/keys"
)

// TestRotationKilledRecoversAtNextStart kills `stsd key rotate` (SIGKILL)
// while IAM holds the answer to a call that already took effect, then
// starts the daemon: it finishes or rolls back the rotation from the
// journal, exactly one key is active and it is the stored one, and
// credentials are served before and after.
func TestRotationKilledRecoversAtNextStart(t *testing.T) {
	tests := []struct {
		action     string
		rolledBack bool // the old key is kept
	}{
		{ststest.ActionCreateAccessKey, true},
		{ststest.ActionGetAccessKeyLastUsed, false},
		{ststest.ActionUpdateAccessKey, false},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			sts := ststest.NewServer(t, ststest.Options{})
			sts.AddAccessKey(worldKey)
			w := newWorld(t, sts.URL, sessionConfig+"[keys.src]\nrotate_grace = \"1h\"\n")
			w.env = append(w.env, "AWS_ENDPOINT_URL_IAM="+sts.URL)
			sts.HangIAM(tt.action)
			rot := w.cmd(context.Background(), "stsd", "key", "rotate", "src")
			if err := rot.Start(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool { return sts.IAMHanging() == 1 })
			rot.Process.Signal(syscall.SIGKILL)
			rot.Wait()

			// The key stored when it died works.
			if _, errOut, code := w.run(t, "stsd-credential-process", "--profile", "dev"); code != 0 {
				t.Fatalf("credential_process after the kill: %d %s", code, errOut)
			}
			w.startDaemon(t)
			var infos []keys.Info
			waitFor(t, func() bool {
				out, _, _ := w.run(t, "stsd", "key", "list", "--json")
				infos = nil
				_ = json.Unmarshal([]byte(out), &infos)
				return len(infos) == 1 && (infos[0].Rotating == "" || infos[0].Rotating == string(keys.StepDeactivated))
			})
			b, _ := os.ReadFile(filepath.Join(w.dir, "h", ".aws", "credentials"))
			stored := strings.Contains(string(b), worldKey)
			if stored != tt.rolledBack {
				t.Errorf("old key still stored = %v; want %v", stored, tt.rolledBack)
			}
			active := sts.ActiveKeys()
			if len(active) != 1 || !strings.Contains(string(b), active[0]) {
				t.Errorf("active keys %v; want exactly the stored one", active)
			}
			if tt.rolledBack && len(sts.AccessKeys()) != 1 {
				t.Errorf("IAM keys %v; want the one a killed create made deleted", sts.AccessKeys())
			}
			if _, errOut, code := w.run(t, "stsd-credential-process", "--profile", "dev"); code != 0 {
				t.Errorf("credential_process through the daemon after recovery: %d %s", code, errOut)
			}
		})
	}
}
