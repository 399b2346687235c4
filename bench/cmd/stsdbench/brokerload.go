//go:build linux

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// brokerClients are brokerConns HTTP clients, one connection each (HTTP/2
// over TLS, as SDKs connect to an HTTPS endpoint).
func brokerClients(pool *x509.CertPool) []*http.Client {
	out := make([]*http.Client, brokerConns)
	for i := range out {
		out[i] = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true,
			MaxConnsPerHost: 1, TLSHandshakeTimeout: 10 * time.Second,
		}}
	}
	return out
}

func closeBrokerClients(cs []*http.Client) {
	for _, c := range cs {
		c.CloseIdleConnections()
	}
}

// brokerLoad sends a table's requests to the broker (or the floor).
type brokerLoad struct {
	b     *bench
	ctx   context.Context
	addr  string
	conns []*http.Client
	table *brokerTable
}

// wave is count requests to the broker, the pairs from offset on (round
// the table), brokerWorkers in flight; request k goes over connection
// k mod brokerConns.
func (l *brokerLoad) wave(name string, offset, count int) brokerWave {
	wv := l.fire(l.addr, offset, count)
	wv.Name = name
	l.b.logf("    %s: %d requests, %d errors, p50 %s p99 %s, %.2fs", name, wv.Requests, wv.Errors, ms(wv.Latency.Median), ms(wv.Latency.P99), wv.Wall)
	return wv
}

// fire sends the requests to addr; each is bounded by its client's timeout
// and all of them by 90 s.
func (l *brokerLoad) fire(addr string, offset, count int) brokerWave {
	ctx, cancel := context.WithTimeout(l.ctx, 90*time.Second)
	defer cancel()
	lats := make([]time.Duration, count)
	errs := make([]error, count)
	var body []byte
	var once sync.Once
	jobs := make(chan int)
	var wg sync.WaitGroup
	t0 := time.Now()
	for range brokerWorkers {
		wg.Go(func() {
			for k := range jobs {
				p := l.table.pairs[(offset+k)%len(l.table.pairs)]
				start := time.Now()
				b, err := brokerFetch(ctx, l.conns[k%len(l.conns)], addr, fmt.Sprintf("p%d", p.profile), l.table.tokens[p.client])
				lats[k], errs[k] = time.Since(start), err
				if err == nil {
					once.Do(func() { body = b })
				}
			}
		})
	}
	for k := range count {
		jobs <- k
	}
	close(jobs)
	wg.Wait()
	wv := brokerWave{Requests: count, Wall: time.Since(t0).Seconds(), body: body}
	for k, err := range errs {
		if err != nil {
			wv.Errors++
			if wv.FirstError == "" {
				p := l.table.pairs[(offset+k)%len(l.table.pairs)]
				wv.FirstError = fmt.Sprintf("c%05d/p%d: %v", p.client, p.profile, err)
			}
			continue
		}
		wv.lats = append(wv.lats, lats[k])
	}
	wv.Latency = summarize(seconds(wv.lats))
	return wv
}

// warmOrder is the order of the warm slices, true for the broker: ABBA
// BAAB twice, so drift cancels; 8000 requests per side, since a p99 of a
// few thousand moves with a single stall.
var warmOrder = []bool{true, false, false, true, false, true, true, false, true, false, false, true, false, true, true, false}

// warm primes every connection to the floor and the broker (one untimed
// request each: the floor's are new, and a small table's first fetch
// does not use all of the broker's), then runs the warmOrder slices of n
// requests each, the broker's starting where its last slice ended, and
// pools each side's.
func (l *brokerLoad) warm(floorAddr string, n int) (broker, floor brokerWave) {
	for _, addr := range []string{floorAddr, l.addr} {
		if wv := l.fire(addr, 0, len(l.conns)); wv.Errors > 0 {
			broker.Errors += wv.Errors
			broker.FirstError = wv.FirstError
		}
	}
	offset := 0
	for _, toBroker := range warmOrder {
		addr, into := floorAddr, &floor
		if toBroker {
			addr, into = l.addr, &broker
		}
		wv := l.fire(addr, offset, n)
		if toBroker {
			offset += n
		}
		into.Requests += wv.Requests
		into.Errors += wv.Errors
		into.Wall += wv.Wall / float64(len(warmOrder)/2)
		into.lats = append(into.lats, wv.lats...)
		if into.FirstError == "" {
			into.FirstError = wv.FirstError
		}
	}
	broker.Name, floor.Name = "warm (broker)", "warm (TLS floor)"
	for _, wv := range []*brokerWave{&broker, &floor} {
		wv.Latency = summarize(seconds(wv.lats))
		l.b.logf("    %s: %d requests, %d errors, p50 %s p99 %s", wv.Name, wv.Requests, wv.Errors, ms(wv.Latency.Median), ms(wv.Latency.P99))
	}
	return broker, floor
}

// refreshWindow: each pair refreshes lifetime/2 ± 10% after its first
// fetch (t0). Passes over every pair run through that window (100 ms
// apart) until every pair has refreshed; the next refreshes come
// ~lifetime/2 later. It returns the pooled passes and the STS calls.
func (l *brokerLoad) refreshWindow(t0 time.Time, lifetime time.Duration, calls func() int) (brokerWave, int) {
	n := len(l.table.pairs)
	before := calls()
	time.Sleep(time.Until(t0.Add(lifetime * 2 / 5)))
	end := time.Now().Add(lifetime*3/10 + 5*time.Second)
	var passes int
	refresh := brokerWave{}
	for calls() < before+n && time.Now().Before(end) && l.ctx.Err() == nil {
		wv := l.fire(l.addr, 0, n)
		passes++
		refresh.lats = append(refresh.lats, wv.lats...)
		refresh.Requests += wv.Requests
		refresh.Errors += wv.Errors
		refresh.Wall += wv.Wall
		if refresh.FirstError == "" {
			refresh.FirstError = wv.FirstError
		}
		time.Sleep(100 * time.Millisecond)
	}
	refresh.Name = fmt.Sprintf("refresh window (%d passes)", passes)
	refresh.Latency = summarize(seconds(refresh.lats))
	refresh.Wall /= float64(max(1, passes))
	l.b.logf("    %s: %d requests, %d errors, p50 %s p99 %s", refresh.Name, refresh.Requests, refresh.Errors, ms(refresh.Latency.Median), ms(refresh.Latency.P99))
	got := settle(l.ctx, calls, before+n) - before
	if d := time.Since(t0); d > lifetime*9/10 {
		l.b.notef("broker: the refresh count ended %.1fs after the first fetch, when second refreshes may have begun", d.Seconds())
	}
	return refresh, got
}

// brokerFetch is an ECS-protocol credential GET; it fails unless the
// answer is 200 with an ASIA key, and returns the body. Errors never hold
// the token.
func brokerFetch(ctx context.Context, c *http.Client, addr, profile, token string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/v1/credentials/"+profile, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", token)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s", resp.Status)
	}
	var cr struct{ AccessKeyId string }
	if json.Unmarshal(body, &cr) != nil || !strings.HasPrefix(cr.AccessKeyId, "ASIA") {
		return nil, fmt.Errorf("no ASIA key in a %d-byte reply", len(body))
	}
	return body, nil
}

// brokerMemory reads the daemon's memory with the connections open, then
// closes them, waits until the broker holds none (its port has no socket
// but the listener and TIME_WAIT ones, which are the kernel's), has it
// release its memory (SIGUSR1: a GC, then every free page back to the
// OS, and a log line) and reads it again.
func (b *bench) brokerMemory(r *brokerRun, w *world, s *brokerSection, conns []*http.Client, addr string) error {
	pid := w.daemonPID()
	m, err := procMem(pid)
	if err != nil {
		return err
	}
	r.OpenRSS, r.OpenHWM = m["VmRSS"], m["VmHWM"]
	if m, err = procMem(s.floor.pid()); err != nil {
		return err
	}
	r.FloorRSS = m["VmRSS"]
	closeBrokerClients(conns)
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := serverSockets(addr)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the broker still holds %d connections 10s after the clients closed theirs", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	deadline = time.Now().Add(10 * time.Second)
	if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
		return err
	}
	for {
		if heap, live, stack, ok := releasedMemory(w.logFile.Name()); ok {
			r.ClosedHeap, r.ClosedLive, r.ClosedStack = heap, live, stack
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the daemon logged no memory release within 10s of SIGUSR1: %s", w.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m, err = procMem(pid); err != nil {
		return err
	}
	r.ClosedRSS, r.ClosedAnon, r.ClosedFile = m["VmRSS"], m["RssAnon"], m["RssFile"]
	return nil
}

// serverSockets counts the TCP sockets on addr's port (an IPv4
// 127.0.0.1:PORT listener) in /proc/net/tcp that a process holds: every
// state but LISTEN and TIME_WAIT.
func serverSockets(addr string) (int, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	pn, err := strconv.Atoi(port)
	if err != nil {
		return 0, err
	}
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return 0, err
	}
	local := fmt.Sprintf("0100007F:%04X", pn)
	n := 0
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		// sl local_address rem_address st ...; st 0A = LISTEN, 06 = TIME_WAIT
		if len(f) > 3 && f[1] == local && f[3] != "0A" && f[3] != "06" {
			n++
		}
	}
	return n, nil
}

var releasedRe = regexp.MustCompile(`event=memory_released heap_bytes=(\d+) heap_live_bytes=(\d+) stack_bytes=(\d+)`)

// releasedMemory is the heap (spans in use, live objects) and stacks of
// the daemon's last memory release in its log.
func releasedMemory(logFile string) (heap, live, stack int64, ok bool) {
	b, err := os.ReadFile(logFile)
	if err != nil {
		return 0, 0, 0, false
	}
	all := releasedRe.FindAllSubmatch(b, -1)
	if len(all) == 0 {
		return 0, 0, 0, false
	}
	last := all[len(all)-1]
	heap, _ = strconv.ParseInt(string(last[1]), 10, 64)
	live, _ = strconv.ParseInt(string(last[2]), 10, 64)
	stack, _ = strconv.ParseInt(string(last[3]), 10, 64)
	return heap, live, stack, true
}

// startTLSFloor runs tlsfloor with the section's certificate, answering
// body on one listener.
func startTLSFloor(ctx context.Context, s *brokerSection, body []byte) (*floorServer, error) {
	return startFloorProgram(ctx, s.floorBin, os.TempDir(), "", body, 1, "-cert", s.certFile, "-key", s.keyFile)
}
