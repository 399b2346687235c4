//go:build !windows

package daemon_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/daemon"
	"github.com/stsd/stsd/internal/ststest"
)

// These tests use only the daemon's exported API (plus
// WithPeerUIDForTest), so they hold while its internals change.

// harness is a Supervisor serving on a real socket, with its IMDS and ECS
// endpoints on loopback ports, in a private HOME.
type harness struct {
	s        *daemon.Supervisor
	sts      *ststest.Handler
	dir      string
	sock     string
	ctl      *http.Client // over the socket: the peer is this process (root or the daemon's user)
	imds     string       // dev's IMDS address
	ecs      string       // the ECS address
	tokenDir string
}

const harnessCredentials = `[src]
aws_access_key_id = AKIAFAKESOURCE000001
aws_secret_access_key = fakeSecretFakeSecretFakeSecretFakeSecret
`

// harnessProfiles: dev over all three paths (also for nobody), mfa needs a code (and has
// none yet), other is a second profile on ECS.
const harnessProfiles = `
[ecs]
listen = "127.0.0.1:0"
token_dir = "TOKENDIR"

[profiles.dev]
source_profile = "src"
duration = "1h"
imds_listen = "127.0.0.1:0"
allowed_uids = [UID, 65534]

[profiles.mfa]
source_profile = "src"
duration = "1h"
mfa_serial = "arn:aws:iam::123456789012:mfa/alice"
mfa_prompt = "none"

[profiles.other]
source_profile = "src"
duration = "1h"
`

// harnessMFASerial and harnessMFACode are what the stand-in accepts for
// profile mfa.
const (
	harnessMFASerial = "arn:aws:iam::123456789012:mfa/alice"
	harnessMFACode   = "424242"
)

// startHarness writes the files, loads the config and runs a daemon until
// the test ends. o's Config, Socket and HTTPClient are filled in. It sets
// HOME and AWS_*: callers stay serial.
func startHarness(tb testing.TB, o daemon.Options) *harness {
	tb.Helper()
	dir, err := os.MkdirTemp("", "dh") // short: the socket lives here
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	tb.Setenv("HOME", dir)
	tb.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "aws-config"))
	tb.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	for _, k := range []string{"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_REGION"} {
		tb.Setenv(k, "")
		os.Unsetenv(k)
	}
	h := &harness{dir: dir, sock: filepath.Join(dir, "s", "stsd.sock"), tokenDir: filepath.Join(dir, "ecs")}
	writeFile(tb, filepath.Join(dir, "credentials"), harnessCredentials)
	writeFile(tb, filepath.Join(dir, "aws-config"), "")
	path := filepath.Join(dir, "config.toml")
	writeFile(tb, path, strings.NewReplacer("TOKENDIR", h.tokenDir, "UID", strconv.Itoa(os.Getuid())).Replace(harnessProfiles))
	cfg, err := config.Load(path, config.Options{Hostname: "testhost"})
	if err != nil {
		tb.Fatalf("config.Load: %v", err)
	}
	h.sts = ststest.NewHandler(ststest.Options{})
	h.sts.SetMFA(harnessMFASerial, harnessMFACode)
	tb.Cleanup(h.sts.Close)
	o.Config, o.Socket = cfg, h.sock
	if o.HTTPClient == nil && o.NewFetcher == nil {
		o.HTTPClient = &http.Client{Transport: h.sts.RoundTripper()}
	}
	if o.WaitTimeout == 0 {
		o.WaitTimeout = 5 * time.Second
	}
	h.s, err = daemon.New(o)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.s.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Run() = %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", h.sock); err == nil {
			c.Close()
			break
		}
		select {
		case err := <-done:
			tb.Fatalf("daemon exited: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatal("daemon did not listen")
		}
	}
	h.ctl = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", h.sock)
		},
	}}
	tb.Cleanup(h.ctl.CloseIdleConnections)
	// The bound addresses, from the control API (Status() itself is not
	// safe to call while Run starts up).
	code, _, body := raw(tb, "unix:"+h.sock, "GET /v1/status HTTP/1.0\r\nHost: stsd\r\n\r\n")
	var st daemon.Status
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil {
		tb.Fatalf("status = %d %v", code, err)
	}
	for _, p := range st.Profiles {
		for _, e := range p.Endpoints {
			if a, ok := strings.CutPrefix(e, "imds "); ok && p.Profile == "dev" {
				h.imds = a
			}
			if a, ok := strings.CutPrefix(e, "ecs "); ok {
				h.ecs = a
			}
		}
	}
	if h.imds == "" || h.ecs == "" {
		tb.Fatalf("no bound endpoints in status: %s", body)
	}
	return h
}

func writeFile(tb testing.TB, path, data string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// token reads a profile's ECS token file.
func (h *harness) token(tb testing.TB, profile string) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(h.tokenDir, profile+".token"))
	if err != nil {
		tb.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// raw sends req exactly as written to addr ("unix:" prefix for the socket)
// and returns the status, Content-Type and body.
func raw(tb testing.TB, addr, req string) (int, string, string) {
	tb.Helper()
	network := "tcp"
	if a, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, addr = "unix", a
	}
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(c, req)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		tb.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// imdsToken gets an IMDSv2 token for dev.
func (h *harness) imdsToken(tb testing.TB) string {
	tb.Helper()
	code, _, tok := raw(tb, h.imds, "PUT /latest/api/token HTTP/1.1\r\nHost: 127.0.0.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 600\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	if code != 200 {
		tb.Fatalf("IMDS token PUT = %d", code)
	}
	return tok
}
