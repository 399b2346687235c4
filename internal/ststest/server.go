package ststest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"
)

// Server is a Handler served over HTTP on 127.0.0.1: STS at /, the
// console sign-in endpoint at SigninPath.
type Server struct {
	*Handler
	// URL is the base URL, "http://127.0.0.1:PORT"; use it as the SDK's
	// BaseEndpoint or AWS_ENDPOINT_URL_STS.
	URL string
	// SigninURL is the console sign-in federation endpoint,
	// URL + SigninPath; use it as signin_endpoint.
	SigninURL string

	ts *httptest.Server
}

// NewServer starts a stand-in on 127.0.0.1 port 0 and closes it through
// t.Cleanup.
func NewServer(t testing.TB, o Options) *Server {
	t.Helper()
	h := NewHandler(o)
	mux := http.NewServeMux()
	mux.Handle(SigninPath, h.SigninHandler())
	mux.Handle("/", h)
	ts := httptest.NewServer(mux)
	s := &Server{Handler: h, URL: ts.URL, SigninURL: ts.URL + SigninPath, ts: ts}
	t.Cleanup(s.Close)
	return s
}

// Close releases hanging calls, then shuts the server down and waits for
// in-flight calls. It is safe to call more than once.
func (s *Server) Close() {
	s.Handler.Close()
	s.ts.Close()
}

// RoundTripper returns an in-memory transport that calls ServeHTTP
// directly, for synctest bubbles (a real socket stalls the fake clock).
// Set it as the SDK's HTTPClient transport with any base URL. A reset or
// aborted call returns a *net.OpError wrapping syscall.ECONNRESET; a call
// whose context ends returns the context's error.
func (h *Handler) RoundTripper() http.RoundTripper { return roundTripper{h} }

type roundTripper struct{ h *Handler }

func (rt roundTripper) RoundTrip(req *http.Request) (resp *http.Response, err error) {
	sreq := req.Clone(req.Context())
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	defer func() { _ = sreq.Body.Close() }()
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "127.0.0.1:1"
	if sreq.Host == "" {
		sreq.Host = req.URL.Host
	}
	rec := httptest.NewRecorder()
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				panic(p)
			}
			resp, err = nil, abortError(req)
		}
	}()
	rt.h.ServeHTTP(rec, sreq)
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	resp = rec.Result()
	resp.Request = req
	return resp, nil
}

// abortError is what a client sees when the server drops the connection.
func abortError(req *http.Request) error {
	if err := req.Context().Err(); err != nil {
		return err
	}
	return &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
}
