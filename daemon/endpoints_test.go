package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stsd/stsd/internal/servetest"
	"github.com/stsd/stsd/internal/ststest"
)

// endpointProfiles serves dev over IMDS and both profiles over ECS, on
// ports the kernel picks.
func endpointProfiles(tokenDir string) string {
	return `
[ecs]
listen = "127.0.0.1:0"
token_dir = "` + tokenDir + `"

[profiles.dev]
source_profile = "src"
duration = "1h"
region = "eu-west-1"
imds_listen = "127.0.0.1:0"

[profiles.other]
source_profile = "src"
duration = "1h"
`
}

// boundEndpoints reads the bound endpoint addresses from status.
func boundEndpoints(t *testing.T, c *http.Client, profile string) (imdsAddr, ecsAddr string) {
	t.Helper()
	code, body := get(t, c, "/v1/status")
	var st Status
	if code != 200 || json.Unmarshal(body, &st) != nil {
		t.Fatalf("status = %d %s", code, body)
	}
	for _, p := range st.Profiles {
		if p.Profile != profile {
			continue
		}
		for _, e := range p.Endpoints {
			if a, ok := strings.CutPrefix(e, "imds "); ok {
				imdsAddr = a
			}
			if a, ok := strings.CutPrefix(e, "ecs "); ok {
				ecsAddr = a
			}
		}
	}
	return imdsAddr, ecsAddr
}

// imdsCreds fetches credentials the IMDSv2 way and returns the key id.
func imdsCreds(t *testing.T, addr string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("PUT", "http://"+addr+"/latest/api/token", nil)
	req.Header.Set("X-aws-ec2-metadata-token-ttl-seconds", "60")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return resp.StatusCode, ""
	}
	req, _ = http.NewRequest("GET", "http://"+addr+"/latest/meta-data/iam/security-credentials/dev", nil)
	req.Header.Set("X-aws-ec2-metadata-token", string(tok))
	return keyID(t, req)
}

func ecsCreds(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", token)
	return keyID(t, req)
}

func keyID(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c struct {
		AccessKeyID string `json:"AccessKeyId"`
	}
	json.NewDecoder(resp.Body).Decode(&c)
	return resp.StatusCode, c.AccessKeyID
}

// eventually polls f until it is true (real sockets, so real time).
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestEndpointsServeAndRefresh(t *testing.T) {
	dir := t.TempDir()
	tokenDir := filepath.Join(dir, "ecs")
	env := newEnv(t, endpointProfiles(tokenDir))
	sts := ststest.NewServer(t, ststest.Options{})
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	sock := shortSocket(t)
	_, c, stop := startDaemon(t, Options{Config: env.cfg, Socket: sock})

	imdsAddr, ecsAddr := boundEndpoints(t, c, "dev")
	if imdsAddr == "" || ecsAddr == "" || strings.HasSuffix(imdsAddr, ":0") {
		t.Fatalf("status endpoints: imds %q ecs %q; want bound addresses", imdsAddr, ecsAddr)
	}
	if a, e := boundEndpoints(t, c, "other"); a != "" || e != ecsAddr {
		t.Errorf("other's endpoints: imds %q ecs %q; want only ecs", a, e)
	}
	code, key := imdsCreds(t, imdsAddr)
	if code != 200 || !strings.HasPrefix(key, "ASIA") {
		t.Fatalf("IMDS credentials = %d %q", code, key)
	}

	// ECS with the profile's token file, created 0600.
	fi, err := os.Stat(filepath.Join(tokenDir, "dev.token"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v; want 0600", fi, err)
	}
	tok, _ := os.ReadFile(filepath.Join(tokenDir, "dev.token"))
	ecsURL := "http://" + ecsAddr + "/v1/credentials/dev"
	if code, k := ecsCreds(t, ecsURL, strings.TrimSpace(string(tok))); code != 200 || k != key {
		t.Errorf("ECS with file token = %d, same key %v; want 200, the IMDS key", code, k == key)
	}
	other, _ := os.ReadFile(filepath.Join(tokenDir, "other.token"))
	if code, _ := ecsCreds(t, ecsURL, strings.TrimSpace(string(other))); code != 403 {
		t.Errorf("ECS dev with other's token = %d; want 403", code)
	}

	// A forced refresh reaches both endpoints.
	req, _ := http.NewRequest("POST", "http://stsd/v1/refresh/dev", nil)
	if resp, err := c.Do(req); err != nil || resp.StatusCode >= 300 {
		t.Fatalf("refresh: %v %v", resp, err)
	}
	eventually(t, "the new key on IMDS", func() bool { _, k := imdsCreds(t, imdsAddr); return k != key && k != "" })
	_, newKey := imdsCreds(t, imdsAddr)
	if _, k := ecsCreds(t, ecsURL, strings.TrimSpace(string(tok))); k != newKey {
		t.Error("ECS does not serve the refreshed key")
	}
	code, body := get(t, c, "/metrics")
	for _, want := range []string{`stsd_endpoint_requests_total{endpoint="imds",status="200"}`, `stsd_endpoint_requests_total{endpoint="ecs",status="403"} 1`} {
		if code != 200 || !strings.Contains(string(body), want) {
			t.Errorf("/metrics = %d, lacks %s", code, want)
		}
	}
	stop()
	if _, err := net.Dial("tcp", imdsAddr); err == nil {
		t.Error("IMDS still listens after stop")
	}
}

func TestExecToken(t *testing.T) {
	env := newEnv(t, endpointProfiles(filepath.Join(t.TempDir(), "ecs")))
	sts := ststest.NewServer(t, ststest.Options{})
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	sock := shortSocket(t)
	_, _, stop := startDaemon(t, Options{Config: env.cfg, Socket: sock})
	client := NewClient(sock)

	tok, err := client.ExecToken(t.Context(), "dev")
	if err != nil {
		t.Fatalf("ExecToken: %v", err)
	}
	if !strings.HasPrefix(tok.URL, "http://127.0.0.1:") || !strings.HasSuffix(tok.URL, "/v1/credentials/dev") || tok.Region != "eu-west-1" || tok.Expiration.IsZero() {
		t.Errorf("exec token URL %q region %q expiration %v", tok.URL, tok.Region, tok.Expiration)
	}
	if code, _ := ecsCreds(t, tok.URL, tok.Token); code != 200 {
		t.Errorf("ECS with exec token = %d; want 200", code)
	}
	otherURL := strings.TrimSuffix(tok.URL, "dev") + "other"
	if code, _ := ecsCreds(t, otherURL, tok.Token); code != 403 {
		t.Errorf("ECS other with dev's exec token = %d; want 403", code)
	}
	tok.Close()
	eventually(t, "the exec token to be revoked", func() bool {
		code, _ := ecsCreds(t, tok.URL, tok.Token)
		return code == 403
	})

	if _, err := client.ExecToken(t.Context(), "nope"); err == nil {
		t.Error("exec token for an unknown profile was issued")
	}

	// A token held while the daemon stops: Run still returns (the request
	// ends with the daemon).
	held, err := client.ExecToken(t.Context(), "dev")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	stop()
}

func TestExecTokenNoECS(t *testing.T) {
	env := newEnv(t, sessionProfile)
	sts := ststest.NewServer(t, ststest.Options{})
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	sock := shortSocket(t)
	startDaemon(t, Options{Config: env.cfg, Socket: sock})
	_, err := NewClient(sock).ExecToken(t.Context(), "dev")
	if !errors.Is(err, ErrNoECS) {
		t.Errorf("ExecToken without [ecs] = %v; want ErrNoECS", err)
	}
}

// TestEndpointPortInUse: a listener that cannot bind fails the start, and
// nothing stays open.
func TestEndpointPortInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	env := newEnv(t, sessionProfile+`imds_listen = "`+busy.Addr().String()+`"`+"\n")
	sock := shortSocket(t)
	s, err := New(Options{Config: env.cfg, Socket: sock})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = s.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "imds_listen") {
		t.Fatalf("Run with a busy imds port = %v; want an imds_listen error", err)
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left behind after a failed start: %v", err)
	}
}

// TestExecTokenBodyBounded: an exec-token request whose body never
// arrives whole is answered 408 within ExecBodyTimeout, issues no token,
// and leaves nothing held open.
func TestExecTokenBodyBounded(t *testing.T) {
	env := newEnv(t, endpointProfiles(filepath.Join(t.TempDir(), "ecs")))
	sts := ststest.NewServer(t, ststest.Options{})
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	var logs servetest.Buffer
	sock := shortSocket(t)
	startDaemon(t, Options{Config: env.cfg, Socket: sock, ExecBodyTimeout: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "POST /v1/exec-token/dev HTTP/1.1\r\nHost: stsd\r\nContent-Length: 10\r\n\r\nab")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a body that never ends: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || strings.Contains(string(b), `"token"`) {
		t.Errorf("exec-token with an unfinished body = %d %s; want 408 and no token", resp.StatusCode, b)
	}
	if strings.Contains(logs.String(), "exec_token_issued") {
		t.Error("a token was issued for a request whose body never arrived")
	}
}
