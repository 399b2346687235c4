package daemon

import (
	"bytes"
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
	"sync"
	"testing"
	"time"

	"github.com/stsd/stsd/internal/clock"
	"github.com/stsd/stsd/internal/servetest"
	"github.com/stsd/stsd/internal/ststest"
)

// startDaemon runs a Supervisor on a fresh socket until the test ends and
// returns it with a client for the socket.
func startDaemon(t testing.TB, o Options) (*Supervisor, *http.Client, func()) {
	t.Helper()
	if o.Socket == "" {
		o.Socket = shortSocket(t)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitSocket(t, o.Socket, done)
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v", err)
		}
	})
	t.Cleanup(stop)
	return s, socketClient(o.Socket), stop
}

func waitSocket(t testing.TB, sock string, done chan error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return
		}
		select {
		case err := <-done:
			t.Fatalf("daemon exited: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatal("daemon did not listen")
}

func decodeCreds(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("credentials JSON: %v", err)
	}
	return m
}

func TestCredentialsOverSocketAndRestartFromCache(t *testing.T) {
	env := newEnv(t, sessionProfile)
	sts := ststest.NewServer(t, ststest.Options{})
	hc := &http.Client{}
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	store := env.store(t)
	_, c, stop := startDaemon(t, Options{Config: env.cfg, Store: store, HTTPClient: hc})
	code, body := get(t, c, "/v1/credentials/dev")
	if code != 200 {
		t.Fatalf("GET credentials = %d %s", code, body)
	}
	first := decodeCreds(t, body)
	if first["Version"] != float64(1) || !strings.HasPrefix(first["AccessKeyId"].(string), "ASIA") {
		t.Fatalf("credentials = %v", first["AccessKeyId"])
	}
	if _, err := time.Parse("2006-01-02T15:04:05Z", first["Expiration"].(string)); err != nil {
		t.Errorf("Expiration %q is not whole-second UTC: %v", first["Expiration"], err)
	}
	stop()

	// A new daemon starts from the cache: no STS call, the same key.
	_, c2, _ := startDaemon(t, Options{Config: env.cfg, Store: store, HTTPClient: hc})
	code, body = get(t, c2, "/v1/credentials/dev")
	if code != 200 {
		t.Fatalf("GET after restart = %d %s", code, body)
	}
	if got := decodeCreds(t, body)["AccessKeyId"]; got != first["AccessKeyId"] {
		t.Errorf("after restart key changed")
	}
	if got := sts.Calls(); got != 1 {
		t.Errorf("STS calls across restart = %d; want 1", got)
	}
}

func TestSocketRemovedAndErrorsShaped(t *testing.T) {
	env := newEnv(t, sessionProfile)
	sts := ststest.NewServer(t, ststest.Options{})
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	sock := shortSocket(t)
	_, c, stop := startDaemon(t, Options{Config: env.cfg, Socket: sock})
	code, body := get(t, c, "/v1/credentials/nope")
	if code != 404 || !bytes.Contains(body, []byte(`"Code":"UnknownProfile"`)) {
		t.Errorf("unknown profile = %d %s; want 404 UnknownProfile", code, body)
	}
	code, _ = get(t, c, "/livez")
	if code != 200 {
		t.Errorf("/livez = %d", code)
	}
	code, body = get(t, c, "/v1/status")
	var st Status
	if code != 200 || json.Unmarshal(body, &st) != nil || len(st.Profiles) != 1 {
		t.Fatalf("status = %d %s", code, body)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode = %v, %v; want 0600", fi, err)
	}
	stop()
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket after stop: %v; want removed", err)
	}
}

func TestSecondDaemonRefusedStaleSocketReplaced(t *testing.T) {
	env := newEnv(t, sessionProfile)
	sts := ststest.NewServer(t, ststest.Options{})
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	sock := shortSocket(t)
	startDaemon(t, Options{Config: env.cfg, Socket: sock})
	s2, _ := New(Options{Config: env.cfg, Socket: sock})
	if err := s2.Run(t.Context()); !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second Run() = %v; want ErrAlreadyRunning", err)
	}

	// A stale socket file (nobody listening) is replaced.
	stale := shortSocket(t)
	os.MkdirAll(filepath.Dir(stale), 0o700)
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	startDaemon(t, Options{Config: env.cfg, Socket: stale})
}

// TestThousandClientsAtRefreshMoment: 1000 concurrent GETs while the
// refresh fires make exactly one STS call, and every client gets valid
// credentials.
func TestThousandClientsAtRefreshMoment(t *testing.T) {
	env := newEnv(t, sessionProfile)
	start := time.Now()
	fc := clock.NewFake(start)
	sts := ststest.NewServer(t, ststest.Options{Now: fc.Now, Latency: 50 * time.Millisecond})
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	s, c, _ := startDaemon(t, Options{Config: env.cfg, Clock: fc, Rand: fixedRand})
	if code, body := get(t, c, "/v1/credentials/dev"); code != 200 {
		t.Fatalf("first GET = %d %s", code, body)
	}
	next := s.Refresher("dev").snap.Load().next
	var wg sync.WaitGroup
	var mu sync.Mutex
	failures := 0
	gate := make(chan struct{})
	for range 1000 {
		wg.Go(func() {
			<-gate
			resp, err := c.Get("http://stsd/v1/credentials/dev")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures++
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				failures++
			}
		})
	}
	fc.Advance(next.Sub(fc.Now()))
	close(gate)
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for sts.Calls() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if got := sts.Calls(); got != 2 {
		t.Errorf("STS calls = %d; want 2 (start + one refresh)", got)
	}
	if failures != 0 {
		t.Errorf("%d of 1000 clients failed", failures)
	}
}

// TestRealTimeRefreshBeforeExpiry runs on the wall clock: 20 s credentials
// are replaced before they expire.
func TestRealTimeRefreshBeforeExpiry(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time test")
	}
	env := newEnv(t, sessionProfile)
	sts := ststest.NewServer(t, ststest.Options{Lifetime: 20 * time.Second})
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	_, c, _ := startDaemon(t, Options{Config: env.cfg})
	_, body := get(t, c, "/v1/credentials/dev")
	first := decodeCreds(t, body)
	exp, _ := time.Parse(time.RFC3339, first["Expiration"].(string))
	for time.Now().Before(exp.Add(-time.Second)) {
		if sts.Calls() >= 2 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if sts.Calls() < 2 {
		t.Fatalf("no refresh before expiry at %s", exp)
	}
	_, body = get(t, c, "/v1/credentials/dev")
	if decodeCreds(t, body)["AccessKeyId"] == first["AccessKeyId"] {
		t.Error("still the old key after the refresh")
	}
}

// TestNoSecretsInLogsOrStatus refreshes, fails and serves with logs captured
// and fails if any secret shows up.
func TestNoSecretsInLogsOrStatus(t *testing.T) {
	env := newEnv(t, sessionProfile)
	sts := ststest.NewServer(t, ststest.Options{Lifetime: 2 * time.Second})
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	var logs servetest.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, c, stop := startDaemon(t, Options{Config: env.cfg, Logger: log, Store: env.store(t)})
	_, body := get(t, c, "/v1/credentials/dev")
	creds := decodeCreds(t, body)
	sts.Fail(ststest.FaultAccessDenied)
	time.Sleep(1500 * time.Millisecond)
	_, status := get(t, c, "/v1/status")
	stop()
	for _, secret := range []string{creds["SecretAccessKey"].(string), creds["SessionToken"].(string), creds["AccessKeyId"].(string), "fakeSecretFakeSecret"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("a secret is in the logs")
		}
		if strings.Contains(string(status), secret) {
			t.Errorf("a secret is in the status")
		}
	}
	if !strings.Contains(logs.String(), "event=refreshed") {
		t.Errorf("no refreshed event in logs:\n%s", logs.String())
	}
}

func TestMetricsListenAndReadyz(t *testing.T) {
	env := newEnv(t, "metrics_listen = \"127.0.0.1:0\"\n"+sessionProfile)
	sts := ststest.NewServer(t, ststest.Options{})
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	s, c, _ := startDaemon(t, Options{Config: env.cfg})
	_, body := get(t, c, "/v1/credentials/dev")
	creds := decodeCreds(t, body)
	base := "http://" + s.Status().Metrics
	fetch := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, page := fetch("/metrics")
	for _, want := range []string{`stsd_refreshes_total{profile="dev",result="ok"} 1`, `stsd_endpoint_requests_total{endpoint="socket",status="200"} 1`,
		`stsd_profile_state{profile="dev",state="ok"} 1`, "stsd_sts_request_duration_seconds_bucket", "stsd_credentials_expiry_seconds"} {
		if code != 200 || !strings.Contains(page, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, page)
		}
	}
	for _, secret := range []string{creds["SecretAccessKey"].(string), creds["SessionToken"].(string), creds["AccessKeyId"].(string)} {
		if strings.Contains(page, secret) {
			t.Error("a secret or key id is on the metrics page")
		}
	}
	if code, _ := fetch("/readyz"); code != 200 {
		t.Errorf("/readyz = %d", code)
	}
	if code, _ := fetch("/readyz?profile=dev,nope"); code != 503 {
		t.Errorf("/readyz for an unknown profile = %d; want 503", code)
	}
	if code, _ := fetch("/livez"); code != 200 {
		t.Errorf("/livez = %d", code)
	}
	// The control socket serves /metrics to its admin too.
	if code, page := get(t, c, "/metrics"); code != 200 || !strings.Contains(string(page), "stsd_refreshes_total") {
		t.Errorf("socket /metrics = %d", code)
	}
}
