package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stsd/stsd/internal/redact"
	"github.com/stsd/stsd/internal/servetest"
)

const userKey = "AKIAFAKEUSER00000001"

// callSTS makes one signed-looking GetSessionToken call.
func callSTS(t *testing.T, url string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url,
		strings.NewReader("Action=GetSessionToken&Version=2011-06-15&DurationSeconds=900"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+userKey+"/20260304/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("<AccessKeyId>ASIAFAKE")) {
		t.Fatalf("GetSessionToken: status %d; want 200 with credentials", resp.StatusCode)
	}
}

// readURL reads the STS_URL line.
func readURL(t *testing.T, r io.Reader) string {
	t.Helper()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("read STS_URL line: %v", err)
	}
	url, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "STS_URL=http://127.0.0.1:")
	if !ok || url == "" {
		t.Fatalf("first line = %q; want STS_URL=http://127.0.0.1:PORT", line)
	}
	return "http://127.0.0.1:" + url
}

func TestRun(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	var stderr servetest.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"-lifetime", "15m"}, pw, &stderr) }()
	callSTS(t, readURL(t, pr))
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("run() = %d; want 0; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run() did not return after cancel")
	}
	logs := stderr.String()
	if !strings.Contains(logs, "action=GetSessionToken akid="+redact.KeyID(userKey)) || strings.Contains(logs, userKey) {
		t.Errorf("stderr lacks a redacted log line:\n%s", logs)
	}
}

func TestRunUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
	}{
		{"allInterfaces", []string{"-listen", "0.0.0.0:0"}},
		{"emptyHost", []string{"-listen", ":0"}},
		{"publicIP", []string{"-listen", "203.0.113.1:0"}},
		{"privateIP", []string{"-listen", "10.0.0.1:0"}},
		{"hostname", []string{"-listen", "example.com:0"}},
		{"noPort", []string{"-listen", "127.0.0.1"}},
		{"badFlag", []string{"-nope"}},
		{"extraArg", []string{"serve"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			if code := run(t.Context(), tt.args, &stdout, &stderr); code != 2 {
				t.Errorf("run(%q) = %d; want 2", tt.args, code)
			}
			if stdout.Len() != 0 {
				t.Errorf("run(%q) printed %q to stdout", tt.args, stdout.String())
			}
		})
	}
}

func TestCheckLoopback(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"127.0.0.1:0", "127.0.0.2:8080", "[::1]:0", "localhost:0"} {
		if err := checkLoopback(addr); err != nil {
			t.Errorf("checkLoopback(%q) = %v; want nil", addr, err)
		}
	}
}

// TestBinary builds fakests, starts it, calls it and stops it with SIGTERM.
func TestBinary(t *testing.T) {
	t.Parallel()
	if sigterm == nil {
		t.Skip("cannot send SIGTERM on this OS")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	bin := filepath.Join(t.TempDir(), "fakests")
	if out, err := exec.CommandContext(t.Context(), gobin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(t.Context(), bin, "-listen", "127.0.0.1:0", "-lifetime", "15m")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr servetest.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start fakests: %v", err)
	}
	callSTS(t, readURL(t, stdout))
	if err := cmd.Process.Signal(sigterm); err != nil {
		t.Fatalf("signal fakests: %v", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Errorf("fakests exit: %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("fakests did not exit after SIGTERM")
	}
	if !strings.Contains(stderr.String(), "action=GetSessionToken") {
		t.Errorf("stderr lacks the call log:\n%s", stderr.String())
	}
}
