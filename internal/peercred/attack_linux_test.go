package peercred_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stsd/stsd/ecs"
	"github.com/stsd/stsd/imds"
	"github.com/stsd/stsd/internal/httpserve"
	"github.com/stsd/stsd/internal/netns"
	"github.com/stsd/stsd/internal/nobody"
	"github.com/stsd/stsd/internal/peercred"
	"github.com/stsd/stsd/internal/servetest"
)

// What the attackers below ask for: dev's token files and the IMDS paths
// and headers.
const (
	devToken    = "DEVTOKENDEVTOKENDEVTOKEN00"
	pathToken   = "/latest/api/token"
	pathCreds   = "/latest/meta-data/iam/security-credentials"
	ttlHeader   = "X-Aws-Ec2-Metadata-Token-Ttl-Seconds"
	tokenHeader = "X-Aws-Ec2-Metadata-Token"
)

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
			imdsAddr, ecsAddr := serveDev(t, "127.0.0.1", testLog(t), tt.allowed...)
			imdsURL, ecsURL := "http://"+imdsAddr, "http://"+ecsAddr

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
	req, _ = http.NewRequest("GET", ecsURL+ecs.Path("dev"), nil)
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

// TestPeerSpoofedByBoundDevice is the SO_BINDTODEVICE attack on the caller
// check: a child running as nobody binds a port first (SO_REUSEADDR) with
// its sockets pinned to lo, a root-owned listener then starts on that
// port, and the child connects to the endpoints from the port it holds.
// An exact sock_diag lookup misses a pinned socket and the kernel's
// listener fallback answers with the root-owned listener: the endpoints
// must still refuse nobody, over IPv4 and IPv6.
func TestPeerSpoofedByBoundDevice(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a child as nobody")
	}
	bin := nobody.TestBinary(t)
	for _, loop := range []string{"127.0.0.1", "::1"} {
		t.Run(loop, func(t *testing.T) {
			imdsAddr, ecsAddr := serveDev(t, loop, testLog(t), 0)

			cmd := exec.Command(bin, "-test.run=^TestSpoofChild$")
			cmd.Env = append(os.Environ(), "STSD_SPOOF_CHILD="+loop+" "+imdsAddr+" "+ecsAddr)
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			cmd.Stderr = os.Stderr
			nobody.Run(cmd)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			defer stdin.Close()
			// The child reports the port it bound; a root-owned listener
			// (standing for stsd's own ECS, broker or metrics port) takes it.
			var port int
			if _, err := fmt.Fscanf(stdout, "port=%d\n", &port); err != nil {
				t.Fatalf("child port: %v", err)
			}
			victim, err := net.Listen("tcp", net.JoinHostPort(loop, strconv.Itoa(port)))
			if err != nil {
				t.Fatalf("root listener on the child's port: %v", err)
			}
			defer victim.Close()
			io.WriteString(stdin, "go\n")
			out, _ := io.ReadAll(stdout)
			if strings.Contains(string(out), "fakeSecret") {
				t.Fatalf("nobody read root's credentials through a spoofed peer lookup:\n%s", out)
			}
			if !strings.Contains(string(out), "imds=403") || !strings.Contains(string(out), "ecs=403") {
				t.Errorf("spoofing child got %q; want imds=403 and ecs=403", out)
			}
		})
	}
}

// serveDev serves IMDS and ECS for dev, with credentials valid for an
// hour and only uids allowed, on host:0 until the test ends, and returns
// both addresses. It skips when this host has no such address.
func serveDev(t *testing.T, host string, log *slog.Logger, uids ...int) (imdsAddr, ecsAddr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	src := servetest.NewSource()
	src.Set("dev", servetest.LiveCreds(), nil)
	tokens := ecs.NewTokens(nil)
	tokens.SetFile("dev", devToken)
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	serve := func(h http.Handler) string {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Skipf("no %s: %v", host, err)
		}
		wg.Go(func() { httpserve.Serve(ctx, ln, h, httpserve.Options{Logger: log, ConnContext: peercred.ConnContext}) })
		return ln.Addr().String()
	}
	return serve(imds.NewIMDS(src, imds.Profile{Name: "dev", AllowedUIDs: uids}, imds.Options{Logger: log})),
		serve(ecs.New(src, []ecs.Profile{{Name: "dev", AllowedUIDs: uids}}, tokens, ecs.Options{Logger: log}))
}

// testLog sends logs to the test's output.
func testLog(t *testing.T) *slog.Logger { return slog.New(slog.NewTextHandler(t.Output(), nil)) }

// TestSpoofChild is the child half of TestPeerSpoofedByBoundDevice: it
// binds two lo-pinned, reusable sockets to one port, prints the port,
// waits for a line on stdin, then asks IMDS (token + credentials on one
// connection) and ECS from them.
func TestSpoofChild(t *testing.T) {
	args := strings.Fields(os.Getenv("STSD_SPOOF_CHILD"))
	if len(args) != 3 {
		t.Skip("child helper")
	}
	loop, imdsAddr, ecsAddr := args[0], args[1], args[2]
	six := strings.Contains(loop, ":")
	sockaddr := func(ap netip.AddrPort) unix.Sockaddr {
		if six {
			return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
		}
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	}
	family := unix.AF_INET
	if six {
		family = unix.AF_INET6
	}
	port := uint16(0)
	bound := func() *os.File {
		fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			t.Fatal(err)
		}
		if err := unix.BindToDevice(fd, "lo"); err != nil {
			t.Fatalf("SO_BINDTODEVICE: %v", err)
		}
		if err := unix.Bind(fd, sockaddr(netip.AddrPortFrom(netip.MustParseAddr(loop), port))); err != nil {
			t.Fatalf("bind: %v", err)
		}
		if port == 0 {
			switch a, _ := unix.Getsockname(fd); a := a.(type) {
			case *unix.SockaddrInet4:
				port = uint16(a.Port)
			case *unix.SockaddrInet6:
				port = uint16(a.Port)
			}
		}
		return os.NewFile(uintptr(fd), "spoof")
	}
	imdsConn, ecsConn := bound(), bound()
	fmt.Printf("port=%d\n", port)
	var line string
	fmt.Scanln(&line)
	connect := func(f *os.File, addr string) *bufio.Reader {
		if err := unix.Connect(int(f.Fd()), sockaddr(netip.MustParseAddrPort(addr))); err != nil {
			t.Fatalf("connect: %v", err)
		}
		return bufio.NewReader(f)
	}
	exchange := func(f *os.File, r *bufio.Reader, req string) (int, string) {
		io.WriteString(f, req)
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			return -1, err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	r := connect(imdsConn, imdsAddr)
	code, body := exchange(imdsConn, r, "PUT "+pathToken+" HTTP/1.1\r\nHost: "+imdsAddr+"\r\n"+ttlHeader+": 60\r\nContent-Length: 0\r\n\r\n")
	if code == 200 {
		code, body = exchange(imdsConn, r, "GET "+pathCreds+"/dev HTTP/1.1\r\nHost: "+imdsAddr+"\r\n"+tokenHeader+": "+body+"\r\nConnection: close\r\n\r\n")
	}
	r = connect(ecsConn, ecsAddr)
	ecsCode, ecsBody := exchange(ecsConn, r, "GET "+ecs.Path("dev")+" HTTP/1.1\r\nHost: "+ecsAddr+"\r\nAuthorization: "+devToken+"\r\nConnection: close\r\n\r\n")
	fmt.Printf("imds=%d ecs=%d\n%s\n%s\n", code, ecsCode, body, ecsBody)
}

// TestRouteLocalnetCaller: on a host with route_localnet=1 (kube-proxy,
// Docker without the userland proxy) packets from other machines and
// containers reach 127.0.0.1. A caller in another network namespace that
// connects to the loopback endpoints, from the port of a root-owned
// wildcard listener (where a lookup that is not exact would name root),
// is refused with no credential bytes. Both namespaces are the test's own.
func TestRouteLocalnetCaller(t *testing.T) {
	host, ctr := netns.New(t), netns.New(t)
	hostIf, ctrIf := netns.Link(host, "192.0.2.1/24", ctr, "192.0.2.2/24")
	for _, ns := range []struct {
		ns  *netns.NS
		dev string
	}{{host, hostIf}, {ctr, ctrIf}} {
		ns.ns.Sysctl("net.ipv4.conf.all.route_localnet", "1")
		ns.ns.Sysctl("net.ipv4.conf."+ns.dev+".route_localnet", "1")
	}
	// The container's loopback has no addresses, so 127.0.0.1 leaves it
	// through the veth, as through a DNAT to the host's 127.0.0.1.
	ctr.IP("addr", "flush", "dev", "lo")
	ctr.IP("route", "add", "127.0.0.1/32", "via", "192.0.2.1", "dev", ctrIf)

	bin := nobody.TestBinary(t)
	srv := host.Command(bin, "-test.run=^TestLocalnetServer$")
	srv.Env = append(os.Environ(), "STSD_LOCALNET_SERVER=1")
	srv.Stderr = os.Stderr
	stdin, _ := srv.StdinPipe()
	stdout, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Wait()
	defer stdin.Close()
	var imdsAddr, ecsAddr string
	var wildPort int
	if _, err := fmt.Fscanf(stdout, "imds=%s ecs=%s wild=%d\n", &imdsAddr, &ecsAddr, &wildPort); err != nil {
		t.Fatalf("server child: %v", err)
	}
	cl := ctr.Command(bin, "-test.run=^TestLocalnetClient$")
	cl.Env = append(os.Environ(), fmt.Sprintf("STSD_LOCALNET_CLIENT=192.0.2.2:%d %s %s", wildPort, imdsAddr, ecsAddr))
	out, err := cl.CombinedOutput()
	if err != nil {
		t.Fatalf("client child: %v\n%s", err, out)
	}
	t.Logf("client: %s", out)
	if strings.Contains(string(out), "fakeSecret") {
		t.Fatalf("a caller from another namespace read the credentials:\n%s", out)
	}
	if !strings.Contains(string(out), "imds=refused ecs=refused") {
		t.Errorf("caller from another namespace got %q; want both refused", out)
	}
	stdin.Close()
	rest, _ := io.ReadAll(stdout)
	if !strings.Contains(string(rest), "non_loopback_peer") {
		t.Errorf("no audit line for the refused caller; server said:\n%s", rest)
	}
}

// TestLocalnetServer is the server half of TestRouteLocalnetCaller: IMDS
// and ECS on 127.0.0.1 for root only, and a root-owned listener on every
// address, until stdin closes; then it prints its log.
func TestLocalnetServer(t *testing.T) {
	if os.Getenv("STSD_LOCALNET_SERVER") == "" {
		t.Skip("child helper")
	}
	var logs servetest.Buffer
	imdsAddr, ecsAddr := serveDev(t, "127.0.0.1", slog.New(slog.NewTextHandler(&logs, nil)), 0)
	wild, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer wild.Close()
	fmt.Printf("imds=%s ecs=%s wild=%d\n", imdsAddr, ecsAddr, wild.Addr().(*net.TCPAddr).Port)
	io.Copy(io.Discard, os.Stdin)
	io.WriteString(os.Stdout, logs.String())
}

// TestLocalnetClient is the client half of TestRouteLocalnetCaller: it
// asks IMDS (token, then credentials) and ECS from a fixed local address.
func TestLocalnetClient(t *testing.T) {
	args := strings.Fields(os.Getenv("STSD_LOCALNET_CLIENT"))
	if len(args) != 3 {
		t.Skip("child helper")
	}
	local := net.TCPAddrFromAddrPort(netip.MustParseAddrPort(args[0]))
	d := &net.Dialer{LocalAddr: local, Timeout: 3 * time.Second,
		Control: func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1) })
		}}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
	result := func(req *http.Request) (string, string) {
		resp, err := hc.Do(req)
		if err != nil {
			return "refused", err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return "refused", resp.Status + " " + string(b)
		}
		return "200", string(b)
	}
	req, _ := http.NewRequest("PUT", "http://"+args[1]+pathToken, nil)
	req.Header.Set(ttlHeader, "60")
	imds, body := result(req)
	if imds == "200" {
		req, _ = http.NewRequest("GET", "http://"+args[1]+pathCreds+"/dev", nil)
		req.Header.Set(tokenHeader, body)
		imds, body = result(req)
	}
	req, _ = http.NewRequest("GET", "http://"+args[2]+ecs.Path("dev"), nil)
	req.Header.Set("Authorization", devToken)
	ecs, ecsBody := result(req)
	fmt.Printf("imds=%s ecs=%s\n%s\n%s\n", imds, ecs, body, ecsBody)
}
