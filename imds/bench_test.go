package imds

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stsd/stsd/internal/httpserve"
	"github.com/stsd/stsd/internal/peercred"
	"github.com/stsd/stsd/internal/servetest"
)

// BenchmarkIMDSCredentials is the credential GET an SDK makes: token check,
// security chain, source, JSON.
func BenchmarkIMDSCredentials(b *testing.B) {
	clk := newClock()
	o := testOptions(b, clk, testUID)
	o.Logger = nil // discard: measure the handler, not the log writer
	h := NewIMDS(newSource("dev"), devProfile, o)
	req := benchRequest(b, h)
	servetest.RecorderBench(b, h, req)
}

// benchRequest is the credential GET with a token minted by h.
func benchRequest(b *testing.B, h http.Handler) *http.Request {
	put := httptest.NewRequest("PUT", "http://127.0.0.1:9912"+pathToken, nil)
	put.Header.Set(ttlHeader, "21600")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, put)
	req := httptest.NewRequest("GET", "http://127.0.0.1:9912"+pathCreds+"/dev", nil)
	req.Header.Set(tokenHeader, w.Body.String())
	return req
}

// BenchmarkIMDSHandler is the handler chain alone, with the daemon's
// access log, into a reusable writer: its allocations are the chain's.
func BenchmarkIMDSHandler(b *testing.B) {
	b.Run("logged", func(b *testing.B) { benchHandler(b, servetest.BenchLog(b)) })
	b.Run("unlogged", func(b *testing.B) { benchHandler(b, nil) })
}

func benchHandler(b *testing.B, log *slog.Logger) {
	clk := newClock()
	o := testOptions(b, clk, testUID)
	o.Logger = log
	h := NewIMDS(newSource("dev"), devProfile, o)
	req := benchRequest(b, h)
	servetest.HandlerBench(b, h, req)
}

// BenchmarkIMDSServer is the credential GET over a loopback keep-alive
// connection to the endpoint served as the daemon serves it (limits,
// peer lookup, access log to a file), client included; compare with
// BenchmarkIMDSFloor.
func BenchmarkIMDSServer(b *testing.B) {
	log := servetest.BenchLog(b)
	src := servetest.NewSource()
	src.Set("dev", servetest.LiveCreds(), nil)
	h := NewIMDS(src, Profile{Name: "dev", AllowedUIDs: []int{os.Getuid()}}, Options{Logger: log})
	addr := servetest.ServeBench(b, h, httpserve.Options{Logger: log, ConnContext: peercred.ConnContext})
	put, _ := http.NewRequest("PUT", "http://"+addr+pathToken, nil)
	put.Header.Set(ttlHeader, "21600")
	resp, err := http.DefaultClient.Do(put)
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	b.ReportAllocs()
	servetest.LoadBench(b, addr, []byte("GET "+pathCreds+"/dev HTTP/1.1\r\nHost: "+addr+"\r\nUser-Agent: bench\r\nAccept: */*\r\n"+
		tokenHeader+": "+string(tok)+"\r\n\r\n"))
}

// BenchmarkIMDSFloor is BenchmarkIMDSServer's floor: a bare net/http
// server answering the same bytes (no limits, checks or log).
func BenchmarkIMDSFloor(b *testing.B) {
	addr := servetest.FloorBench(b, "text/plain", ec2Credentials(servetest.LiveCreds(), servetest.Start, false))
	b.ReportAllocs()
	servetest.LoadBench(b, addr, []byte("GET "+pathCreds+"/dev HTTP/1.1\r\nHost: "+addr+"\r\nUser-Agent: bench\r\nAccept: */*\r\n"+
		tokenHeader+": "+floorToken+"\r\n\r\n"))
}

// BenchmarkIMDSMem is the server's own CPU per credential GET: the
// endpoint served as the daemon serves it (limits, peer lookup, access
// log to a file) over in-memory connections, no client and no kernel;
// compare with BenchmarkIMDSMemFloor.
func BenchmarkIMDSMem(b *testing.B) {
	log := servetest.BenchLog(b)
	eh := newEC2Handler(servetest.Static{C: servetest.LiveCreds()}, Profile{Name: "dev", AllowedUIDs: []int{os.Getuid()}}, Options{Logger: log})
	tok := eh.key.mint("dev", time.Now().Add(6*time.Hour))
	body := ec2Credentials(servetest.LiveCreds(), time.Now(), false)
	body = body[bytes.Index(body, []byte(`"Type"`)):] // LastUpdated is the endpoint's own
	servetest.MemBench(b, servetest.MemServe(eh.served(), httpserve.Options{Logger: log, ConnContext: peercred.ConnContext}), memRequest(tok), body)
}

// BenchmarkIMDSMemFloor is BenchmarkIMDSMem's floor: a bare net/http
// server answering the same bytes.
func BenchmarkIMDSMemFloor(b *testing.B) {
	body := ec2Credentials(servetest.LiveCreds(), servetest.Start, false)
	servetest.MemBench(b, servetest.MemFloor(contentIMDS, body), memRequest(floorToken), body)
}

// floorToken stands in for a token in the floors' requests: as long as a
// real one, so both servers parse requests of the same size.
var floorToken = strings.Repeat("A", tokenLen)

// memRequest is the credential GET an SDK sends, with token tok.
func memRequest(tok string) []byte {
	return []byte("GET " + pathCreds + "/dev HTTP/1.1\r\nHost: 127.0.0.1:9912\r\nUser-Agent: bench\r\nAccept: */*\r\n" +
		tokenHeader + ": " + tok + "\r\n\r\n")
}

// BenchmarkNewIMDS is what each profile's endpoint costs to build (the
// daemon builds one per imds_listen at start and on reload); the shared
// router is built before the timer starts.
func BenchmarkNewIMDS(b *testing.B) {
	o := testOptions(b, newClock(), testUID)
	NewIMDS(newSource("dev"), devProfile, o)
	b.ReportAllocs()
	for b.Loop() {
		NewIMDS(newSource("dev"), devProfile, o)
	}
}
