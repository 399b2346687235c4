//go:build linux

package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stsd/stsd/internal/ststest"
	"github.com/stsd/stsd/internal/testca"
)

// The broker section: synthetic client tables of each of brokerSizes
// (client, profile) pairs — brokerProfiles federation profiles, and
// pairs/brokerProfiles clients each allowed all of them — fetched over
// HTTPS through brokerConns connections (the same count at every size, so
// the difference between sizes is the pairs' cost), brokerWorkers requests
// in flight.
const (
	brokerProfiles = 5
	brokerConns    = 200
	brokerWorkers  = 64
	// brokerTargetPairs is the size the memory and latency targets are
	// read at, and the one whose refresh moments are counted.
	brokerTargetPairs = 1000
	// brokerLifetime is the stand-in's credential lifetime at the target
	// size: every pair refreshes lifetime/2 ± 10% after its first fetch,
	// inside the run, and not again before the count is taken. Other
	// sizes get the profile's hour and never refresh.
	brokerLifetime = 24 * time.Second
	// brokerRSSGoal is the target for the daemon's RSS at brokerTargetPairs
	// pairs, its connections closed and its memory released.
	brokerRSSGoal = 25 << 20
	// brokerP99Goal bounds the warm p99 as a multiple of the TLS floor's.
	brokerP99Goal = 1.5
	// brokerLinearGoal bounds the cost of a pair from 1000 to 10,000 pairs
	// as a multiple of its cost from 100 to 1000 (1 is a straight line).
	brokerLinearGoal = 1.5
)

// brokerSizes are the table sizes measured, in pairs (the bench's
// -quick run measures brokerQuickSizes with fewer warm requests).
var (
	brokerSizes      = []int{100, 1000, 10000}
	brokerQuickSizes = []int{100, 1000}
)

// brokerWave is one pass of requests.
type brokerWave struct {
	Name       string
	Requests   int
	Errors     int
	FirstError string
	Latency    dist    // seconds, of the requests that succeeded
	Wall       float64 // seconds, of one pass

	lats []time.Duration // of the requests that succeeded
	body []byte          // the first successful reply
}

// brokerRun is what one table size measured.
type brokerRun struct {
	Pairs, Clients int
	// STS GetFederationToken calls during the first-fetch wave (want one
	// per pair), the warm slices (want none) and, at the target size, the
	// refresh moments (want one per pair; -1 elsewhere).
	ColdCalls, WarmCalls, RefreshCalls int
	Waves                              []brokerWave // first fetch, warm (broker), warm (floor), refresh window
	// Warm and Floor pool the broker's and the TLS floor's warm slices.
	Warm, Floor brokerWave
	// The daemon's VmRSS and VmHWM with the connections open; its VmRSS
	// after they closed and it released its memory (SIGUSR1), and the
	// heap (spans in use, live objects) and stacks it logged then.
	OpenRSS, OpenHWM, ClosedRSS         int64
	ClosedAnon, ClosedFile              int64 // RssAnon (heap, stacks), RssFile (the binary's pages)
	ClosedHeap, ClosedLive, ClosedStack int64
	// FloorRSS is the TLS floor's VmRSS with as many connections open.
	FloorRSS int64
}

func (r *brokerRun) errors() int {
	n := r.Warm.Errors + r.Floor.Errors
	for _, w := range r.Waves {
		n += w.Errors
	}
	return n
}

// callsMet: one STS call per pair at first, none warm, one per pair at the
// refresh moments, and every request answered.
func (r *brokerRun) callsMet() bool {
	return r.ColdCalls == r.Pairs && r.WarmCalls == 0 && (r.RefreshCalls < 0 || r.RefreshCalls == r.Pairs) && r.errors() == 0
}

// p99Ratio is the warm p99 over the TLS floor's.
func (r *brokerRun) p99Ratio() float64 { return r.Warm.Latency.P99 / r.Floor.Latency.P99 }

// brokerResult is what the broker section measured, smallest table first.
type brokerResult struct {
	Runs []brokerRun
	// FloorIdleRSS is the TLS floor's VmRSS before its first connection.
	FloorIdleRSS int64
}

func (k *brokerResult) run(pairs int) *brokerRun {
	for i := range k.Runs {
		if k.Runs[i].Pairs == pairs {
			return &k.Runs[i]
		}
	}
	return nil
}

// slope is the closed-and-released RSS (heap: the daemon's own heap
// figure) per 1000 pairs between tables a and b, in MiB.
func (k *brokerResult) slope(a, b int, heap bool) float64 {
	ra, rb := k.run(a), k.run(b)
	if ra == nil || rb == nil {
		return math.NaN()
	}
	va, vb := ra.ClosedRSS, rb.ClosedRSS
	if heap {
		va, vb = ra.ClosedHeap+ra.ClosedStack, rb.ClosedHeap+rb.ClosedStack
	}
	return mib(vb-va) / (float64(b-a) / 1000)
}

// linearity is the cost of a pair from 1000 to 10,000 pairs over its cost
// from 100 to 1000 (1: a straight line), from the daemon's heap figures:
// RSS moves in pages and with the binary's touched code, too coarse for
// the 100 → 1000 step.
func (k *brokerResult) linearity() float64 {
	return k.slope(1000, 10000, true) / k.slope(100, 1000, true)
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

// brokerPair is one (client, profile) of a table.
type brokerPair struct{ client, profile int }

// brokerTable is a synthetic client table: tokens by client, and every
// pair, client by client.
type brokerTable struct {
	tokens []string
	pairs  []brokerPair
}

func newBrokerTable(pairs int) *brokerTable {
	t := &brokerTable{tokens: make([]string, pairs/brokerProfiles)}
	for c := range t.tokens {
		t.tokens[c] = newToken()
		for p := range brokerProfiles {
			t.pairs = append(t.pairs, brokerPair{c, p})
		}
	}
	return t
}

// config is the daemon's config.toml for t, served with certFile/keyFile.
func (t *brokerTable) config(certFile, keyFile string) string {
	var cfg strings.Builder
	// Every bench connection comes from 127.0.0.1: the per-address
	// default (64, right for production, where one address is one host)
	// would drop all but 64 of them before TLS. The rate is per client:
	// the warm slices send a client's pairs in quick succession.
	fmt.Fprintf(&cfg, "[broker]\nlisten = \"127.0.0.1:0\"\ntls_cert_file = %q\ntls_key_file = %q\nrate = \"1000/s\"\n"+
		"max_connections_per_address = %d\n", certFile, keyFile, 2*brokerConns)
	var names []string
	for p := range brokerProfiles {
		names = append(names, fmt.Sprintf("%q", fmt.Sprintf("p%d", p)))
	}
	for c, tok := range t.tokens {
		sum := sha256.Sum256([]byte(tok))
		fmt.Fprintf(&cfg, "\n[broker.clients.c%05d]\ntoken_sha256 = %q\nprofiles = [%s]\n", c, hex.EncodeToString(sum[:]), strings.Join(names, ", "))
	}
	for p := range brokerProfiles {
		fmt.Fprintf(&cfg, "\n[profiles.p%d]\nsource_profile = \"src\"\nmode = \"federation\"\nname = \"{client}\"\nduration = \"1h\"\npolicy_arns = [\"arn:aws:iam::aws:policy/ReadOnlyAccess\"]\n", p)
	}
	return cfg.String()
}

// brokerSection is the state the section's table sizes share: the
// certificate and the TLS floor, started with the first real reply.
type brokerSection struct {
	pool              *x509.CertPool
	certFile, keyFile string
	floorBin          string
	floor             *floorServer
	floorIdleRSS      int64 // the floor's VmRSS before its first connection
	warmRequests      int   // per warm slice
}

func (b *bench) benchBroker(ctx context.Context) (*brokerResult, error) {
	dir, err := os.MkdirTemp(b.root, "brk")
	if err != nil {
		return nil, err
	}
	s := &brokerSection{floorBin: filepath.Join(dir, "tlsfloor"), warmRequests: 1000}
	if err := goBuild(ctx, moduleRoot(), s.floorBin, "./bench/cmd/tlsfloor"); err != nil {
		return nil, err
	}
	if s.pool, s.certFile, s.keyFile, err = brokerCA(dir); err != nil {
		return nil, err
	}
	defer func() {
		if s.floor != nil {
			s.floor.stop()
		}
	}()
	sizes := brokerSizes
	if b.quick {
		sizes, s.warmRequests = brokerQuickSizes, 250
	}
	res := &brokerResult{}
	for _, n := range sizes {
		b.logf("  %d pairs (%d clients × %d profiles):", n, n/brokerProfiles, brokerProfiles)
		r, err := b.brokerRun(ctx, s, newBrokerTable(n))
		if err != nil {
			return nil, fmt.Errorf("%d pairs: %w", n, err)
		}
		res.Runs = append(res.Runs, r)
	}
	res.FloorIdleRSS = s.floorIdleRSS
	return res, nil
}

// brokerRun measures one table: a fresh daemon serving it, the first
// fetch of every pair, warm slices against the daemon and the floor
// (ABBA), at the target size the refresh moments, then memory with the
// connections open and after they close.
func (b *bench) brokerRun(ctx context.Context, s *brokerSection, t *brokerTable) (brokerRun, error) {
	r := brokerRun{Pairs: len(t.pairs), Clients: len(t.tokens), RefreshCalls: -1}
	lifetime := time.Duration(0)
	if r.Pairs == brokerTargetPairs {
		lifetime = brokerLifetime
	}
	sts, err := startStandIn(ststest.Options{Lifetime: lifetime, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return r, err
	}
	defer sts.stop()
	w, err := newWorld(b.root, "k", b.bin, sts.URL, t.config(s.certFile, s.keyFile), nil)
	if err != nil {
		return r, err
	}
	defer w.remove()
	w.ready = func(st *daemonStatus) bool { return st.Broker != "" }
	if err := w.startDaemon(ctx, ""); err != nil {
		return r, err
	}
	st, err := w.status(ctx)
	if err != nil {
		return r, err
	}
	conns := brokerClients(s.pool)
	defer closeBrokerClients(conns)
	calls := func() int { return sts.CallsOf(ststest.ActionGetFederationToken) }
	load := &brokerLoad{b: b, ctx: ctx, addr: st.Broker, conns: conns, table: t}

	t0 := time.Now()
	first := load.wave("first fetch", 0, r.Pairs)
	r.Waves = append(r.Waves, first)
	r.ColdCalls = settle(ctx, calls, r.Pairs)
	if s.floor == nil {
		if len(first.body) == 0 {
			return r, fmt.Errorf("no reply to start the TLS floor with: %s", first.FirstError)
		}
		if s.floor, err = startTLSFloor(ctx, s, first.body); err != nil {
			return r, err
		}
		m, err := procMem(s.floor.pid())
		if err != nil {
			return r, err
		}
		s.floorIdleRSS = m["VmRSS"]
	}
	before := calls()
	r.Warm, r.Floor = load.warm(s.floor.addrs[0], s.warmRequests)
	r.Waves = append(r.Waves, r.Warm, r.Floor)
	time.Sleep(300 * time.Millisecond) // any extra call lands before the count
	r.WarmCalls = calls() - before
	if lifetime > 0 {
		wv, n := load.refreshWindow(t0, lifetime, calls)
		r.Waves = append(r.Waves, wv)
		r.RefreshCalls = n
	}
	if err := b.brokerMemory(&r, w, s, conns, st.Broker); err != nil {
		return r, err
	}
	b.logf("    STS calls: first fetch %d, warm %d, refresh %d; VmRSS open %.1f MiB (HWM %.1f, TLS floor %.1f), closed+released %.1f MiB (heap %.1f, live %.1f, stacks %.1f)",
		r.ColdCalls, r.WarmCalls, r.RefreshCalls, mib(r.OpenRSS), mib(r.OpenHWM), mib(r.FloorRSS), mib(r.ClosedRSS), mib(r.ClosedHeap), mib(r.ClosedLive), mib(r.ClosedStack))
	return r, w.stopDaemon()
}

// settle waits until calls reaches want (or 15 s), then a little longer
// so that any extra call lands before the count.
func settle(ctx context.Context, calls func() int, want int) int {
	deadline := time.Now().Add(15 * time.Second)
	for calls() < want && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	return calls()
}

func (r *report) brokerTargets() []target {
	k := r.broker
	if k == nil {
		return nil
	}
	var out []target
	var calls []string
	met := true
	for _, run := range k.Runs {
		calls = append(calls, fmt.Sprintf("%d: %d / %d / %s", run.Pairs, run.ColdCalls, run.WarmCalls, refreshCount(run.RefreshCalls)))
		met = met && run.callsMet()
	}
	errs := 0
	for _, run := range k.Runs {
		errs += run.errors()
	}
	out = append(out, target{
		figure: "broker: STS calls, first fetch / warm / refresh moments, per table (pairs: calls)",
		median: "–", p99: "–", floor: "one per pair, once",
		ratio: strings.Join(calls, "; ") + fmt.Sprintf("; %d errors", errs),
		goal:  "pairs / 0 / pairs, 0 errors", met: met,
	})
	if t := k.run(brokerTargetPairs); t != nil {
		out = append(out, target{
			figure: fmt.Sprintf("broker: daemon RSS holding %d (client, profile) credentials, connections closed, memory released", t.Pairs),
			median: fmt.Sprintf("%.1f MiB", mib(t.ClosedRSS)), p99: fmt.Sprintf("%.1f MiB open (%d connections)", mib(t.OpenRSS), brokerConns),
			floor: fmt.Sprintf("%.1f MiB (TLS floor, connections open)", mib(t.FloorRSS)), ratio: "–",
			goal: fmt.Sprintf("≤ %d MiB", brokerRSSGoal>>20), met: t.ClosedRSS <= brokerRSSGoal,
		})
		out = append(out, target{
			figure: fmt.Sprintf("broker: warm p99, %d pairs, %d in flight", t.Pairs, brokerWorkers),
			median: ms(t.Warm.Latency.Median), p99: ms(t.Warm.Latency.P99), floor: ms(t.Floor.Latency.P99) + " (bare Go TLS server)",
			ratio: x(t.p99Ratio()), goal: fmt.Sprintf("≤ %.1f× the floor", brokerP99Goal), met: t.p99Ratio() <= brokerP99Goal,
		})
	}
	if k.run(100) != nil && k.run(10000) != nil {
		lin := k.linearity()
		out = append(out, target{
			figure: "broker: memory growth 100 → 1000 → 10,000 pairs (MiB per 1000 pairs)",
			median: fmt.Sprintf("%.2f / %.2f (heap)", k.slope(100, 1000, true), k.slope(1000, 10000, true)),
			p99:    fmt.Sprintf("%.2f / %.2f (RSS)", k.slope(100, 1000, false), k.slope(1000, 10000, false)),
			floor:  "a straight line (1×)", ratio: x(lin),
			goal: fmt.Sprintf("linear: the 1000 → 10,000 cost ≤ %.1f× the 100 → 1000 cost", brokerLinearGoal), met: lin <= brokerLinearGoal,
		})
	}
	return out
}

func refreshCount(n int) string {
	if n < 0 {
		return "–"
	}
	return fmt.Sprint(n)
}
