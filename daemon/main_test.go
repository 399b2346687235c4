package daemon

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/stsd/stsd/internal/testhome"
)

// TestMain fails the package if any test leaves a goroutine behind: every
// refresher, server and STS call must end with its daemon.
func TestMain(m *testing.M) {
	os.Exit(testhome.Main(m, func() error {
		return goleak.Find(
			// Idle keep-alive connections of test clients, not the daemon's.
			goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		)
	}))
}
