package imds

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkIMDSCredentials is the credential GET an SDK makes: token check,
// security chain, source, JSON.
func BenchmarkIMDSCredentials(b *testing.B) {
	clk := newClock()
	o := testOptions(b, clk, testUID)
	o.Logger = nil // discard: measure the handler, not the log writer
	h := NewIMDS(newSource("dev"), devProfile, o)
	put := httptest.NewRequest("PUT", "http://127.0.0.1:9912"+pathToken, nil)
	put.Header.Set(ttlHeader, "21600")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, put)
	req := httptest.NewRequest("GET", "http://127.0.0.1:9912"+pathCreds+"/dev", nil)
	req.Header.Set(tokenHeader, w.Body.String())
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("GET = %d", w.Code)
		}
	}
}
