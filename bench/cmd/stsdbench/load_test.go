//go:build linux

package main

import (
	"bufio"
	"math"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestReadResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		raw        string
		wantStatus int
		wantBody   string
		wantKeep   bool
		wantErr    bool
	}{
		{"keep-alive", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}", 200, "{}", true, false},
		{"connection close", "HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx", 401, "x", false, false},
		{"HTTP/1.0 closes", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 200, "", false, false},
		{"chunked is refused", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 0, "", false, true},
		{"no length", "HTTP/1.1 200 OK\r\n\r\n{}", 0, "", false, true},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{}", 0, "", false, true},
		{"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", 0, "", false, true},
		{"huge length", "HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n", 0, "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, body, keep, err := readResponse(bufio.NewReader(strings.NewReader(tt.raw)), make([]byte, 1024))
			if (err != nil) != tt.wantErr {
				t.Fatalf("readResponse(%q) error = %v; want error %v", tt.raw, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if status != tt.wantStatus || string(body) != tt.wantBody || keep != tt.wantKeep {
				t.Errorf("readResponse(%q) = %d %q keep %v; want %d %q keep %v", tt.raw, status, body, keep, tt.wantStatus, tt.wantBody, tt.wantKeep)
			}
		})
	}
}

// bodyServer is a real net/http server on loopback, until the test ends,
// answering body to every path but /bad; it returns its address.
func bodyServer(t *testing.T, body []byte) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			w.Write([]byte("nope"))
			return
		}
		w.Write(body)
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestRunLoad drives a real net/http server on loopback for a moment:
// every reply is counted and checked, and a wrong body is an error.
func TestRunLoad(t *testing.T) {
	t.Parallel()
	body := []byte(`{"AccessKeyId":"ASIAFAKEEXAMPLE00001"}`)
	addr := bodyServer(t, body)

	spec := loadSpec{Addr: addr, Request: httpRequest(addr, "/"), Want: body, Conns: 4, Warmup: 10 * time.Millisecond, Duration: 200 * time.Millisecond}
	res := runLoad(spec)
	if res.Requests == 0 || res.Errors != 0 || int64(len(res.Samples)) != res.Requests {
		t.Errorf("runLoad = %d requests, %d errors (%s), %d samples; want some requests, no errors, a sample each",
			res.Requests, res.Errors, res.FirstError, len(res.Samples))
	}
	spec.Request = httpRequest(addr, "/bad")
	if res := runLoad(spec); res.Errors == 0 || res.Requests != 0 {
		t.Errorf("runLoad against a wrong body = %d requests, %d errors; want only errors", res.Requests, res.Errors)
	}
}

// TestRunAlternating drives two real net/http servers in turns: each side
// is counted on its own, phase by phase, and a wrong body on one side is
// that side's error only.
func TestRunAlternating(t *testing.T) {
	t.Parallel()
	body := []byte(`{"AccessKeyId":"ASIAFAKEEXAMPLE00001"}`)
	addrs := [2]string{bodyServer(t, body), bodyServer(t, body)}
	spec := altSpec{Conns: 2, Warmup: 30 * time.Millisecond, Phase: 30 * time.Millisecond, Settle: 5 * time.Millisecond, Phases: 4}
	for i, a := range addrs {
		spec.Targets[i] = loadTarget{Addr: a, Request: httpRequest(a, "/"), Want: body}
	}
	res := runAlternating(spec)
	for side, r := range res.Sides {
		var sum float64
		for _, rps := range res.PhaseRPS[side] {
			sum += rps * (spec.Phase - spec.Settle).Seconds()
		}
		if r.Requests == 0 || r.Errors != 0 || int64(len(r.Samples)) != r.Requests ||
			len(res.PhaseRPS[side]) != spec.Phases || math.Abs(sum-float64(r.Requests)) > 0.5 {
			t.Errorf("side %d: %d requests, %d errors (%s), %d samples, phases %v; want some requests, no errors, "+
				"a sample each, %d phases that add up to the requests", side, r.Requests, r.Errors, r.FirstError, len(r.Samples),
				res.PhaseRPS[side], spec.Phases)
		}
	}
	spec.Targets[1].Request = httpRequest(addrs[1], "/bad")
	res = runAlternating(spec)
	if a, b := res.Sides[0], res.Sides[1]; a.Errors != 0 || a.Requests == 0 || b.Errors == 0 || b.Requests != 0 {
		t.Errorf("one side with a wrong body: %d/%d requests, %d/%d errors; want only the second side's to fail",
			a.Requests, b.Requests, a.Errors, b.Errors)
	}
}

// TestABBA: phases go A B B A and the warm-up is whole quads.
func TestABBA(t *testing.T) {
	t.Parallel()
	var got []int
	for i := range 8 {
		got = append(got, abbaOwner(i))
	}
	if want := []int{0, 1, 1, 0, 0, 1, 1, 0}; !slices.Equal(got, want) {
		t.Errorf("owners %v; want %v", got, want)
	}
	for _, c := range []struct {
		d    time.Duration
		want int
	}{{0, 0}, {time.Millisecond, 4}, {400 * time.Millisecond, 4}, {401 * time.Millisecond, 8}, {500 * time.Millisecond, 8}} {
		if got := warmPhases(c.d, 100*time.Millisecond); got != c.want {
			t.Errorf("warmPhases(%s) = %d; want %d", c.d, got, c.want)
		}
	}
}

func TestParseInitTrace(t *testing.T) {
	out := []byte("init internal/bytealg @0.003 ms, 0 ms clock, 0 bytes, 0 allocs\n" +
		"init runtime @0.031 ms, 0.040 ms clock, 0 bytes, 0 allocs\n" +
		"init github.com/stsd/stsd/config @2.9 ms, 0.45 ms clock, 197736 bytes, 2063 allocs\n" +
		"not a trace line\n")
	m := parseInitTrace(out)
	if len(m) != 3 {
		t.Fatalf("parsed %d lines: %v", len(m), m)
	}
	if c := m["github.com/stsd/stsd/config"]; c.ClockUS != 450 || c.Bytes != 197736 || c.allocs != 2063 {
		t.Errorf("config: %+v", c)
	}
}
