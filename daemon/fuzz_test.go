//go:build !windows

package daemon_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/daemon"
	"github.com/stsd/stsd/internal/stsclient"
	"github.com/stsd/stsd/internal/wire"
)

// Markers in every credential the fake fetcher issues, so a leak is easy
// to see in any response.
const (
	fuzzKeyPrefix = "ASIAFAKEFUZZ"
	fuzzSecret    = "fuzzSecretAAAAAAAAAAAAAAAAAAAAAA"
	fuzzToken     = "fuzzTokenBBBBBBBBBBBBBBBBBBBBBBB"
)

// fakeFetcher issues marked credentials at once; for an MFA profile it
// accepts only harnessMFACode, answering other codes as STS does.
type fakeFetcher struct {
	n   *atomic.Int64
	mfa bool
}

func (f fakeFetcher) Fetch(ctx context.Context, req stsclient.Request) (*stsclient.Result, error) {
	if f.mfa && req.TokenCode != harnessMFACode {
		return nil, &stsclient.Error{Op: "GetSessionToken", Err: &smithy.GenericAPIError{Code: "AccessDenied", Message: "MultiFactorAuthentication failed with invalid MFA one time pass code."}}
	}
	now := time.Now().UTC()
	return &stsclient.Result{
		Credentials: wire.Credentials{
			AccessKeyID:     fmt.Sprintf("%s%08d", fuzzKeyPrefix, f.n.Add(1)),
			SecretAccessKey: fuzzSecret, SessionToken: fuzzToken,
			Expiration: now.Add(time.Hour).Truncate(time.Second), AccountID: "123456789012",
		},
		Issued: now, PackedPolicySize: -1,
	}, nil
}

func fakeFetchers() func(*config.Config, *config.Profile) stsclient.Fetcher {
	var n atomic.Int64
	return func(_ *config.Config, p *config.Profile) stsclient.Fetcher {
		return fakeFetcher{n: &n, mfa: p.MFASerial != ""}
	}
}

// credentialsPath is the only route whose answer may carry a secret.
var credentialsPath = regexp.MustCompile(`^/v1/credentials/([^/]+)$`)

// FuzzControlAPI sends arbitrary requests through the control API as
// different peers: nothing panics; every error is one JSON line
// {"Code","Message"}; and a secret (or a whole key id) only ever leaves in
// a 200 to GET /v1/credentials/{p} for a peer allowed to read p.
func FuzzControlAPI(f *testing.F) {
	h := startHarness(f, daemon.Options{NewFetcher: fakeFetchers(), WaitTimeout: time.Second})
	handler := h.s.Handler()
	me := os.Getuid()
	f.Fuzz(func(t *testing.T, method, target string, body []byte, peer uint8) {
		raw := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: stsd\r\nContent-Length: %d\r\n\r\n", method, target, len(body))
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw + string(body))))
		if err != nil || r.RequestURI == "*" {
			return // the server answers these itself, before any handler
		}
		uid := map[uint8]int{0: me, 1: -1, 2: 4242, 3: 65534}[peer%4]
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, daemon.WithPeerUIDForTest(r.WithContext(ctx), uid))

		got := w.Body.Bytes()
		if w.Code < 100 || w.Code > 599 {
			t.Fatalf("status %d", w.Code)
		}
		if w.Code >= 400 {
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("%s %s: %d with Content-Type %q; want application/json", method, target, w.Code, ct)
			}
			if bytes.Contains(bytes.TrimSuffix(got, []byte("\n")), []byte("\n")) {
				t.Fatalf("%s %s: error body is more than one line: %q", method, target, got)
			}
			var e struct{ Code, Message string }
			if err := json.Unmarshal(got, &e); err != nil || e.Code == "" || e.Message == "" {
				t.Fatalf("%s %s: %d body %q is not {Code, Message}", method, target, w.Code, got)
			}
		}
		if !bytes.Contains(got, []byte(fuzzSecret)) && !bytes.Contains(got, []byte(fuzzToken)) && !bytes.Contains(got, []byte(fuzzKeyPrefix)) {
			return
		}
		m := credentialsPath.FindStringSubmatch(r.URL.Path)
		allowed := uid == me || uid == 0 || (uid == 65534 && m != nil && m[1] == "dev")
		// (HEAD matches GET routes; the server drops the body.)
		if w.Code != 200 || (r.Method != http.MethodGet && r.Method != http.MethodHead) || m == nil || !allowed {
			t.Fatalf("%s %s as uid %d: %d answer holds a secret or a whole key id", method, target, uid, w.Code)
		}
	})
}
