//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/stsd/stsd/internal/ststest"
)

// burstLifetime is the stand-in's credential lifetime in the burst: the
// daemon refreshes at lifetime/2 ± 10%, so a refresh moment comes every
// ~6 s.
const burstLifetime = 12 * time.Second

// burstLead is how long before the refresh moment the clients are let
// go: their wave then straddles it (1000 fresh connections on a small
// machine take longer than this to land).
const burstLead = 100 * time.Millisecond

// burstResult is one burst of clients at one refresh moment.
type burstResult struct {
	Clients    int
	Calls      int // GetSessionToken calls the refresh made
	Errors     int
	FirstError string
	Latency    dist // seconds, release to full reply
	Wave       float64
	OldKey     int             // clients served the credentials being replaced
	NewKey     int             // clients served the refreshed ones
	ByKind     map[string]dist // latency by client kind
	// HostSockets is how many TCP sockets the host had just before the
	// wave (lines of /proc/net/tcp and tcp6), TIME_WAIT included: the
	// IMDS/ECS peer check reads that table once per new connection.
	HostSockets int
}

// hostTCPSockets counts the entries of /proc/net/tcp and /proc/net/tcp6.
func hostTCPSockets() int {
	n := 0
	for _, p := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if b, err := os.ReadFile(p); err == nil {
			n += max(0, bytes.Count(b, []byte("\n"))-1)
		}
	}
	return n
}

// benchBurst fires clients at each of a few refresh moments of a profile
// whose credentials live burstLifetime and counts STS calls.
func (b *bench) benchBurst(ctx context.Context) ([]burstResult, error) {
	return b.bursts(ctx, b.bin, b.burstCycles, nil)
}

// bursts runs cycles bursts against a daemon built into bin; during each,
// onRelease (if set) runs with the daemon's pid while the wave is out.
func (b *bench) bursts(ctx context.Context, bin string, cycles int, onRelease func(pid int)) ([]burstResult, error) {
	sts, err := startStandIn(ststest.Options{Lifetime: burstLifetime, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	defer sts.stop()
	w, err := newWorld(b.root, "c", bin, sts.URL, endpointConfig, []string{"dev"})
	if err != nil {
		return nil, err
	}
	defer w.remove()
	if err := w.startDaemon(ctx, ""); err != nil {
		return nil, err
	}
	st, err := w.status(ctx)
	if err != nil {
		return nil, err
	}
	imdsAddr, ecsAddr := st.endpoint("dev", "imds"), st.endpoint("dev", "ecs")
	ecsTok, err := w.ecsToken("dev")
	if err != nil {
		return nil, err
	}
	var out []burstResult
	for cycle, tries := 0, 0; cycle < cycles; tries++ {
		if tries > 3*cycles {
			return nil, fmt.Errorf("no usable refresh moment in %d tries", tries)
		}
		st, err := w.status(ctx)
		if err != nil {
			return nil, err
		}
		p := st.Profiles[0]
		if p.NextRefresh == nil {
			return nil, fmt.Errorf("status shows no next refresh")
		}
		old, err := keyOf(w.get(ctx, "/v1/credentials/dev"))
		if err != nil {
			return nil, err
		}
		at := *p.NextRefresh
		if time.Until(at) < time.Second {
			// Too close to set up: take the next one.
			time.Sleep(time.Until(at) + 2*time.Second)
			continue
		}
		sockets := hostTCPSockets()
		before := sts.CallsOf(ststest.ActionGetSessionToken)
		b.logf("  burst %d: %d clients at %s (in %.1fs)", cycle+1, b.burstClients, at.Format("15:04:05.000"), time.Until(at).Seconds())
		var hook sync.WaitGroup
		if onRelease != nil {
			hook.Go(func() {
				time.Sleep(time.Until(at.Add(-burstLead)))
				onRelease(w.daemonPID())
			})
		}
		res := fireBurst(ctx, b.burstClients, at.Add(-burstLead), w.socket(), imdsAddr, ecsAddr, ecsTok, old)
		hook.Wait()
		// Wait until the refresh is done and the next one is scheduled,
		// then count: nothing may have called STS but the refresher, once.
		deadline := time.Now().Add(10 * time.Second)
		for {
			st, err := w.status(ctx)
			if err == nil && st.Profiles[0].NextRefresh != nil && st.Profiles[0].NextRefresh.After(at) && st.Profiles[0].State == "ok" {
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("no refresh within 10s of its moment: %s", w.logTail())
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond)
		res.Calls = sts.CallsOf(ststest.ActionGetSessionToken) - before
		res.HostSockets = sockets
		b.logf("  burst %d: %d STS call(s), %d errors, p50 %.1f ms p99 %.1f ms, old/new key %d/%d",
			cycle+1, res.Calls, res.Errors, res.Latency.Median*1e3, res.Latency.P99*1e3, res.OldKey, res.NewKey)
		out = append(out, res)
		cycle++
	}
	return out, w.stopDaemon()
}

func keyOf(body []byte, err error) (string, error) {
	if err != nil {
		return "", err
	}
	var c struct{ AccessKeyId string }
	if err := json.Unmarshal(body, &c); err != nil || c.AccessKeyId == "" {
		return "", fmt.Errorf("no AccessKeyId in a %d-byte reply", len(body))
	}
	return c.AccessKeyId, nil
}

// fireBurst starts n clients, a third each on IMDS (token PUT + GET), ECS
// and the control socket (credential_process's request), each on fresh
// connections, all released at once at release.
func fireBurst(ctx context.Context, n int, release time.Time, sock, imdsAddr, ecsAddr, ecsTok, oldKey string) burstResult {
	type outcome struct {
		kind string
		lat  time.Duration
		key  string
		err  error
	}
	outs := make([]outcome, n)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		kind := [...]string{"imds", "ecs", "socket"}[i%3]
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			select {
			case <-gate:
			case <-cctx.Done():
				outs[i] = outcome{kind: kind, err: cctx.Err()}
				return
			}
			t0 := time.Now()
			var body []byte
			var err error
			switch kind {
			case "imds":
				tr := &http.Transport{}
				defer tr.CloseIdleConnections()
				body, err = imdsClient(cctx, tr, imdsAddr)
			case "ecs":
				body, err = ecsBody(cctx, ecsAddr, ecsTok, "dev")
			case "socket":
				body, err = socketClient(cctx, sock)
			}
			o := outcome{kind: kind, lat: time.Since(t0), err: err}
			if err == nil {
				o.key, o.err = keyOf(body, nil)
			}
			outs[i] = o
		})
	}
	time.Sleep(time.Until(release))
	t0 := time.Now()
	close(gate)
	wg.Wait()
	res := burstResult{Clients: n, Wave: time.Since(t0).Seconds(), ByKind: map[string]dist{}}
	var lats []time.Duration
	byKind := map[string][]time.Duration{}
	for _, o := range outs {
		if o.err != nil {
			res.Errors++
			if res.FirstError == "" {
				res.FirstError = o.kind + ": " + o.err.Error()
			}
			continue
		}
		lats = append(lats, o.lat)
		byKind[o.kind] = append(byKind[o.kind], o.lat)
		if o.key == oldKey {
			res.OldKey++
		} else {
			res.NewKey++
		}
	}
	res.Latency = summarize(seconds(lats))
	for k, l := range byKind {
		res.ByKind[k] = summarize(seconds(l))
	}
	return res
}

// imdsClient is an SDK's IMDSv2 credential fetch: token PUT, then the GET
// on the same keep-alive connection.
func imdsClient(ctx context.Context, tr *http.Transport, addr string) ([]byte, error) {
	c := &http.Client{Transport: tr}
	do := func(method, path, hk, hv string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set(hk, hv)
		resp, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s %s: %s", method, path, resp.Status)
		}
		return b, err
	}
	tok, err := do(http.MethodPut, imdsTokenPath, "X-aws-ec2-metadata-token-ttl-seconds", "21600")
	if err != nil {
		return nil, err
	}
	return do(http.MethodGet, imdsCredsPath+"dev", "X-aws-ec2-metadata-token", string(tok))
}

// socketClient sends credential_process's raw HTTP/1.0 request to the
// control socket.
func socketClient(ctx context.Context, sock string) ([]byte, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if _, err := io.WriteString(conn, "GET /v1/credentials/dev HTTP/1.0\r\nHost: stsd\r\n\r\n"); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("socket: %s", resp.Status)
	}
	return b, err
}

func (r *report) burstTargets() []target {
	var out []target
	if len(r.bursts) > 0 {
		calls, errs, ok := []string{}, 0, true
		var worstP99, worstMed float64
		for _, bu := range r.bursts {
			calls = append(calls, fmt.Sprint(bu.Calls))
			errs += bu.Errors
			ok = ok && bu.Calls == 1 && bu.Errors == 0
			worstP99 = max(worstP99, bu.Latency.P99)
			worstMed = max(worstMed, bu.Latency.Median)
		}
		out = append(out, target{
			figure: fmt.Sprintf("STS calls / client errors, %d clients at each of %d refresh moments", r.bursts[0].Clients, len(r.bursts)),
			median: ms(worstMed) + " (worst burst)", p99: ms(worstP99) + " (worst burst)",
			floor: "1 call", ratio: strings.Join(calls, ", ") + fmt.Sprintf(" calls; %d errors", errs),
			goal: "exactly 1 call, 0 errors", met: ok,
		})
	}
	return out
}
