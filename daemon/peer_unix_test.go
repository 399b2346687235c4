//go:build !windows

package daemon

import (
	"context"
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
			env := newEnv(t, tt.profile)
			sts := ststest.NewServer(t, ststest.Options{})
			t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
			dir, _ := os.MkdirTemp("", "sp")
			t.Cleanup(func() { os.RemoveAll(dir) })
			os.Chmod(dir, 0o755)
			sock := filepath.Join(dir, "s.sock")
			ln, err := net.Listen("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			os.Chmod(sock, 0o666)
			s, _ := New(Options{Config: env.cfg, Socket: sock})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.Serve(ctx, ln) }()
			defer func() { cancel(); <-done }()

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

// TestPeerChild is the child half of TestPeerUIDChecked.
func TestPeerChild(t *testing.T) {
	sock := os.Getenv("STSD_PEER_CHILD")
	if sock == "" {
		t.Skip("child helper")
	}
	code, _ := get(t, socketClient(sock), "/v1/credentials/dev")
	os.Stdout.WriteString("status=" + strconv.Itoa(code) + "\n")
}
