package ecs

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkECSCredentials is the ECS GET with a file token.
func BenchmarkECSCredentials(b *testing.B) {
	clk := newClock()
	tokens := NewTokens(clk.Now)
	tokens.SetFile("dev", devToken)
	o := testOptions(b, clk, testUID)
	o.Logger = nil
	h := New(newSource("dev"), []Profile{{Name: "dev", AllowedUIDs: []int{testUID}}}, tokens, o)
	req := httptest.NewRequest("GET", "http://127.0.0.1:9911/v1/credentials/dev", nil)
	req.Header.Set("Authorization", devToken)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("GET = %d", w.Code)
		}
	}
}
