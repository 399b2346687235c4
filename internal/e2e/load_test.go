//go:build !windows

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stsd/stsd/internal/ststest"
)

// Clients per path in each burst: 1000 in all. credential_process runs the
// small binary as real processes, so it gets the smallest share.
const (
	loadProcesses = 100
	loadSocket    = 300
	loadIMDS      = 300
	loadECS       = 300
)

// stsLatency keeps the refresh's STS call in flight while a burst fires.
const stsLatency = 2 * time.Second

// got is what one client received.
type got struct {
	path       string
	key        string
	expiration time.Time
	at         time.Time // when the answer arrived
	err        error
}

// TestRefreshUnderLoad: one `stsd run` serving dev over credential_process,
// IMDS and ECS; 1000 clients across the three paths fire while a refresh's
// STS call is in flight, twice: after `POST /v1/refresh/dev` (the old
// credentials stay valid, so clients get them at once) and after
// `POST /v1/clear/dev` (no valid credentials, so every client waits for the
// refresher's one fetch). Each refresh makes exactly one STS call, no
// client fails, none gets expired credentials, and afterwards every path
// serves the new key.
func TestRefreshUnderLoad(t *testing.T) {
	sts := ststest.NewServer(t, ststest.Options{})
	w := newWorld(t, sts.URL, endpointConfig)
	w.startDaemon(t)
	ep := w.endpointsOf(t)
	sock := filepath.Join(w.dir, "r", "stsd", "stsd.sock")
	ecsToken := ep.token(t)
	first := imdsKey(t, ep.imds)
	if !strings.HasPrefix(first, "ASIA") || sts.Calls() != 1 {
		t.Fatalf("first key %q after %d calls", first, sts.Calls())
	}
	identities := sts.CallsOf(ststest.ActionGetCallerIdentity)
	sts.SetLatency(stsLatency)

	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 300}}
	t.Cleanup(hc.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()

	old := first
	for _, phase := range []string{"refresh", "clear"} {
		t.Run(phase, func(t *testing.T) {
			calls := sts.Calls()
			if code, body := socketRequest(sock, "POST", "/v1/"+phase+"/dev"); code != 202 {
				t.Fatalf("POST /v1/%s/dev = %d %s", phase, code, body)
			}
			// Fire once the refresh's STS call has arrived: it stays in
			// flight for stsLatency.
			deadline := time.Now().Add(10 * time.Second)
			for len(tokenRequests(sts)) <= calls {
				if time.Now().After(deadline) {
					t.Fatal("the refresh never reached STS")
				}
				time.Sleep(5 * time.Millisecond)
			}
			sent := tokenRequests(sts)[calls].Time
			results := burst(ctx, t, w, sock, ep, ecsToken, hc)

			byKey := map[string]int{}
			var failed []string
			for _, r := range results {
				switch {
				case r.err != nil:
					failed = append(failed, fmt.Sprintf("%s: %v", r.path, r.err))
				case !r.at.Before(r.expiration):
					failed = append(failed, fmt.Sprintf("%s: credentials expired at %s, received %s", r.path, r.expiration, r.at))
				default:
					byKey[r.key]++
				}
			}
			if len(failed) > 0 {
				t.Errorf("%d of %d clients failed; first: %s", len(failed), len(results), failed[0])
			}
			if len(results) != loadProcesses+loadSocket+loadIMDS+loadECS {
				t.Errorf("%d results; want 1000", len(results))
			}
			// Let the refresh finish, then make sure nothing else called.
			deadline = time.Now().Add(stsLatency + 10*time.Second)
			var now string
			for now = imdsKey(t, ep.imds); now == old; now = imdsKey(t, ep.imds) {
				if time.Now().After(deadline) {
					t.Fatal("the new key never reached IMDS")
				}
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond)
			if n := sts.Calls() - calls; n != 1 {
				t.Errorf("%d STS calls for one refresh under load; want exactly 1", n)
			}
			for k := range byKey {
				if k != old && k != now {
					t.Errorf("a client got key %s: neither the old nor the new one", k)
				}
			}
			// Which key came when: in "refresh" the old one was still valid
			// and must have been served during the call; in "clear" no
			// client may have had the old one.
			switch phase {
			case "refresh":
				if byKey[old] == 0 {
					t.Errorf("no client was served during the refresh (keys %v)", byKey)
				}
			case "clear":
				if byKey[old] != 0 {
					t.Errorf("%d clients got the dropped credentials after clear", byKey[old])
				}
			}
			t.Logf("%s: STS call at %s; keys served %v", phase, sent.Format(time.StampMilli), byKey)
			old = now
		})
	}
	if n := sts.CallsOf(ststest.ActionGetCallerIdentity); n != identities {
		t.Errorf("%d GetCallerIdentity calls during the refreshes; want 0", n-identities)
	}
}

// burst starts every client behind one gate, opens it, and waits for all.
func burst(ctx context.Context, t *testing.T, w *world, sock string, ep endpoints, ecsToken string, hc *http.Client) []got {
	t.Helper()
	var mu sync.Mutex
	var out []got
	record := func(g got) {
		g.at = time.Now()
		mu.Lock()
		out = append(out, g)
		mu.Unlock()
	}
	gate := make(chan struct{})
	var wg sync.WaitGroup
	spawn := func(n int, f func() got) {
		for range n {
			wg.Go(func() {
				<-gate
				record(f())
			})
		}
	}
	spawn(loadProcesses, func() got {
		cmd := w.cmd(ctx, "stsd-credential-process", "--profile", "dev")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			return got{path: "credential_process", err: fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))}
		}
		return decodeCreds("credential_process", b, "Expiration")
	})
	spawn(loadSocket, func() got {
		code, body := socketRequest(sock, "GET", "/v1/credentials/dev")
		if code != 200 {
			return got{path: "socket", err: fmt.Errorf("status %d: %s", code, body)}
		}
		return decodeCreds("socket", []byte(body), "Expiration")
	})
	spawn(loadIMDS, func() got {
		req, _ := http.NewRequestWithContext(ctx, "PUT", "http://"+ep.imds+"/latest/api/token", nil)
		req.Header.Set("X-aws-ec2-metadata-token-ttl-seconds", "60")
		tok, err := do(hc, req)
		if err != nil {
			return got{path: "imds", err: fmt.Errorf("token: %w", err)}
		}
		req, _ = http.NewRequestWithContext(ctx, "GET", "http://"+ep.imds+"/latest/meta-data/iam/security-credentials/dev", nil)
		req.Header.Set("X-aws-ec2-metadata-token", string(tok))
		b, err := do(hc, req)
		if err != nil {
			return got{path: "imds", err: err}
		}
		return decodeCreds("imds", b, "Expiration")
	})
	spawn(loadECS, func() got {
		req, _ := http.NewRequestWithContext(ctx, "GET", ep.ecsURL(), nil)
		req.Header.Set("Authorization", ecsToken)
		b, err := do(hc, req)
		if err != nil {
			return got{path: "ecs", err: err}
		}
		return decodeCreds("ecs", b, "Expiration")
	})
	close(gate)
	wg.Wait()
	return out
}

func do(hc *http.Client, req *http.Request) ([]byte, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("status %d: %.200s", resp.StatusCode, b)
	}
	return b, nil
}

func decodeCreds(path string, b []byte, field string) got {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return got{path: path, err: fmt.Errorf("not JSON: %v", err)}
	}
	key, _ := m["AccessKeyId"].(string)
	s, _ := m[field].(string)
	exp, err := time.Parse(time.RFC3339, s)
	if key == "" || err != nil {
		return got{path: path, err: fmt.Errorf("no key id or expiration (%q)", s)}
	}
	return got{path: path, key: key, expiration: exp}
}

// socketRequest sends one raw HTTP/1.0 request over the control socket, as
// the small binary does.
func socketRequest(sock, method, path string) (int, string) {
	c, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		return 0, err.Error()
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "%s %s HTTP/1.0\r\nHost: stsd\r\nContent-Length: 0\r\n\r\n", method, path)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
