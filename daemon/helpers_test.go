package daemon

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stsd/stsd/cache"
	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/ststest"
)

// testEnv is a private HOME with a long-term key in a shared credentials
// file and an stsd config.
type testEnv struct {
	dir string
	cfg *config.Config
}

const testCredentials = `[src]
aws_access_key_id = AKIAFAKESOURCE000001
aws_secret_access_key = fakeSecretFakeSecretFakeSecretFakeSecret
`

// newEnv writes the files and loads profiles (TOML for [profiles.*]). It
// sets AWS_CONFIG_FILE and HOME, so callers stay serial.
func newEnv(t testing.TB, profiles string) *testEnv {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "aws-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	for _, k := range []string{"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_REGION"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	write(t, filepath.Join(dir, "credentials"), testCredentials)
	write(t, filepath.Join(dir, "aws-config"), "")
	path := filepath.Join(dir, "config.toml")
	write(t, path, profiles)
	cfg, err := config.Load(path, config.Options{Hostname: "testhost"})
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	return &testEnv{dir: dir, cfg: cfg}
}

func write(t testing.TB, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (e *testEnv) store(t testing.TB) *cache.Store {
	t.Helper()
	s, err := cache.Open(filepath.Join(e.dir, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// shortSocket returns a socket path short enough for sun_path.
func shortSocket(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "sd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return filepath.Join(d, "s", "stsd.sock")
}

// memClient sends STS requests to h in memory.
func memClient(h *ststest.Handler) *http.Client {
	return &http.Client{Transport: h.RoundTripper()}
}

// socketClient returns an http.Client speaking to the unix socket.
func socketClient(sock string) *http.Client {
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
		MaxIdleConnsPerHost: 100,
	}}
}

func get(t *testing.T, c *http.Client, path string) (int, []byte) {
	t.Helper()
	resp, err := c.Get("http://stsd" + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// fixedRand makes jitter deterministic: 0.5 gives factor 1.0 on margins.
func fixedRand() float64 { return 0.5 }

// runDev builds a Supervisor and runs its "dev" refresher until the test
// ends (inside a synctest bubble: no socket, no endpoints).
func runDev(t *testing.T, o Options) (*Supervisor, *Refresher) {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	r := s.Refresher("dev")
	go r.Run(t.Context())
	return s, r
}
