package broker

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/stsd/stsd/internal/servetest"
	"github.com/stsd/stsd/internal/testhome"
	"github.com/stsd/stsd/internal/wire"
)

func TestMain(m *testing.M) {
	os.Exit(testhome.Main(m, func() error {
		return goleak.Find(
			goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		)
	}))
}

type (
	fakeClock  = servetest.Clock
	syncBuffer = servetest.Buffer
)

func newClock() *fakeClock { return servetest.NewClock() }

func testCreds() wire.Credentials { return servetest.Creds() }
