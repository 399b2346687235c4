package stsclient

import (
	"context"
	"net/http"
	"testing"
)

// TestOddAnswers: answers STS itself never sends but a proxy or a broken
// network may (an HTML 502, an empty 503, a 200 without credentials, a
// message over several lines) are classified by their HTTP status or as
// malformed, so a transient fault is retried soon, and the error is one
// line.
func TestOddAnswers(t *testing.T) {
	cfg := setup(t, longTerm, "", "[profiles.dev]\nsource_profile = \"src\"\n")
	const errDoc = `<ErrorResponse><Error><Code>ValidationError</Code><Message>first line
second line</Message></Error></ErrorResponse>`
	tests := []struct {
		name      string
		status    int
		body      string
		reason    string
		retryable bool
		text      string
	}{
		{"html 502 from a proxy", 502, "<html><body>Bad Gateway</body></html>", "http_502", true, "GetSessionToken: HTTP 502"},
		{"empty 503", 503, "", "http_503", true, "GetSessionToken: HTTP 503"},
		{"json 504", 504, `{"message":"gateway timeout"}`, "http_504", true, "GetSessionToken: HTTP 504"},
		{"html 403", 403, "<html>Forbidden</html>", "http_403", false, "GetSessionToken: HTTP 403"},
		{"error without a code", 400, `<ErrorResponse><Error><Message>bad input</Message></Error></ErrorResponse>`, "http_400", false, "GetSessionToken: HTTP 400: bad input"},
		{"200 without credentials", 200, `<GetSessionTokenResponse><GetSessionTokenResult/></GetSessionTokenResponse>`, "malformed_response", true, "GetSessionToken: malformed response from STS: it holds no credentials"},
		{"message over two lines", 400, errDoc, "ValidationError", false, "GetSessionToken: ValidationError: first line second line"},
		{"code that is no code", 400, `<ErrorResponse><Error><Code>a b` + "\n" + `c</Code><Message>m</Message></Error></ErrorResponse>`, "sts_error", false, "GetSessionToken: a b c: m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(cfg, cfg.Profiles["dev"], Options{HTTPClient: &http.Client{Transport: bodyTransport{tt.status, []byte(tt.body)}}})
			_, err := c.Fetch(context.Background(), Request{})
			if err == nil {
				t.Fatal("Fetch() succeeded")
			}
			if got := Reason(err); got != tt.reason {
				t.Errorf("Reason = %q; want %q", got, tt.reason)
			}
			if got := Retryable(err); got != tt.retryable {
				t.Errorf("Retryable = %v; want %v", got, tt.retryable)
			}
			if got := err.Error(); got != tt.text {
				t.Errorf("error = %q; want %q", got, tt.text)
			}
		})
	}
}

func TestOneLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"  a\nb\r\tc\x00 ", 10, "a b  c"},
		{"abcdef", 3, "abc…"},
		{"aé", 2, "a…"}, // never cuts a rune in half
		{"a\u2028b", 10, "a b"},
		{"bad \xff byte", 20, "bad \uFFFD byte"},
	}
	for _, tt := range tests {
		if got := oneLine(tt.in, tt.n); got != tt.want {
			t.Errorf("oneLine(%q, %d) = %q; want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
