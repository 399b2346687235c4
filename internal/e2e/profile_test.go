//go:build !windows

package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunProfileAndAccessLogAtExit: `stsd run --cpu-profile F` writes a
// complete profile to a new owner-only F once SIGTERM stops it, and every
// request the endpoints answered is counted in the log by then (the
// access log's summaries and its writer's batch are flushed at exit).
func TestRunProfileAndAccessLogAtExit(t *testing.T) {
	sts := standin(t)
	w := newWorld(t, sts.url, endpointConfig)
	prof := filepath.Join(w.dir, "cpu.pprof")
	cmd := w.cmd(context.Background(), "stsd", "run", "--cpu-profile", prof)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitSocket(t, filepath.Join(w.dir, "r", "stsd", "stsd.sock"), cmd, &logs)
	e := w.endpointsOf(t)
	const gets = 25
	for range gets {
		if imdsKey(t, e.imds) == "" {
			t.Fatal("IMDS answered no key")
		}
		req, _ := http.NewRequest("GET", e.ecsURL(), nil)
		req.Header.Set("Authorization", e.token(t))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("ECS GET = %d", resp.StatusCode)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("stsd run exited with %v:\n%s", err, logs.String())
	}
	out := logs.String()
	creds := counted(out, "event=http_requests endpoint=imds method=GET path=/latest/meta-data/iam/security-credentials/dev status=200 ")
	ecs := counted(out, "event=http_requests endpoint=ecs method=GET path=/v1/credentials/dev status=200 ")
	if creds != gets || ecs != gets {
		t.Errorf("access lines at exit count %d IMDS and %d ECS credential GETs; want %d each:\n%s", creds, ecs, gets, out)
	}
	if i, j := strings.LastIndex(out, "event=http_request"), strings.LastIndex(out, "event=stopped"); i > j {
		t.Errorf("an access line comes after the daemon's last line:\n%s", out[max(0, j-200):])
	}
	fi, err := os.Lstat(prof)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || !fi.Mode().IsRegular() {
		t.Errorf("profile mode = %v; want a 0600 file", fi.Mode())
	}
	b, _ := os.ReadFile(prof)
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err == nil {
		_, err = io.Copy(io.Discard, zr)
	}
	if err != nil {
		t.Fatalf("profile (%d bytes) is not a complete gzip'd profile: %v", len(b), err)
	}
	if gotool, err := exec.LookPath("go"); err == nil {
		top, err := exec.Command(gotool, "tool", "pprof", "-top", prof).CombinedOutput()
		if err != nil || !strings.Contains(string(top), "Type: cpu") {
			t.Errorf("go tool pprof -top: %v\n%s", err, top)
		}
	}
}

// counted sums requests=N over the log lines holding what.
func counted(log, what string) int {
	n := 0
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, what) {
			continue
		}
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "requests="); ok {
				k, _ := strconv.Atoi(v)
				n += k
			}
		}
	}
	return n
}

// waitSocket waits (bounded) until the daemon cmd listens on sock.
func waitSocket(t *testing.T, sock string, cmd *exec.Cmd, logs *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("stsd run did not listen on %s:\n%s", sock, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
