//go:build linux

package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stsd/stsd/internal/ststest"
	"github.com/stsd/stsd/internal/testca"
)

// The broker section: brokerClients clients, each given brokerProfiles
// federation profiles, fetch over HTTPS with brokerWorkers requests in
// flight.
const (
	brokerClients  = 200
	brokerProfiles = 5
	brokerWorkers  = 64
	// brokerLifetime is the stand-in's credential lifetime: every pair
	// refreshes lifetime/2 ± 10% after its first fetch, inside the run,
	// and not again before the count is taken.
	brokerLifetime = 24 * time.Second
)

// brokerWave is one pass of every (client, profile) pair.
type brokerWave struct {
	Name       string
	Requests   int
	Errors     int
	FirstError string
	Latency    dist    // seconds
	Wall       float64 // seconds, of one pass over every pair
}

// brokerResult is what the broker section measured.
type brokerResult struct {
	Pairs int
	// STS GetFederationToken calls: during the first-fetch wave (want
	// one per pair), the warm wave (want none) and the refresh moments
	// (want one per pair).
	ColdCalls, WarmCalls, RefreshCalls int
	Waves                              []brokerWave
	RSS, HWM                           int64
}

func (r *brokerResult) errors() int {
	n := 0
	for _, w := range r.Waves {
		n += w.Errors
	}
	return n
}

func (r *brokerResult) met() bool {
	return r.ColdCalls == r.Pairs && r.WarmCalls == 0 && r.RefreshCalls == r.Pairs && r.errors() == 0
}

func (r *brokerResult) wave(name string) brokerWave {
	for _, w := range r.Waves {
		if w.Name == name {
			return w
		}
	}
	nan := summarize(nil)
	return brokerWave{Name: name, Latency: nan}
}

// caTB lets internal/testca, made for tests, run here: it only calls
// Helper and Fatalf.
type caTB struct{ testing.TB }

type caFailure string

func (caTB) Helper() {}
func (caTB) Fatalf(format string, args ...any) {
	panic(caFailure(fmt.Sprintf(format, args...)))
}

// brokerCA makes a throwaway CA and a certificate for 127.0.0.1 in dir.
func brokerCA(dir string) (pool *x509.CertPool, certFile, keyFile string, err error) {
	defer func() {
		if f, ok := recover().(caFailure); ok {
			err = fmt.Errorf("test CA: %s", f)
		}
	}()
	ca := testca.New(caTB{}, "stsdbench broker CA")
	certFile, keyFile = ca.WriteServer(caTB{}, dir, "127.0.0.1")
	return ca.Pool(), certFile, keyFile, nil
}

// newToken is a random client token (130 bits, base32).
func newToken() string { return rand.Text() }

type brokerPair struct{ client, profile int }

func (b *bench) benchBroker(ctx context.Context) (*brokerResult, error) {
	sts, err := startStandIn(ststest.Options{Lifetime: brokerLifetime, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	defer sts.stop()

	// The world is made first for its directory; the config is then
	// rewritten with the certificate's paths.
	w, err := newWorld(b.root, "k", b.bin, sts.URL, "", nil)
	if err != nil {
		return nil, err
	}
	defer w.remove()
	pool, certFile, keyFile, err := brokerCA(w.dir)
	if err != nil {
		return nil, err
	}
	tokens := make([]string, brokerClients)
	var cfg strings.Builder
	// Every bench client dials from 127.0.0.1, one connection (or more)
	// each: the per-address default (64, right for production, where one
	// address is one host) would drop all but 64 of them before TLS.
	fmt.Fprintf(&cfg, "[broker]\nlisten = \"127.0.0.1:0\"\ntls_cert_file = %q\ntls_key_file = %q\nrate = \"1000/s\"\nmax_connections_per_address = 1024\n", certFile, keyFile)
	var names []string
	for p := range brokerProfiles {
		names = append(names, fmt.Sprintf("%q", fmt.Sprintf("p%d", p)))
	}
	for c := range brokerClients {
		tokens[c] = newToken()
		sum := sha256.Sum256([]byte(tokens[c]))
		fmt.Fprintf(&cfg, "\n[broker.clients.c%03d]\ntoken_sha256 = %q\nprofiles = [%s]\n", c, hex.EncodeToString(sum[:]), strings.Join(names, ", "))
	}
	for p := range brokerProfiles {
		fmt.Fprintf(&cfg, "\n[profiles.p%d]\nsource_profile = \"src\"\nmode = \"federation\"\nname = \"{client}\"\nduration = \"1h\"\npolicy_arns = [\"arn:aws:iam::aws:policy/ReadOnlyAccess\"]\n", p)
	}
	if err := os.WriteFile(w.home+"/.config/stsd/config.toml", []byte(cfg.String()), 0o600); err != nil {
		return nil, err
	}
	w.ready = func(st *daemonStatus) bool { return st.Broker != "" }
	if err := w.startDaemon(ctx, ""); err != nil {
		return nil, err
	}
	st, err := w.status(ctx)
	if err != nil {
		return nil, err
	}
	addr := st.Broker

	// One HTTP client (its own connections) per broker client.
	httpClients := make([]*http.Client, brokerClients)
	for c := range httpClients {
		httpClients[c] = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true,
			MaxIdleConnsPerHost: brokerProfiles, TLSHandshakeTimeout: 10 * time.Second,
		}}
	}
	defer func() {
		for _, c := range httpClients {
			c.CloseIdleConnections()
		}
	}()
	var pairs []brokerPair
	for c := range brokerClients {
		for p := range brokerProfiles {
			pairs = append(pairs, brokerPair{c, p})
		}
	}
	res := &brokerResult{Pairs: len(pairs)}
	calls := func() int { return sts.CallsOf(ststest.ActionGetFederationToken) }
	// settle waits until STS has seen want calls (or 15 s), then a little
	// longer so that any extra call lands before the count.
	settle := func(want int) int {
		deadline := time.Now().Add(15 * time.Second)
		for calls() < want && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond)
		return calls()
	}
	record := func(wv brokerWave) {
		b.logf("  %s: %d requests, %d errors, p50 %s p99 %s, %.2fs", wv.Name, wv.Requests, wv.Errors, ms(wv.Latency.Median), ms(wv.Latency.P99), wv.Wall)
		res.Waves = append(res.Waves, wv)
	}

	t0 := time.Now()
	before := calls()
	wv, _ := fireBrokerWave(ctx, "first fetch", addr, httpClients, tokens, pairs)
	record(wv)
	res.ColdCalls = settle(before+len(pairs)) - before
	before = calls()
	wv, _ = fireBrokerWave(ctx, "warm", addr, httpClients, tokens, pairs)
	record(wv)
	time.Sleep(300 * time.Millisecond)
	res.WarmCalls = calls() - before
	// The refresh moments: each pair refreshes lifetime/2 ± 10% after
	// its first fetch. Passes over every pair run through that window
	// (100 ms apart) until every pair has refreshed; the next refreshes
	// come ~lifetime/2 later.
	before = calls()
	time.Sleep(time.Until(t0.Add(brokerLifetime * 2 / 5)))
	end := time.Now().Add(brokerLifetime*3/10 + 5*time.Second)
	var passes int
	var lats []time.Duration
	refresh := brokerWave{}
	for calls() < before+len(pairs) && time.Now().Before(end) && ctx.Err() == nil {
		wv, l := fireBrokerWave(ctx, "", addr, httpClients, tokens, pairs)
		passes++
		lats = append(lats, l...)
		refresh.Requests += wv.Requests
		refresh.Errors += wv.Errors
		refresh.Wall += wv.Wall
		if refresh.FirstError == "" {
			refresh.FirstError = wv.FirstError
		}
		time.Sleep(100 * time.Millisecond)
	}
	refresh.Name = fmt.Sprintf("refresh window (%d passes)", passes)
	refresh.Latency = summarize(seconds(lats))
	refresh.Wall /= float64(max(1, passes))
	record(refresh)
	res.RefreshCalls = settle(before+len(pairs)) - before
	if d := time.Since(t0); d > brokerLifetime*9/10 {
		b.notef("broker: the refresh count ended %.1fs after the first fetch, when second refreshes may have begun", d.Seconds())
	}
	m, err := procMem(w.daemonPID())
	if err != nil {
		return nil, err
	}
	res.RSS, res.HWM = m["VmRSS"], m["VmHWM"]
	b.logf("  STS calls: first fetch %d, warm %d, refresh %d (pairs %d); VmRSS %.1f MiB (HWM %.1f)",
		res.ColdCalls, res.WarmCalls, res.RefreshCalls, res.Pairs, mib(res.RSS), mib(res.HWM))
	return res, w.stopDaemon()
}

// fireBrokerWave fetches every pair once, brokerWorkers at a time, each
// request bounded by its client's timeout and the whole wave by 90 s. It
// also returns the latencies of the requests that succeeded.
func fireBrokerWave(ctx context.Context, name, addr string, clients []*http.Client, tokens []string, pairs []brokerPair) (brokerWave, []time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	lats := make([]time.Duration, len(pairs))
	errs := make([]error, len(pairs))
	jobs := make(chan int)
	var wg sync.WaitGroup
	t0 := time.Now()
	for range brokerWorkers {
		wg.Go(func() {
			for i := range jobs {
				p := pairs[i]
				start := time.Now()
				errs[i] = brokerFetch(ctx, clients[p.client], addr, fmt.Sprintf("p%d", p.profile), tokens[p.client])
				lats[i] = time.Since(start)
			}
		})
	}
	for i := range pairs {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	wv := brokerWave{Name: name, Requests: len(pairs), Wall: time.Since(t0).Seconds()}
	var ok []time.Duration
	for i, err := range errs {
		if err != nil {
			wv.Errors++
			if wv.FirstError == "" {
				wv.FirstError = fmt.Sprintf("c%03d/p%d: %v", pairs[i].client, pairs[i].profile, err)
			}
			continue
		}
		ok = append(ok, lats[i])
	}
	wv.Latency = summarize(seconds(ok))
	return wv, ok
}

// brokerFetch is an ECS-protocol credential GET to the broker; it fails
// unless the answer is 200 with an ASIA key. Errors never hold the token.
func brokerFetch(ctx context.Context, c *http.Client, addr, profile, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/v1/credentials/"+profile, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", token)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	var cr struct{ AccessKeyId string }
	if json.Unmarshal(body, &cr) != nil || !strings.HasPrefix(cr.AccessKeyId, "ASIA") {
		return fmt.Errorf("no ASIA key in a %d-byte reply", len(body))
	}
	return nil
}

func (r *report) brokerTargets() []target {
	var out []target
	if k := r.broker; k != nil {
		warm := k.wave("warm")
		out = append(out, target{
			figure: fmt.Sprintf("broker: %d clients × %d profiles (HTTPS, %d in flight)", brokerClients, brokerProfiles, brokerWorkers),
			median: ms(warm.Latency.Median) + " (warm wave)", p99: ms(warm.Latency.P99) + " (warm wave)",
			floor: fmt.Sprintf("%d calls", k.Pairs),
			ratio: fmt.Sprintf("%d / %d / %d calls; %d errors", k.ColdCalls, k.WarmCalls, k.RefreshCalls, k.errors()),
			goal:  fmt.Sprintf("first fetch / warm / refresh: %d / 0 / %d STS calls, 0 errors", k.Pairs, k.Pairs), met: k.met(),
		})
	}
	return out
}
