package linklocal

import (
	"log/slog"
	"net/netip"
	"testing"
)

func TestKnown(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"169.254.169.254": true, "169.254.170.2": true, "::ffff:169.254.170.2": true,
		"169.254.169.253": false, "127.0.0.1": false, "fd00:ec2::254": false,
	} {
		if got := Known(netip.MustParseAddr(s)); got != want {
			t.Errorf("Known(%s) = %v; want %v", s, got, want)
		}
	}
}

func testLog(t *testing.T) *slog.Logger { return slog.New(slog.NewTextHandler(t.Output(), nil)) }
