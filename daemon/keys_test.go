package daemon

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stsd/stsd/internal/clock"
	"github.com/stsd/stsd/internal/redact"
	"github.com/stsd/stsd/internal/ststest"
)

// TestDaemonRotatesKeyOnSchedule: the daemon rotates a key when its
// rotate_every comes due, deletes the old one after rotate_grace, serves
// valid credentials at every step, and its refresher signs with the new
// key from its next refresh on.
func TestDaemonRotatesKeyOnSchedule(t *testing.T) {
	const oldKey = "AKIAFAKESOURCE000001"
	env := newEnv(t, "[profiles.p]\nsource_profile = \"src\"\nduration = \"1h\"\n[keys.src]\nrotate_every = \"2h\"\nrotate_grace = \"5m\"\n")
	clk := clock.NewFake(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	h := ststest.NewServer(t, ststest.Options{Now: clk.Now})
	h.AddAccessKey(oldKey)
	s, _, _ := startDaemon(t, Options{Logger: slog.New(slog.NewTextHandler(t.Output(), nil)), Config: env.cfg, Clock: clk, Rand: fixedRand, HTTPClient: memClient(h.Handler), KeysDir: filepath.Join(env.dir, "keys")})
	valid := func() bool {
		c, err := s.Credentials(t.Context(), "p")
		return err == nil && c.Expiration.After(clk.Now())
	}
	eventually(t, "first credentials", valid)
	// step advances the fake clock and waits for the refresher to serve
	// valid credentials at the new time.
	step := func(d time.Duration) {
		clk.Advance(d)
		eventually(t, "valid credentials at "+clk.Now().Format(time.TimeOnly), valid)
	}
	// Keep the fake clock moving (boundedly) until the schedule has
	// rotated: its timers are on the fake clock.
	until := func(what string, cond func() bool) {
		for i := 0; !cond(); i++ {
			if i == 400 {
				t.Fatalf("never: %s; IAM keys %+v", what, h.AccessKeys())
			}
			step(time.Minute)
			time.Sleep(2 * time.Millisecond)
		}
	}
	until("the new key stored and the old one inactive", func() bool {
		ids := h.ActiveKeys()
		return len(ids) == 1 && ids[0] != oldKey
	})
	newKey := h.ActiveKeys()[0]
	until("the old key deleted after rotate_grace", func() bool { return len(h.AccessKeys()) == 1 })
	data, _ := os.ReadFile(filepath.Join(env.dir, "credentials"))
	if !strings.Contains(string(data), newKey) || strings.Contains(string(data), oldKey) {
		t.Errorf("credentials file does not hold the new key:\n%s", data)
	}
	signedWithNew := func() bool {
		for _, r := range h.Requests() {
			if r.Action == ststest.ActionGetSessionToken && r.AccessKeyID == newKey {
				return true
			}
		}
		return false
	}
	for i := 0; i < 6 && !signedWithNew(); i++ {
		step(10 * time.Minute)
	}
	if !signedWithNew() {
		t.Error("the refresher never signed with the rotated key")
	}
	eventually(t, "status shows the rotation and the next one", func() bool {
		st := s.Status()
		return len(st.Keys) == 1 && st.Keys[0].Rotated != nil && st.Keys[0].NextRotation != nil && st.Keys[0].KeyID == redact.KeyID(newKey) && st.Keys[0].Rotating == ""
	})
}
