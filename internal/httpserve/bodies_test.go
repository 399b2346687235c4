package httpserve

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stsd/stsd/internal/wire"
)

// TestAnswerWrite: an answer goes out with its Content-Type,
// Cache-Control no-store and a Content-Length, never chunked, however
// long the session token makes it; it is rendered once per credentials.
func TestAnswerWrite(t *testing.T) {
	exp := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var b Bodies
	renders := 0
	for _, size := range []int{600, bufferedBody, bufferedBody + 1, 6000} {
		c := wire.Credentials{AccessKeyID: "ASIAFAKE" + strconv.Itoa(size), Expiration: exp}
		body := strings.Repeat("x", size)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b.Get("v", ContentJSON, c, func() []byte { renders++; return []byte(body) }).Write(w)
		})
		srv := httptest.NewServer(h)
		for _, method := range []string{"GET", "GET", "HEAD"} {
			req, _ := http.NewRequest(method, srv.URL, nil)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if method == "GET" && (resp.ContentLength != int64(size) || string(got) != body) {
				t.Errorf("%d bytes: Content-Length %d, body %d bytes", size, resp.ContentLength, len(got))
			}
			if len(resp.TransferEncoding) > 0 {
				t.Errorf("%d bytes: %s sent %v", size, method, resp.TransferEncoding)
			}
			if resp.Header.Get("Content-Type") != ContentJSON || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("%d bytes: headers %v", size, resp.Header)
			}
		}
		srv.Close()
	}
	if renders != 4 {
		t.Errorf("rendered %d times; want once per credentials (4)", renders)
	}
}
