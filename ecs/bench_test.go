package ecs

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/stsd/stsd/internal/httpserve"
	"github.com/stsd/stsd/internal/peercred"
	"github.com/stsd/stsd/internal/servetest"
	"github.com/stsd/stsd/internal/wire"
)

// BenchmarkECSCredentials is the ECS GET with a file token.
func BenchmarkECSCredentials(b *testing.B) {
	h, req := benchEndpoint(b, nil)
	servetest.RecorderBench(b, h, req)
}

// BenchmarkECSHandler is the handler chain alone, with the daemon's
// access log, into a reusable writer: its allocations are the chain's.
func BenchmarkECSHandler(b *testing.B) {
	b.Run("logged", func(b *testing.B) { benchHandler(b, servetest.BenchLog(b)) })
	b.Run("unlogged", func(b *testing.B) { benchHandler(b, nil) })
}

func benchHandler(b *testing.B, log *slog.Logger) {
	h, req := benchEndpoint(b, log)
	servetest.HandlerBench(b, h, req)
}

// benchEndpoint is the endpoint serving profile dev with a file token,
// logging to log, and the credential GET an SDK sends it.
func benchEndpoint(b *testing.B, log *slog.Logger) (http.Handler, *http.Request) {
	clk := newClock()
	tokens := NewTokens(clk.Now)
	tokens.SetFile("dev", devToken)
	o := testOptions(b, clk, testUID)
	o.Logger = log
	h := New(newSource("dev"), []Profile{{Name: "dev", AllowedUIDs: []int{testUID}}}, tokens, o)
	req := httptest.NewRequest("GET", "http://127.0.0.1:9911/v1/credentials/dev", nil)
	req.Header.Set("Authorization", devToken)
	return h, req
}

// BenchmarkECSServer is the ECS GET over a loopback keep-alive connection
// to the endpoint served as the daemon serves it (limits, peer lookup,
// access log to a file), client included; compare with BenchmarkECSFloor.
func BenchmarkECSServer(b *testing.B) {
	log := servetest.BenchLog(b)
	src := servetest.NewSource()
	src.Set("dev", servetest.LiveCreds(), nil)
	tokens := NewTokens(nil)
	tokens.SetFile("dev", devToken)
	h := New(src, []Profile{{Name: "dev", AllowedUIDs: []int{os.Getuid()}}}, tokens, Options{Logger: log})
	addr := servetest.ServeBench(b, h, httpserve.Options{Logger: log, ConnContext: peercred.ConnContext})
	b.ReportAllocs()
	servetest.LoadBench(b, addr, []byte("GET /v1/credentials/dev HTTP/1.1\r\nHost: "+addr+"\r\nUser-Agent: bench\r\nAccept: */*\r\nAuthorization: "+devToken+"\r\n\r\n"))
}

// BenchmarkECSFloor is BenchmarkECSServer's floor: a bare net/http server
// answering the same bytes (no limits, checks or log).
func BenchmarkECSFloor(b *testing.B) {
	addr := servetest.FloorBench(b, "application/json", wire.ContainerDocument(servetest.LiveCreds()))
	b.ReportAllocs()
	servetest.LoadBench(b, addr, []byte("GET /v1/credentials/dev HTTP/1.1\r\nHost: "+addr+"\r\nUser-Agent: bench\r\nAccept: */*\r\nAuthorization: "+devToken+"\r\n\r\n"))
}

// BenchmarkECSMem is the server's own CPU per ECS GET: the endpoint
// served as the daemon serves it (limits, peer lookup, access log to a
// file) over in-memory connections, no client and no kernel; compare
// with BenchmarkECSMemFloor.
func BenchmarkECSMem(b *testing.B) {
	log := servetest.BenchLog(b)
	tokens := NewTokens(nil)
	tokens.SetFile("dev", devToken)
	h := New(servetest.Static{C: servetest.LiveCreds()}, []Profile{{Name: "dev", AllowedUIDs: []int{os.Getuid()}}}, tokens, Options{Logger: log})
	servetest.MemBench(b, servetest.MemServe(h, httpserve.Options{Logger: log, ConnContext: peercred.ConnContext}),
		memRequest, wire.ContainerDocument(servetest.LiveCreds()))
}

// BenchmarkECSMemFloor is BenchmarkECSMem's floor: a bare net/http
// server answering the same bytes.
func BenchmarkECSMemFloor(b *testing.B) {
	body := wire.ContainerDocument(servetest.LiveCreds())
	servetest.MemBench(b, servetest.MemFloor(httpserve.ContentJSON, body), memRequest, body)
}

// memRequest is the ECS GET an SDK sends.
var memRequest = []byte("GET /v1/credentials/dev HTTP/1.1\r\nHost: 127.0.0.1:9911\r\nUser-Agent: bench\r\nAccept: */*\r\nAuthorization: " + devToken + "\r\n\r\n")
