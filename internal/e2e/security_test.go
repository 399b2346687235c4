//go:build !windows

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestSecondRunExitsAtOnce: a second `stsd run` on the same socket exits 1
// at once, saying another daemon runs, and the first keeps serving.
func TestSecondRunExitsAtOnce(t *testing.T) {
	sts := standin(t)
	w := newWorld(t, sts.url, sessionConfig)
	w.startDaemon(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	start := time.Now()
	out, err := w.cmd(ctx, "stsd", "run").CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("a second stsd run did not exit within 10s:\n%s", out)
	}
	if code := exitCode(t, err); code != 1 {
		t.Errorf("second stsd run exited %d; want 1:\n%s", code, out)
	}
	if !strings.Contains(string(out), "another stsd is already running") {
		t.Errorf("second stsd run said %q; want it to name the running daemon", out)
	}
	t.Logf("second stsd run exited after %v", time.Since(start).Round(time.Millisecond))
	if _, stderr, code := w.run(t, "stsd-credential-process", "--profile", "dev"); code != 0 {
		t.Errorf("the first daemon stopped serving after a second run: %d %s", code, stderr)
	}
	if _, stderr, code := w.run(t, "stsd", "status"); code != 0 {
		t.Errorf("stsd status after a second run: %d %s", code, stderr)
	}
}
