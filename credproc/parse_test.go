package credproc

import (
	"strings"
	"testing"
)

func TestEscapePath(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"dev", "dev"},
		{"Dev.prod_1-x~", "Dev.prod_1-x~"},
		{"a b", "a%20b"},
		{"a/b", "a%2Fb"},
		{"..", ".."},
		{"ü?#%", "%C3%BC%3F%23%25"},
	}
	for _, tt := range tests {
		if got := escapePath(tt.in); got != tt.want {
			t.Errorf("escapePath(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	t.Parallel()
	if got := oneLine("a\nb\r\tc\x00 "); got != "a b  c" {
		t.Errorf("oneLine = %q", got)
	}
	if got := oneLine(strings.Repeat("x", 5000)); len(got) > 1010 {
		t.Errorf("oneLine kept %d bytes; want ≤ 1000 + ellipsis", len(got))
	}
}

func FuzzResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}"))
	f.Add([]byte("HTTP/1.1 503 Service Unavailable\r\n\r\n{\"Code\":\"Expired\",\"Message\":\"x\"}"))
	f.Add([]byte("HTTP/1.0 404 \n\n"))
	f.Add([]byte("HTTP/1.0 200 OK\r\nContent-Length: -1\r\n\r\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parseResponse(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		if r.status < 100 || r.status > 999 {
			t.Fatalf("status %d accepted", r.status)
		}
		if len(r.body) > maxResponse {
			t.Fatalf("body of %d bytes accepted", len(r.body))
		}
		_ = daemonError("s", "p", r)
	})
}
