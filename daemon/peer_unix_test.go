//go:build !windows

package daemon

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stsd/stsd/internal/nobody"
	"github.com/stsd/stsd/internal/ststest"
)

// TestPeerUIDChecked: a process running as nobody is refused unless the
// profile's allowed_uids lists it. The child is this test binary.
func TestPeerUIDChecked(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a child as nobody")
	}
	for _, tt := range []struct {
		name    string
		profile string
		want    int
	}{
		{"refused", sessionProfile, 403},
		{"allowed", sessionProfile + "allowed_uids = [65534]\n", 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sock := serveOpenSocket(t, tt.profile)

			cmd := exec.Command(nobody.TestBinary(t), "-test.run=^TestPeerChild$")
			cmd.Env = append(os.Environ(), "STSD_PEER_CHILD="+sock)
			nobody.Run(cmd)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "status="+strconv.Itoa(tt.want)) {
				t.Errorf("child as nobody got %s; want status=%d", out, tt.want)
			}
		})
	}
}

// serveOpenSocket runs a daemon for profiles (against an STS stand-in)
// on a socket anyone may connect to, as socket_group opens it to its
// members, until the test ends; it returns the socket's path.
func serveOpenSocket(t *testing.T, profiles string) string {
	t.Helper()
	env := newEnv(t, profiles)
	sts := ststest.NewServer(t, ststest.Options{})
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	sock := filepath.Join(nobody.Dir(t), "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(sock, 0o666)
	s, _ := New(Options{Config: env.cfg, Socket: sock})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return sock
}

// TestPeerChild is the child half of TestPeerUIDChecked and
// TestReadyzHidesProfiles: it GETs each of STSD_PEER_PATHS (default the
// credentials of dev) and prints each status and body.
func TestPeerChild(t *testing.T) {
	sock := os.Getenv("STSD_PEER_CHILD")
	if sock == "" {
		t.Skip("child helper")
	}
	paths := strings.Fields(os.Getenv("STSD_PEER_PATHS"))
	if len(paths) == 0 {
		paths = []string{"/v1/credentials/dev"}
	}
	for _, p := range paths {
		var code int
		var body []byte
		if post, ok := strings.CutPrefix(p, "POST:"); ok {
			resp, err := socketClient(sock).Post("http://stsd"+post, "application/json", strings.NewReader(`{"ttl":"1h"}`))
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			code = resp.StatusCode
		} else {
			code, body = get(t, socketClient(sock), p)
		}
		os.Stdout.WriteString(p + " status=" + strconv.Itoa(code) + " " + strings.TrimSpace(string(body)) + "\n")
	}
}

// TestContainerIDWhoMay: minting a container id for a profile needs what
// reading it needs. A caller that may connect but not read dev (nobody)
// is refused; once allowed_uids lists it, it gets as far as this daemon's
// missing container listener. Listing shows it nothing it may not read.
func TestContainerIDWhoMay(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a child as nobody")
	}
	for _, tt := range []struct {
		name, profile, want string
	}{
		{"not allowed", sessionProfile, "POST:/v1/container-id/dev status=403"},
		{"allowed", sessionProfile + "allowed_uids = [65534]\n", "POST:/v1/container-id/dev status=409"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sock := serveOpenSocket(t, tt.profile)
			cmd := exec.Command(nobody.TestBinary(t), "-test.run=^TestPeerChild$")
			cmd.Env = append(os.Environ(), "STSD_PEER_CHILD="+sock, "STSD_PEER_PATHS=POST:/v1/container-id/dev /v1/container-ids")
			nobody.Run(cmd)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), tt.want) || !strings.Contains(string(out), `/v1/container-ids status=200 {"ids":[]}`) {
				t.Errorf("nobody got:\n%s\nwant %s", out, tt.want)
			}
		})
	}
}

// TestReadyzHidesProfiles: a caller who may connect but not read dev
// (nobody, with the socket opened to it as socket_group would) gets from
// /readyz?profile=dev exactly the answer it gets for a profile that does
// not exist, though dev is ready; /readyz alone names no profile to it.
func TestReadyzHidesProfiles(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a child as nobody")
	}
	sock := serveOpenSocket(t, sessionProfile)
	get(t, socketClient(sock), "/v1/credentials/dev") // waits for the first fetch
	if code, _ := get(t, socketClient(sock), "/readyz?profile=dev"); code != 200 {
		t.Fatalf("root: /readyz?profile=dev = %d; want 200 once dev has credentials", code)
	}

	cmd := exec.Command(nobody.TestBinary(t), "-test.run=^TestPeerChild$")
	cmd.Env = append(os.Environ(), "STSD_PEER_CHILD="+sock, "STSD_PEER_PATHS=/readyz?profile=dev /readyz?profile=nope /readyz")
	nobody.Run(cmd)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	lines := strings.Split(string(out), "\n")
	if len(lines) < 3 {
		t.Fatalf("child said %q", out)
	}
	dev := strings.ReplaceAll(strings.TrimPrefix(lines[0], "/readyz?profile=dev "), "dev", "X")
	nope := strings.ReplaceAll(strings.TrimPrefix(lines[1], "/readyz?profile=nope "), "nope", "X")
	if dev != nope || !strings.Contains(dev, "status=503") {
		t.Errorf("nobody: /readyz for dev %q, for a missing profile %q; want the same 503", dev, nope)
	}
	if strings.Contains(lines[2], "dev") {
		t.Errorf("nobody: /readyz names a profile it may not read: %q", lines[2])
	}
}
