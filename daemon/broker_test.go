package daemon

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stsd/stsd/internal/clock"
	"github.com/stsd/stsd/internal/ststest"
	"github.com/stsd/stsd/internal/testca"
)

// brokerTestToken is client name's token in these tests.
func brokerTestToken(name string) string { return "TOKEN" + strings.Repeat("0", 16) + name }

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// brokerTestConfig: a broker on 127.0.0.1:0 with a throwaway CA's
// certificate, clients c000… each allowed every profile p0…, federated
// names "{client}.{profile}".
func brokerTestConfig(t testing.TB, clients, profiles int) (string, *testca.CA) {
	t.Helper()
	dir := t.TempDir()
	ca := testca.New(t, "daemon test CA")
	cert, key := ca.WriteServer(t, dir, "127.0.0.1")
	var b strings.Builder
	fmt.Fprintf(&b, "[broker]\nlisten = \"127.0.0.1:0\"\ntls_cert_file = %q\ntls_key_file = %q\n", cert, key)
	var names []string
	for p := range profiles {
		names = append(names, fmt.Sprintf("%q", fmt.Sprintf("p%d", p)))
	}
	for c := range clients {
		name := fmt.Sprintf("c%03d", c)
		fmt.Fprintf(&b, "\n[broker.clients.%s]\ntoken_sha256 = %q\nprofiles = [%s]\n", name, sha256Hex(brokerTestToken(name)), strings.Join(names, ", "))
	}
	for p := range profiles {
		fmt.Fprintf(&b, "\n[profiles.p%d]\nsource_profile = \"src\"\nmode = \"federation\"\nname = \"{client}.{profile}\"\nduration = \"1h\"\npolicy_arns = [\"arn:aws:iam::aws:policy/ReadOnlyAccess\"]\n", p)
	}
	return b.String(), ca
}

func brokerHTTPClient(ca *testca.CA) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 64,
	}}
}

// brokerFetch GETs profile as client; it returns the status and key id.
func brokerFetch(c *http.Client, addr, profile, client string) (int, string, error) {
	req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/v1/credentials/"+profile, nil)
	req.Header.Set("Authorization", brokerTestToken(client))
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var body struct {
		AccessKeyID string `json:"AccessKeyId"`
	}
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &body)
	return resp.StatusCode, body.AccessKeyID, nil
}

// brokerAddr is the bound broker address from GET /v1/status (read over
// the socket: Serve sets it before it serves).
func brokerAddr(t *testing.T, sc *http.Client) string {
	t.Helper()
	code, body := get(t, sc, "/v1/status")
	var st Status
	if err := json.Unmarshal(body, &st); code != 200 || err != nil {
		t.Fatalf("status: %d %v", code, err)
	}
	return st.Broker
}

// TestBrokerServedByTheDaemon: the daemon binds the broker before it
// serves, shows the address in status, mints per client, counts requests
// in metrics, and stops it with everything else (goleak checks).
func TestBrokerServedByTheDaemon(t *testing.T) {
	cfg, ca := brokerTestConfig(t, 2, 1)
	env := newEnv(t, cfg)
	sts := ststest.NewServer(t, ststest.Options{})
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	_, sc, stop := startDaemon(t, Options{Config: env.cfg})
	addr := brokerAddr(t, sc)
	if addr == "" || strings.HasSuffix(addr, ":0") {
		t.Fatalf("status broker = %q; want the bound address", addr)
	}
	c := brokerHTTPClient(ca)
	keys := map[string]string{}
	for _, client := range []string{"c000", "c001"} {
		code, key, err := brokerFetch(c, addr, "p0", client)
		if err != nil || code != 200 {
			t.Fatalf("%s: %d %v", client, code, err)
		}
		keys[client] = key
	}
	if keys["c000"] == keys["c001"] {
		t.Error("two clients got the same key")
	}
	var names []string
	for _, r := range sts.Requests() {
		names = append(names, r.Params.Get("Name"))
	}
	if got := strings.Join(names, ","); got != "c000.p0,c001.p0" {
		t.Errorf("federated names = %s; want c000.p0,c001.p0", got)
	}
	code, m := get(t, sc, "/metrics")
	if code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	if !strings.Contains(string(m), `endpoint="broker"`) {
		t.Error("metrics do not count broker requests")
	}
	c.CloseIdleConnections()
	stop()
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("the broker still listens after the daemon stopped")
	}
}

// TestBrokerStartFailureFailsTheDaemon: a broker that cannot bind makes
// Serve return an error, leaving nothing running.
func TestBrokerStartFailureFailsTheDaemon(t *testing.T) {
	cfg, _ := brokerTestConfig(t, 1, 1)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg = strings.Replace(cfg, `listen = "127.0.0.1:0"`, `listen = "`+busy.Addr().String()+`"`, 1)
	env := newEnv(t, cfg)
	s, err := New(Options{Config: env.cfg, Socket: shortSocket(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := s.Run(ctx); err == nil || !strings.Contains(err.Error(), "broker") {
		t.Errorf("Run() = %v; want a broker listen error", err)
	}
}

// TestBroker200ClientsAtRefreshMoment: 200 clients × 5 profiles, each
// pair fetched first (one STS call each), then fetched twice more at the
// moment every pair refreshes: exactly one more STS call per pair, every
// request answered 200, with bounded concurrency.
func TestBroker200ClientsAtRefreshMoment(t *testing.T) {
	const clients, profiles, workers = 200, 5, 64
	cfg, ca := brokerTestConfig(t, clients, profiles)
	env := newEnv(t, cfg)
	fc := clock.NewFake(time.Now())
	sts := ststest.NewServer(t, ststest.Options{Now: fc.Now})
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	// Each STS call loads the SDK config: a CA bundle from the environment
	// would be parsed 2000 times.
	t.Setenv("AWS_CA_BUNDLE", "")
	os.Unsetenv("AWS_CA_BUNDLE")
	s, sc, _ := startDaemon(t, Options{Config: env.cfg, Clock: fc, Rand: fixedRand, HTTPClient: memClient(sts.Handler)})
	addr := brokerAddr(t, sc)
	c := brokerHTTPClient(ca)
	defer c.CloseIdleConnections()

	type pair struct{ client, profile string }
	var pairs []pair
	for i := range clients {
		for p := range profiles {
			pairs = append(pairs, pair{fmt.Sprintf("c%03d", i), fmt.Sprintf("p%d", p)})
		}
	}
	// round fetches each pair n times with `workers` goroutines.
	round := func(n int) (failures int64) {
		jobs := make(chan pair)
		var failed atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for p := range jobs {
					code, key, err := brokerFetch(c, addr, p.profile, p.client)
					if err != nil || code != 200 || !strings.HasPrefix(key, "ASIA") {
						if failed.Add(1) < 5 {
							t.Logf("%s/%s: %d %v", p.profile, p.client, code, err)
						}
					}
				}
			})
		}
		for range n {
			for _, p := range pairs {
				jobs <- p
			}
		}
		close(jobs)
		wg.Wait()
		return failed.Load()
	}
	calls := func() int { return sts.CallsOf(ststest.ActionGetFederationToken) }
	waitCalls := func(want int) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for calls() < want && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // any extra call would land now
		if got := calls(); got != want {
			t.Fatalf("STS calls = %d; want %d (one per client and profile)", got, want)
		}
	}

	if f := round(1); f != 0 {
		t.Fatalf("first round: %d failures", f)
	}
	waitCalls(len(pairs))
	// Every pair waits for the same moment, the scheduler's next wake-up.
	at := waitPairsQueued(t, s, fc, len(pairs))
	fc.Advance(at.Sub(fc.Now()))
	if f := round(2); f != 0 {
		t.Fatalf("at the refresh moment: %d failures", f)
	}
	waitCalls(2 * len(pairs))
	names := map[string]int{}
	for _, r := range sts.Requests() {
		names[r.Params.Get("Name")]++
	}
	if len(names) != len(pairs) || names["c123.p4"] != 2 {
		t.Errorf("%d federated names (c123.p4 ×%d); want %d, each twice", len(names), names["c123.p4"], len(pairs))
	}
}

// waitPairsQueued waits until n pairs wait in s's scheduler and its timer
// is set for the first of them, and returns that time.
func waitPairsQueued(t *testing.T, s *Supervisor, fc *clock.Fake, n int) time.Time {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		s.pairs.mu.Lock()
		queued := s.pairs.queue.Len()
		var due time.Time
		if queued > 0 {
			due = s.pairs.queue[0].slot.due
		}
		s.pairs.mu.Unlock()
		if at, ok := fc.Next(); queued == n && ok && at.Equal(due) {
			return at
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%d pairs queued; want %d, and the scheduler's timer set", s.pairs.waiting(), n)
	return time.Time{}
}
