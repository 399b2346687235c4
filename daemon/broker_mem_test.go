package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/stsclient"
	"github.com/stsd/stsd/internal/wire"
)

// pairFetcher answers every federation call at once with credentials of
// real sizes (a 356-character session token, like the stand-in's), so a
// benchmark sees only what the daemon keeps per pair.
type pairFetcher struct{ now func() time.Time }

func (f pairFetcher) Fetch(_ context.Context, req stsclient.Request) (*stsclient.Result, error) {
	now := f.now()
	return &stsclient.Result{
		Credentials: wire.Credentials{
			AccessKeyID:     "ASIA" + strings.Repeat("Q", 16),
			SecretAccessKey: strings.Repeat("s", 40),
			SessionToken:    strings.Repeat("t", 356),
			Expiration:      now.Add(time.Hour).Truncate(time.Second),
			AccountID:       "123456789012",
		},
		Issued: now, ARN: "arn:aws:sts::123456789012:federated-user/" + req.Client,
		PackedPolicySize: 5, SourceKeyID: "AKIA…0001",
	}, nil
}

// memSample is the live heap, goroutine stacks and goroutines after a GC.
type memSample struct {
	heap, stack uint64
	goroutines  int
}

func sampleMem() memSample {
	runtime.GC()
	runtime.GC() // the second cycle frees what the first one's finalizers released
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memSample{heap: m.HeapAlloc, stack: m.StackInuse, goroutines: runtime.NumGoroutine()}
}

// BenchmarkBrokerPairMemory measures what one broker (client, profile)
// pair holds in the daemon once its credentials are fetched: live heap,
// goroutine stack and goroutines per pair, after a GC, with 5 federation
// profiles and N/5 clients (a text logger and a disk cache, as `stsd run`
// has). One iteration is one daemon; run with -benchtime=1x.
func BenchmarkBrokerPairMemory(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("pairs=%d", n), func(b *testing.B) {
			for b.Loop() {
				before, after := brokerPairsMem(b, n/5, 5)
				b.ReportMetric((float64(after.heap)-float64(before.heap))/float64(n), "heapB/pair")
				b.ReportMetric((float64(after.stack)-float64(before.stack))/float64(n), "stackB/pair")
				b.ReportMetric(float64(after.goroutines-before.goroutines)/float64(n), "goroutines/pair")
			}
		})
	}
}

// brokerPairsMem starts a daemon with clients × profiles broker pairs,
// fetches every pair once through ClientCredentials, and samples memory
// before the first fetch and after the last.
func brokerPairsMem(b *testing.B, clients, profiles int) (before, after memSample) {
	cfgText, _ := brokerTestConfig(b, clients, profiles)
	env := newEnv(b, cfgText)
	fetch := pairFetcher{now: time.Now}
	s, _, stop := startDaemon(b, Options{
		Config: env.cfg, Store: env.store(b), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		NewFetcher: func(*config.Config, *config.Profile) stsclient.Fetcher { return fetch },
	})
	defer stop()
	before = sampleMem()
	jobs := make(chan [2]string)
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for j := range jobs {
				if _, err := s.ClientCredentials(b.Context(), j[1], j[0]); err != nil {
					b.Errorf("%s/%s: %v", j[0], j[1], err)
				}
			}
		})
	}
	for c := range clients {
		for p := range profiles {
			jobs <- [2]string{fmt.Sprintf("c%03d", c), fmt.Sprintf("p%d", p)}
		}
	}
	close(jobs)
	wg.Wait()
	for s.pairs.busy() { // the last refreshes still write their cache entries
		time.Sleep(time.Millisecond)
	}
	after = sampleMem()
	return before, after
}

// busy reports whether a refresh is under way.
func (q *pairScheduler) busy() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.running > 0
}
