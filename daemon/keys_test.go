package daemon

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stsd/stsd/internal/clock"
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
	var newKey string
	for step := 0; step < 60; step++ {
		clk.Advance(10 * time.Minute)
		eventually(t, "valid credentials at "+clk.Now().Format(time.TimeOnly), valid)
		if ids := h.ActiveKeys(); len(ids) == 1 && ids[0] != oldKey && len(h.AccessKeys()) == 1 {
			newKey = ids[0]
			break
		}
	}
	if newKey == "" {
		t.Fatalf("no finished rotation after 10 hours; IAM keys %+v", h.AccessKeys())
	}
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
	for step := 0; step < 6 && !signedWithNew(); step++ {
		clk.Advance(10 * time.Minute)
		eventually(t, "valid credentials", valid)
	}
	if !signedWithNew() {
		t.Error("the refresher never signed with the rotated key")
	}
	st := s.Status()
	if len(st.Keys) != 1 || st.Keys[0].Rotated == nil || st.Keys[0].NextRotation == nil || st.Keys[0].KeyID == "" {
		t.Errorf("status keys = %+v; want the rotation and the next one", st.Keys)
	}
}
