//go:build !windows

package daemon

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stsd/stsd/cache"
	"github.com/stsd/stsd/internal/nobody"
	"github.com/stsd/stsd/internal/ststest"
	"github.com/stsd/stsd/internal/wire"
)

// TestBadCacheIgnoredAndReplaced: a corrupt entry, one owned by another
// user, and one from a changed profile are each ignored (one STS call, no
// crash) and replaced by a good entry.
func TestBadCacheIgnoredAndReplaced(t *testing.T) {
	tests := []struct {
		name  string
		plant func(t *testing.T, store *cache.Store, path string)
	}{
		{"corrupt", func(t *testing.T, _ *cache.Store, path string) {
			os.WriteFile(path, []byte(`{"version":1,"credentials":{"AccessKeyId":`), 0o600)
		}},
		{"foreign owner", func(t *testing.T, store *cache.Store, path string) {
			if os.Getuid() != 0 {
				t.Skip("needs root to run a child as nobody")
			}
			// The file is made by a process running as nobody: open the
			// temp dirs up to it for the moment.
			var opened []string
			for d := filepath.Dir(store.Dir()); len(d) > len(os.TempDir()); d = filepath.Dir(d) {
				opened = append(opened, d)
				os.Chmod(d, 0o755)
			}
			os.Chmod(store.Dir(), 0o777)
			cmd := exec.Command("/bin/sh", "-c", `umask 077; echo '{}' > "$0"`, path)
			nobody.Run(cmd)
			out, err := cmd.CombinedOutput()
			os.Chmod(store.Dir(), 0o700)
			for _, d := range opened {
				os.Chmod(d, 0o700)
			}
			if err != nil {
				t.Fatalf("child as nobody: %v %s", err, out)
			}
		}},
		{"changed profile", func(t *testing.T, store *cache.Store, _ string) {
			err := store.Save(&cache.Entry{Version: cache.EntryVersion, Profile: "dev", Fingerprint: "from-an-older-config",
				Credentials: wire.Credentials{AccessKeyID: "ASIAFAKEOLD000000001", SecretAccessKey: "s", SessionToken: "t", Expiration: time.Now().Add(time.Hour).Truncate(time.Second)},
				Issued:      time.Now()})
			if err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t, sessionProfile)
			store := env.store(t)
			path := filepath.Join(store.Dir(), "dev.json")
			tt.plant(t, store, path)
			synctest.Test(t, func(t *testing.T) {
				sts := ststest.NewHandler(ststest.Options{})
				s, _ := New(Options{Config: env.cfg, Store: store, HTTPClient: memClient(sts), Rand: fixedRand})
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				go s.Refresher("dev").Run(ctx)
				c, err := s.Credentials(ctx, "dev")
				if err != nil {
					t.Fatal(err)
				}
				if c.AccessKeyID == "ASIAFAKEOLD000000001" || sts.Calls() != 1 {
					t.Errorf("served %s after %d calls; want a fresh key from 1 call", c.AccessKeyID, sts.Calls())
				}
			})
			e, err := store.Load("dev")
			if err != nil || e.Fingerprint != env.cfg.Profiles["dev"].Fingerprint("") {
				t.Errorf("cache not replaced: %v", err)
			}
		})
	}
}
