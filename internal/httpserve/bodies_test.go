package httpserve

import (
	"context"
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
// Cache-Control no-store, the Date it was made at and a Content-Length,
// never chunked, however long the session token makes it; it is rendered
// once per credentials.
func TestAnswerWrite(t *testing.T) {
	exp := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	made := exp.Add(-time.Hour).In(time.FixedZone("CET", 3600))
	var b Bodies
	renders := 0
	for _, size := range []int{600, bufferedBody, bufferedBody + 1, 6000} {
		c := wire.Credentials{AccessKeyID: "ASIAFAKE" + strconv.Itoa(size), Expiration: exp}
		body := strings.Repeat("x", size)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b.Get("v", ContentJSON, c, func() []byte { renders++; return []byte(body) }).Write(w, made)
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
			if resp.Header.Get("Content-Type") != ContentJSON || resp.Header.Get("Cache-Control") != "no-store" ||
				resp.Header.Values("Date")[0] != "Fri, 02 Jan 2026 02:04:05 GMT" || len(resp.Header.Values("Date")) != 1 {
				t.Errorf("%d bytes: headers %v", size, resp.Header)
			}
		}
		srv.Close()
	}
	if renders != 4 {
		t.Errorf("rendered %d times; want once per credentials (4)", renders)
	}
}

// TestDateValue: the Date of an answer is its second in IMF-fixdate, UTC,
// whatever t's zone, and a new second gets a new value.
func TestDateValue(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 6, 7, 8, 900_000_000, time.FixedZone("X", -5*3600))
	for _, tt := range []struct {
		t    time.Time
		want string
	}{
		{t0, "Wed, 02 Dec 2026 11:07:08 GMT"},
		{t0.Add(50 * time.Millisecond), "Wed, 02 Dec 2026 11:07:08 GMT"},
		{t0.Add(100 * time.Millisecond), "Wed, 02 Dec 2026 11:07:09 GMT"},
		{t0.Add(-time.Hour), "Wed, 02 Dec 2026 10:07:08 GMT"},
	} {
		v := dateValue(tt.t)
		if len(v) != 1 || v[0] != tt.want {
			t.Errorf("dateValue(%v) = %q, want %q", tt.t, v, tt.want)
		}
		if _, err := http.ParseTime(v[0]); err != nil {
			t.Error(err)
		}
	}
}

// sourceAt hands out c, checked at at.
type sourceAt struct {
	c  wire.Credentials
	at time.Time
}

func (s sourceAt) CredentialsAt(context.Context, string, time.Time) (wire.Credentials, time.Time, error) {
	return s.c, s.at, nil
}

// TestCredentialsNeverExpired: credentials are served only when valid at
// the time the source checked them at, which may be later than the
// request's reading (a source that waited for a fetch): expired at that
// time or at its very instant of expiry, they get 503 and nothing of them
// is written.
func TestCredentialsNeverExpired(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := wire.Credentials{AccessKeyID: "ASIAFAKE000000000001", SecretAccessKey: "secret-never-written", SessionToken: "t", Expiration: now.Add(time.Minute)}
	tests := []struct {
		name string
		at   time.Time
		ok   bool
	}{
		{"valid at the request's reading", now, true},
		{"valid at the source's later reading", now.Add(59 * time.Second), true},
		{"expired by the source's later reading", now.Add(2 * time.Minute), false},
		{"at the instant of expiry", c.Expiration, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			got, at, ok := Credentials(w, httptest.NewRequest("GET", "/", nil), sourceAt{c, tt.at}, "dev", now)
			if ok != tt.ok {
				t.Fatalf("ok = %v; want %v", ok, tt.ok)
			}
			if ok && (got.AccessKeyID != c.AccessKeyID || !at.Equal(tt.at)) {
				t.Errorf("got %s at %v; want %s at %v", got.AccessKeyID, at, c.AccessKeyID, tt.at)
			}
			if !ok && (w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), "secret") || strings.Contains(w.Body.String(), "ASIA")) {
				t.Errorf("refusal = %d %q; want 503 without the credentials", w.Code, w.Body.String())
			}
		})
	}
}
