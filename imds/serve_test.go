package imds

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stsd/stsd/internal/httpserve"
	"github.com/stsd/stsd/internal/peercred"
	"github.com/stsd/stsd/internal/testhome"
)

func TestMain(m *testing.M) {
	os.Exit(testhome.Main(m, func() error {
		return goleak.Find(
			goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		)
	}))
}

// TestServeLimits: oversized headers are refused by the server itself, and
// the server stops when ctx ends.
func TestServeLimits(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	src := newSource()
	c := testCreds()
	c.Expiration = time.Now().Add(time.Hour)
	src.Set("dev", c, nil)
	o := Options{Logger: testOptions(t, newClock(), 0).Logger, PeerUID: func(*http.Request) (int, error) { return os.Getuid(), nil }}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- httpserve.Serve(ctx, ln, NewIMDS(src, Profile{Name: "dev"}, o), httpserve.Options{Logger: o.Logger, ConnContext: peercred.ConnContext})
	}()

	raw := func(req string) string {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, req)
		line, _ := bufio.NewReader(conn).ReadString('\n')
		return strings.TrimSpace(line)
	}
	big := strings.Repeat("a", 32<<10)
	if got := raw("GET /latest/meta-data/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + big + "\r\n\r\n"); !strings.Contains(got, " 431 ") {
		t.Errorf("oversized headers: %q; want 431", got)
	}
	if got := raw("PUT /latest/api/token HTTP/1.1\r\nHost: 127.0.0.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 5\r\nContent-Length: 0\r\n\r\n"); !strings.Contains(got, " 200 ") {
		t.Errorf("token PUT over TCP: %q; want 200", got)
	}
	if got := raw("GET /latest/meta-data/ HTTP/1.0\r\n\r\n"); !strings.Contains(got, " 403 ") {
		t.Errorf("HTTP/1.0 without Host: %q; want 403", got)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v; want nil after ctx ends", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not stop")
	}
}
