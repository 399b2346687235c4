package daemon

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/stsclient"
	"github.com/stsd/stsd/internal/wire"
)

// pairSTS is a fetcher for broker pairs: one-hour credentials, unless
// fail says otherwise for that client's nth call (n from 1); it counts
// the calls per client and profile.
type pairSTS struct {
	fail func(ctx context.Context, client string, n int) error

	mu    sync.Mutex // guards calls
	calls map[string]int
}

func (p *pairSTS) Fetch(ctx context.Context, req stsclient.Request) (*stsclient.Result, error) {
	p.mu.Lock()
	p.calls[req.Client]++
	n := p.calls[req.Client]
	p.mu.Unlock()
	if p.fail != nil {
		if err := p.fail(ctx, req.Client, n); err != nil {
			return nil, err
		}
	}
	now := time.Now().UTC()
	return &stsclient.Result{
		Credentials: wire.Credentials{AccessKeyID: fmt.Sprintf("ASIA%s%012d", strings.ToUpper(req.Client), n),
			SecretAccessKey: "secret", SessionToken: "token", Expiration: now.Add(time.Hour).Truncate(time.Second)},
		Issued: now, ARN: "arn:aws:sts::123456789012:federated-user/" + req.Client, PackedPolicySize: 1,
	}, nil
}

func (p *pairSTS) count(client string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[client]
}

// pairsOnly runs s's pair scheduler in a run group of its own (no sockets:
// the test runs in a synctest bubble) until the test's bubble ends.
func pairsOnly(t *testing.T, cfg *config.Config, sts *pairSTS) *Supervisor {
	t.Helper()
	sts.calls = map[string]int{}
	s, err := New(Options{Config: cfg, Rand: fixedRand,
		NewFetcher: func(*config.Config, *config.Profile) stsclient.Fetcher { return sts }})
	if err != nil {
		t.Fatal(err)
	}
	g := newRunGroup(t.Context())
	s.group.Store(g)
	g.Go(func(context.Context) { s.pairs.run(g) })
	t.Cleanup(g.stop)
	return s
}

// goroutinesIn counts the goroutines whose stack holds fn.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, fn) {
			n++
		}
	}
	return n
}

// TestBrokerPairsShareOneScheduler: every pair is fetched once on first
// use and refreshed once at its moment, before it expires, by the one
// scheduler goroutine: no pair holds a goroutine of its own, and readers
// never see expired credentials.
func TestBrokerPairsShareOneScheduler(t *testing.T) {
	const clients, profiles = 20, 3
	cfgText, _ := brokerTestConfig(t, clients, profiles)
	env := newEnv(t, cfgText)
	synctest.Test(t, func(t *testing.T) {
		sts := &pairSTS{}
		s := pairsOnly(t, env.cfg, sts)
		fetchAll := func() {
			t.Helper()
			for c := range clients {
				for p := range profiles {
					m, err := s.ClientCredentials(t.Context(), fmt.Sprintf("p%d", p), fmt.Sprintf("c%03d", c))
					if err != nil || !time.Now().Before(m.Credentials.Expiration) {
						t.Fatalf("c%03d/p%d: %v (expires %s)", c, p, err, m.Credentials.Expiration)
					}
					if m.Document != string(wire.ContainerDocument(m.Credentials)) {
						t.Fatalf("c%03d/p%d: the ready-made document is not the credentials'", c, p)
					}
				}
			}
		}
		fetchAll()
		synctest.Wait()
		if n := goroutinesIn("(*Refresher).Run("); n != 0 {
			t.Errorf("%d refresher goroutines; want none (pairs are scheduled)", n)
		}
		if n := goroutinesIn("(*pairScheduler).run("); n != 1 {
			t.Errorf("%d scheduler goroutines; want 1", n)
		}
		if n := goroutinesIn("(*pairScheduler).refresh("); n != 0 {
			t.Errorf("%d refreshes still running when all is idle", n)
		}
		// min(refresh_before (30m), lifetime/2) before the one-hour
		// expiry (fixedRand: no jitter).
		time.Sleep(29 * time.Minute)
		synctest.Wait()
		fetchAll()
		if n := sts.count("c007"); n != profiles {
			t.Fatalf("c007: %d calls before the refresh moment; want %d", n, profiles)
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		fetchAll()
		for c := range clients {
			if n := sts.count(fmt.Sprintf("c%03d", c)); n != 2*profiles {
				t.Errorf("c%03d: %d calls; want %d (one per pair, then one refresh each)", c, n, 2*profiles)
			}
		}
	})
}

// TestBrokerPairsBackOffAlone: a failing pair backs off on its own
// (1 s, 2 s, …) while the others keep their credentials and make no call;
// it is served again once a retry succeeds.
func TestBrokerPairsBackOffAlone(t *testing.T) {
	cfgText, _ := brokerTestConfig(t, 2, 1)
	env := newEnv(t, cfgText)
	synctest.Test(t, func(t *testing.T) {
		sts := &pairSTS{fail: func(_ context.Context, client string, n int) error {
			if client == "c001" && n < 3 {
				return fmt.Errorf("sts: %w", context.DeadlineExceeded) // retryable
			}
			return nil
		}}
		s := pairsOnly(t, env.cfg, sts)
		if _, err := s.ClientCredentials(t.Context(), "p0", "c000"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ClientCredentials(t.Context(), "p0", "c001"); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("failing pair: %v; want ErrUnavailable at once", err)
		}
		st := s.Status()
		if len(st.Clients) != 2 || st.Clients[0].State != StateOK || st.Clients[1].State != StateBackoff {
			t.Fatalf("status = %+v; want p0/c000 ok, p0/c001 backoff", st.Clients)
		}
		time.Sleep(4 * time.Second) // backoff 1s, then 2s (each at most)
		synctest.Wait()
		if _, err := s.ClientCredentials(t.Context(), "p0", "c001"); err != nil {
			t.Fatalf("after the retries: %v", err)
		}
		if a, b := sts.count("c000"), sts.count("c001"); a != 1 || b != 3 {
			t.Errorf("calls c000 %d, c001 %d; want 1 and 3", a, b)
		}
	})
}

// TestBrokerPairNeverServesExpired: a pair whose refreshes all fail is
// refused once its credentials expire; it never hands them out after.
func TestBrokerPairNeverServesExpired(t *testing.T) {
	cfgText, _ := brokerTestConfig(t, 1, 1)
	env := newEnv(t, cfgText)
	synctest.Test(t, func(t *testing.T) {
		sts := &pairSTS{fail: func(_ context.Context, _ string, n int) error {
			if n > 1 {
				return errors.New("AccessDenied") // not retryable: the 5-minute cap
			}
			return nil
		}}
		s := pairsOnly(t, env.cfg, sts)
		m, err := s.ClientCredentials(t.Context(), "p0", "c000")
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(m.Credentials.Expiration) - time.Second)
		if _, err := s.ClientCredentials(t.Context(), "p0", "c000"); err != nil {
			t.Fatalf("a second before expiry: %v", err)
		}
		time.Sleep(time.Second)
		if got, err := s.ClientCredentials(t.Context(), "p0", "c000"); err == nil {
			t.Fatalf("served credentials expiring %s at %s", got.Credentials.Expiration, time.Now())
		}
		if sts.count("c000") < 2 {
			t.Error("no refresh was attempted before expiry")
		}
	})
}

// TestBrokerPairStopAndKick: a refresh asked for during a refresh runs
// once right after it; a pair a reload removes is cancelled mid-call,
// waited for, and never refreshed again.
func TestBrokerPairStopAndKick(t *testing.T) {
	cfgText, _ := brokerTestConfig(t, 1, 1)
	env := newEnv(t, cfgText)
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		sts := &pairSTS{fail: func(ctx context.Context, _ string, n int) error {
			switch n {
			case 2:
				<-release
			case 3:
				<-ctx.Done() // hangs until cancelled
				return ctx.Err()
			}
			return nil
		}}
		s := pairsOnly(t, env.cfg, sts)
		if _, err := s.ClientCredentials(t.Context(), "p0", "c000"); err != nil {
			t.Fatal(err)
		}
		r, _ := s.clientRefresher("p0", "c000")
		r.Refresh() // call 2 starts and blocks
		synctest.Wait()
		r.Refresh() // during it: one more after
		r.Refresh() // still one more, not two
		close(release)
		synctest.Wait() // call 3 hangs
		if n := sts.count("c000"); n != 3 {
			t.Fatalf("%d calls; want 3 (one, a kick, one kick during it)", n)
		}
		s.stopClients(func(string, string) bool { return true })
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		if n, w := sts.count("c000"), s.pairs.waiting(); n != 3 || w != 0 {
			t.Errorf("after stop: %d calls, %d pairs queued; want 3 and none", n, w)
		}
	})
}
