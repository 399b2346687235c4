package ecs

import (
	"flag"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

type (
	fakeClock  = servetest.Clock
	fakeSource = servetest.Source
	syncBuffer = servetest.Buffer
)

var errNoCreds = servetest.ErrNoCreds

const testUID = 1000

func newClock() *fakeClock                     { return servetest.NewClock() }
func newSource(profiles ...string) *fakeSource { return servetest.NewSource(profiles...) }
func testCreds() wire.Credentials              { return servetest.Creds() }

func request(h http.Handler, method, path string, hdr ...string) *httptest.ResponseRecorder {
	return servetest.Request(h, method, path, hdr...)
}

func noSecrets(t *testing.T, what string, w *httptest.ResponseRecorder) {
	t.Helper()
	servetest.NoSecrets(t, what, w)
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	servetest.Golden(t, filepath.Join("testdata", name), got, *update)
}

// testOptions: a fixed clock, the caller's uid fixed to uid, logs to the
// test output.
func testOptions(t testing.TB, clk *fakeClock, uid int) Options {
	return Options{
		Logger:  slog.New(slog.NewTextHandler(t.Output(), nil)),
		Now:     clk.Now,
		PeerUID: func(*http.Request) (int, error) { return uid, nil },
	}
}
