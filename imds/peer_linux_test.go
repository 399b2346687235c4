package imds

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stsd/stsd/internal/nobody"
)

func TestFindSocket(t *testing.T) {
	t.Parallel()
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the testdata tables were captured on a little-endian host")
	}
	ap := netip.MustParseAddrPort
	tests := []struct {
		file          string
		local, remote netip.AddrPort
		wantUID       int
		wantFound     bool
	}{
		// The client's row, not the TIME_WAIT row with the same addresses.
		{"proc_net_tcp", ap("127.0.0.1:42548"), ap("127.0.0.1:9920"), 1000, true},
		{"proc_net_tcp", ap("127.0.0.1:9920"), ap("127.0.0.1:42548"), 0, true},
		{"proc_net_tcp", ap("192.168.1.2:22"), ap("192.168.1.1:50000"), 500, true},
		{"proc_net_tcp", ap("127.0.0.1:1"), ap("127.0.0.1:9920"), -1, false},
		{"proc_net_tcp6", ap("[::1]:45056"), ap("[::1]:9921"), 65534, true},
		// An IPv4 client of a dual-stack socket matches in either form.
		{"proc_net_tcp6", ap("127.0.0.1:45057"), ap("127.0.0.1:9922"), 1001, true},
		{"proc_net_tcp6", ap("[::ffff:127.0.0.1]:45057"), ap("[::ffff:127.0.0.1]:9922"), 1001, true},
	}
	for _, tt := range tests {
		f, err := os.Open(filepath.Join("testdata", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		uid, found, err := findSocket(f, tt.local, tt.remote)
		f.Close()
		if err != nil || uid != tt.wantUID || found != tt.wantFound {
			t.Errorf("findSocket(%s, %s, %s) = %d, %v, %v; want %d, %v", tt.file, tt.local, tt.remote, uid, found, err, tt.wantUID, tt.wantFound)
		}
	}
}

// TestLookupPeerLive: the peer of a real loopback connection is this
// process's uid, over IPv4 and IPv6.
func TestLookupPeerLive(t *testing.T) {
	t.Parallel()
	for _, network := range []string{"127.0.0.1:0", "[::1]:0"} {
		ln, err := net.Listen("tcp", network)
		if err != nil {
			t.Logf("skipping %s: %v", network, err)
			continue
		}
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		uid, err := lookupPeer(s.LocalAddr().(*net.TCPAddr).AddrPort(), s.RemoteAddr().(*net.TCPAddr).AddrPort())
		if err != nil || uid != os.Getuid() {
			t.Errorf("lookupPeer on %s = %d, %v; want %d", network, uid, err, os.Getuid())
		}
		c.Close()
		s.Close()
		ln.Close()
	}
}

// TestCallerRunningAsNobody: a child running as uid 65534 is refused by
// the IMDS and ECS endpoints unless allowed_uids lists it, and root is
// refused when it is not listed. The peer is looked up for real
// (/proc/net/tcp). The child is this test binary.
func TestCallerRunningAsNobody(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a child as nobody")
	}
	bin := nobody.TestBinary(t)
	tests := []struct {
		name    string
		allowed []int
		asRoot  bool
		want    int
	}{
		{"nobody refused", []int{0}, false, 403},
		{"nobody allowed", []int{nobody.UID}, false, 200},
		{"root not listed", []int{nobody.UID}, true, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			src := newSource()
			c := testCreds()
			c.Expiration = time.Now().Add(time.Hour)
			src.set("dev", c, nil)
			o := Options{Logger: testOptions(t, newClock(), 0).Logger}
			p := Profile{Name: "dev", AllowedUIDs: tt.allowed}
			tokens := NewTokens(nil)
			tokens.SetFile("dev", devToken)
			imdsURL := serveOn(t, ctx, NewIMDS(src, p, o), o)
			ecsURL := serveOn(t, ctx, NewECS(src, []Profile{p}, tokens, o), o)

			var out []byte
			var err error
			if tt.asRoot {
				out, err = childProbe(imdsURL, ecsURL)
			} else {
				cmd := exec.Command(bin, "-test.run=^TestPeerChild$")
				cmd.Env = append(os.Environ(), "STSD_PEER_CHILD="+imdsURL+" "+ecsURL)
				nobody.Run(cmd)
				out, err = cmd.CombinedOutput()
			}
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			want := "imds=" + strconv.Itoa(tt.want) + " ecs=" + strconv.Itoa(tt.want)
			if !strings.Contains(string(out), want) {
				t.Errorf("caller got %q; want %s", out, want)
			}
			if tt.want != 200 && strings.Contains(string(out), "fakeSecret") {
				t.Error("a refused caller saw the secret")
			}
		})
	}
}

// serveOn serves h on 127.0.0.1:0 until ctx ends and returns its URL.
func serveOn(t *testing.T, ctx context.Context, h http.Handler, o Options) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); Serve(ctx, ln, h, o) }()
	t.Cleanup(func() { <-done })
	return "http://" + ln.Addr().String()
}

// childProbe PUTs an IMDS token and GETs the credentials, and GETs the ECS
// credentials; it reports both statuses.
func childProbe(imdsURL, ecsURL string) ([]byte, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	status := func(req *http.Request) (int, string) {
		resp, err := c.Do(req)
		if err != nil {
			return -1, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	req, _ := http.NewRequest("PUT", imdsURL+pathToken, nil)
	req.Header.Set(ttlHeader, "60")
	code, tok := status(req)
	if code == 200 {
		req, _ = http.NewRequest("GET", imdsURL+pathCreds+"/dev", nil)
		req.Header.Set(tokenHeader, tok)
		code, _ = status(req)
	}
	req, _ = http.NewRequest("GET", ecsURL+ECSPath("dev"), nil)
	req.Header.Set("Authorization", devToken)
	ecsCode, _ := status(req)
	return []byte("imds=" + strconv.Itoa(code) + " ecs=" + strconv.Itoa(ecsCode) + "\n"), nil
}

// TestPeerChild is the child half of TestCallerRunningAsNobody.
func TestPeerChild(t *testing.T) {
	urls := os.Getenv("STSD_PEER_CHILD")
	if urls == "" {
		t.Skip("child helper")
	}
	imdsURL, ecsURL, _ := strings.Cut(urls, " ")
	out, _ := childProbe(imdsURL, ecsURL)
	os.Stdout.Write(out)
}
