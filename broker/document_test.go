package broker

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stsd/stsd/internal/wire"
)

// staticSource hands out the same federated credentials to everyone.
type staticSource struct{ m Minted }

func (s *staticSource) ClientCredentials(context.Context, string, string) (Minted, error) {
	return s.m, nil
}

// BenchmarkBrokerRequest is one granted credential GET through the
// broker's handler (every check, the audit line to a text log; the
// document ready-made, as the daemon hands it), without TLS or HTTP/2:
// the broker's own cost per request.
func BenchmarkBrokerRequest(b *testing.B) {
	c := testCreds()
	c.Expiration = time.Now().Add(time.Hour)
	o := Options{
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Clients: []Client{{Name: "billing", TokenSHA256: tokenHash(billingToken), Profiles: []string{"app-billing"}}},
		Rate:    1e9,
	}
	m := Minted{Credentials: c, ARN: "arn:aws:sts::123456789012:federated-user/billing", Document: string(wire.ContainerDocument(c))}
	h, err := newHandler(&staticSource{m}, o.withDefaults())
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/v1/credentials/app-billing", nil)
	req.RemoteAddr = "192.0.2.7:40000"
	req.Header.Set("Authorization", billingToken)
	b.ReportAllocs()
	for b.Loop() {
		w := discardWriter{h: http.Header{}}
		h.ServeHTTP(&w, req)
		if w.status != 0 && w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

// discardWriter is a ResponseWriter that keeps only the status.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }

func (w *discardWriter) WriteString(s string) (int, error) { return len(s), nil }

// TestBrokerWritesTheReadyDocument: a Source's ready-made document is the
// body as it is, with the same headers and checks as an encoded one; an
// expired credential is refused even with its document ready.
func TestBrokerWritesTheReadyDocument(t *testing.T) {
	t.Parallel()
	clk := newClock()
	c := testCreds()
	c.Expiration = clk.Now().Add(time.Hour)
	doc := string(wire.ContainerDocument(c))
	o := brokerTestOptions(t, clk, nil)
	src := &staticSource{Minted{Credentials: c, ARN: "arn:aws:sts::123456789012:federated-user/billing", Document: doc}}
	h := newTestBrokerHandler(t, src, o)
	w := brokerGet(h, "192.0.2.1:1", "/v1/credentials/app-billing", billingToken)
	if w.Code != 200 || w.Body.String() != doc || w.Header().Get("Content-Type") != "application/json" ||
		w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Server") != "stsd" {
		t.Fatalf("ready document: %d %q %v", w.Code, w.Body.String(), w.Header())
	}
	src.m.Credentials.Expiration = clk.Now()
	if w := brokerGet(h, "192.0.2.1:1", "/v1/credentials/app-billing", billingToken); w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), c.SessionToken) {
		t.Fatalf("expired credentials with a ready document: %d %q; want 503 without them", w.Code, w.Body.String())
	}
}
