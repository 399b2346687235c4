package stsclient

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/wire"
)

// fuzzMarker stands in for a secret inside a fuzzed STS body: seeds write
// "@S@" where STS puts a secret, the transport expands it, and the marker
// must never reach an error text other than through STS's own error Code
// or Message (which stsd shows by design).
const fuzzMarker = "QZXJFUZZSECRETMARKERQZXJ"

// maxErrorText bounds a Fetch error: operation, code, message and hint.
const maxErrorText = 2048

// bodyTransport answers every STS request with one canned response.
type bodyTransport struct {
	status int
	body   []byte
}

func (b bodyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	return &http.Response{
		Status:        strconv.Itoa(b.status) + " " + http.StatusText(b.status),
		StatusCode:    b.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"text/xml"}},
		Body:          io.NopCloser(bytes.NewReader(b.body)),
		ContentLength: int64(len(b.body)),
		Request:       req,
	}, nil
}

// fuzzConfig is a session and a federation profile over a long-term key,
// in a private HOME (the fuzz function's environment, set once).
func fuzzConfig(f *testing.F) *config.Config {
	f.Helper()
	dir := f.TempDir()
	f.Setenv("HOME", dir)
	f.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	f.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	for _, k := range []string{"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", wire.ResolvingEnv} {
		f.Setenv(k, "")
		os.Unsetenv(k)
	}
	os.WriteFile(filepath.Join(dir, "credentials"), []byte(longTerm), 0o600)
	os.WriteFile(filepath.Join(dir, "config"), nil, 0o600)
	path := filepath.Join(dir, "stsd.toml")
	os.WriteFile(path, []byte(`
[profiles.dev]
source_profile = "src"
duration = "1h"

[profiles.fed]
source_profile = "src"
mode = "federation"
policy_arns = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
`), 0o600)
	cfg, err := config.Load(path, config.Options{Hostname: "host1"})
	if err != nil {
		f.Fatalf("config.Load: %v", err)
	}
	return cfg
}

// FuzzSTSResponse feeds arbitrary status codes and bodies through the real
// aws-sdk-go-v2 STS client into Fetch: it never panics; it returns either
// an error or complete, whole-second UTC credentials; an error is one line
// of bounded length; and no byte of the body reaches the error text except
// STS's own error code and message.
func FuzzSTSResponse(f *testing.F) {
	cfg := fuzzConfig(f)
	f.Fuzz(func(t *testing.T, federation bool, status int, body []byte) {
		if status < 100 || status > 999 {
			return // not an HTTP status line net/http could deliver
		}
		body = bytes.ReplaceAll(body, []byte("@S@"), []byte(fuzzMarker))
		p := cfg.Profiles["dev"]
		if federation {
			p = cfg.Profiles["fed"]
		}
		c := New(cfg, p, Options{HTTPClient: &http.Client{Transport: bodyTransport{status, body}}, Timeout: 10 * time.Second})
		res, err := c.Fetch(context.Background(), Request{})
		if err == nil {
			cr := res.Credentials
			if cr.AccessKeyID == "" || cr.SecretAccessKey == "" || cr.Expiration.IsZero() {
				t.Fatalf("Fetch succeeded with incomplete credentials (key id %q, secret %v, expiration %v)", cr.AccessKeyID, cr.SecretAccessKey != "", cr.Expiration)
			}
			if cr.Expiration.Location() != time.UTC || cr.Expiration.Nanosecond() != 0 {
				t.Fatalf("Expiration %v is not whole-second UTC", cr.Expiration)
			}
			if res.Issued.IsZero() {
				t.Fatal("Issued not set")
			}
			return
		}
		text := err.Error()
		if strings.ContainsAny(text, "\r\n") {
			t.Fatalf("error is more than one line: %q", text)
		}
		if len(text) > maxErrorText {
			t.Fatalf("error text is %d bytes; want at most %d", len(text), maxErrorText)
		}
		// What STS said about the error is shown; nothing else of the body.
		rest := text
		var ae smithy.APIError
		if errors.As(err, &ae) {
			rest = strings.ReplaceAll(rest, oneLine(ae.ErrorMessage(), maxMessage), "")
			rest = strings.ReplaceAll(rest, oneLine(ae.ErrorCode(), maxCode), "")
		}
		if strings.Contains(rest, fuzzMarker) {
			t.Fatalf("error text echoes the response body: %q", text)
		}
		if reason := Reason(err); reason == "" || len(reason) > maxCode || strings.ContainsFunc(reason, func(r rune) bool { return r <= ' ' || r > '~' }) {
			t.Fatalf("Reason(err) = %q; want a short printable label", reason)
		}
	})
}

func FuzzSigninToken(f *testing.F) {
	f.Add([]byte(`{"SigninToken":"abc"}`))
	f.Add([]byte(`{"SigninToken":""}`))
	f.Add([]byte(`<html>`))
	f.Add([]byte(`{"SigninToken":"a\nb"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		tok, err := ParseSigninToken(body)
		if err != nil {
			if tok != "" {
				t.Errorf("ParseSigninToken returned %q with error %v", tok, err)
			}
			// The error is stsd's own words, never the body.
			if m := err.Error(); m != `the answer is not {"SigninToken":…}` && m != "the sign-in token holds control characters" {
				t.Errorf("ParseSigninToken error %q", m)
			}
			return
		}
		if tok == "" || strings.ContainsAny(tok, "\r\n\x00") {
			t.Errorf("ParseSigninToken(%q) = %q", body, tok)
		}
	})
}
