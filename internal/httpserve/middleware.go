package httpserve

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/stsd/stsd/internal/linklocal"
	"github.com/stsd/stsd/internal/redact"
)

// The local endpoints' checks run in this fixed order on every request,
// each one able to end it:
//
//  1. RejectProxyHeaders  any X-Forwarded-For, Forwarded or X-Real-IP → 403:
//     a proxy is relaying the request
//  2. CheckHost           Host not literally loopback (or the link-local
//     listener's own address) → 403 (DNS rebinding)
//  3. peercred.Check      a local caller's uid, or a container's address,
//     not allowed for the profile → 403 + audit
//  4. the endpoint's own token check → 401 or 403
//  5. the handler
//
// AccessLog wraps them all so refusals are logged (and counted) too.

// MaxBodyBytes bounds request bodies: no endpoint reads one.
const MaxBodyBytes = 1 << 10

// ServerName is the broker's Server header: no version, nothing to
// fingerprint. The local endpoints send none, like the services they
// stand in for send nothing an SDK reads: each header entry is cloned,
// sorted and written per answer.
const ServerName = "stsd"

// ContentJSON is the exact Content-Type of JSON answers: Go's endpointcreds
// decodes an error body only when the type is exactly this.
const ContentJSON = "application/json"

// Codes of the {"Code","Message"} error bodies.
const (
	CodeBadRequest     = "BadRequest"
	CodeUnauthorized   = "Unauthorized"
	CodeForbidden      = "AccessDenied"
	CodeNotFound       = "NotFound"
	CodeMethod         = "MethodNotAllowed"
	CodeUnavailable    = "CredentialsUnavailable"
	CodeUnknownProfile = "UnknownProfile"
	CodeTooMany        = "TooManyRequests"
)

// WriteError is the one way the endpoints report a failure:
// {"Code":…,"Message":…} on one line with Content-Type application/json,
// never with a secret or token in it.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	h := w.Header()
	h["Content-Type"] = jsonValue
	h["Cache-Control"] = noStoreValue
	w.WriteHeader(status)
	b, _ := json.Marshal(struct{ Code, Message string }{code, msg})
	w.Write(b)
}

// NotFound answers 404 with the error body.
func NotFound(w http.ResponseWriter, _ *http.Request) {
	WriteError(w, http.StatusNotFound, CodeNotFound, "not found")
}

// MethodNotAllowed answers 405 with the error body.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	WriteError(w, http.StatusMethodNotAllowed, CodeMethod, r.Method+" is not allowed here")
}

// StatusWriter records the status and size of an answer.
type StatusWriter struct {
	http.ResponseWriter
	Status int
	Bytes  int
}

func (w *StatusWriter) WriteHeader(code int) {
	if w.Status == 0 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.Bytes += n
	return n, err
}

// WriteString keeps the ResponseWriter's WriteString, so a ready-made
// document is written without a copy.
func (w *StatusWriter) WriteString(s string) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	n, err := io.WriteString(w.ResponseWriter, s)
	w.Bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Log is where AccessLog writes and counts.
type Log struct {
	// Logger gets the access lines (the daemon's batched log writer);
	// default: discard.
	Logger   *slog.Logger
	Now      func() time.Time
	Endpoint string // "imds", "ecs"
	// OnRequest, if set, is told the endpoint and status of every request
	// (metrics).
	OnRequest func(endpoint string, status int)
}

// Header values every answer shares: set by assigning the slice, which
// costs no allocation per request. Each has len == cap, so an Add by
// anyone copies it instead of writing into it.
var (
	noStoreValue = []string{"no-store"}
	jsonValue    = []string{ContentJSON}
)

// statusWriters are AccessLog's StatusWriters off Serve's connections,
// reused: none outlives its request.
var statusWriters = sync.Pool{New: func() any { return new(StatusWriter) }}

// accessLog is one AccessLog's loggers.
type accessLog struct {
	req slog.Handler // one line per request (event=http_request)
	sum slog.Handler // a connection's summaries (event=http_requests)
	now func() time.Time
}

// AccessLog logs every request: method, path, status, size and client
// address, never a header, since they carry tokens. On a connection
// Serve serves, requests are counted and the connection's summary lines
// (event=http_requests: how many requests got each answer, since when)
// are written when it closes, within TallyEvery of a request, and when
// the server stops; with the debug level each request also gets its own
// line then. Elsewhere each request gets its line (event=http_request,
// with its duration) at once. It also bounds the request body.
func AccessLog(l Log, next http.Handler) http.Handler {
	base := Logger(l.Logger)
	al := &accessLog{
		req: base.With("event", "http_request", "endpoint", l.Endpoint).Handler(),
		sum: base.With("event", "http_requests", "endpoint", l.Endpoint).Handler(),
		now: Clock(l.Now),
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tally, counted := r.Context().Value(tallyKey{}).(*connTally)
		level := slog.LevelInfo
		if counted {
			level = slog.LevelDebug
		}
		own := al.req.Enabled(r.Context(), level) // the request gets its own line
		var start time.Time
		if own {
			start = al.now()
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		}
		sw, pooled := tally.writer()
		*sw = StatusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		status, size := sw.Status, sw.Bytes
		*sw = StatusWriter{}
		if pooled {
			statusWriters.Put(sw)
		}
		if status == 0 {
			status = http.StatusOK
		}
		if l.OnRequest != nil {
			l.OnRequest(l.Endpoint, status)
		}
		if counted {
			tally.count(al, r, status, size)
		}
		if own {
			al.line(r, level, status, size, start)
		}
	})
}

// line writes r's own line at level.
func (l *accessLog) line(r *http.Request, level slog.Level, status, size int, start time.Time) {
	// The record goes to the handler directly: Logger.Info would also
	// walk the stack for a source position no handler here prints.
	end := l.now()
	rec := slog.NewRecord(end, level, "request", 0)
	rec.AddAttrs(slog.String("method", r.Method), slog.String("path", redact.Path(r.URL.Path)),
		slog.Int("status", status), slog.Int("bytes", size), slog.String("remote", r.RemoteAddr),
		slog.Duration("duration", end.Sub(start)))
	_ = l.req.Handle(r.Context(), rec) // a log that cannot be written fails no request
}

// proxyHeaders are the headers a relaying proxy adds. EC2's IMDS refuses
// a token PUT that carries X-Forwarded-For, and answers such GETs 403
// (jtblin/kube2iam#279); a local proxy forwarding to us would otherwise
// hand out credentials, whichever of these headers it sets.
var proxyHeaders = []string{"X-Forwarded-For", "Forwarded", "X-Real-Ip"}

// RejectProxyHeaders refuses any request carrying a proxy header.
func RejectProxyHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, k := range proxyHeaders {
			if _, ok := r.Header[k]; ok {
				WriteError(w, http.StatusForbidden, CodeForbidden, "requests through a proxy ("+k+") are refused")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// CheckHost refuses a Host header that is not literally localhost, a
// 127.0.0.0/8 address or [::1], with an optional port; on a link-local
// listener its own address (169.254.169.254, 169.254.170.2: what SDKs
// send there) is accepted too. Names are never resolved: a page whose
// name was rebound to 127.0.0.1 (DNS rebinding, cf. 99designs/aws-vault#578)
// still sends its own name.
func CheckHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !LoopbackHost(r.Host) && !ownLinkLocalHost(r) {
			WriteError(w, http.StatusForbidden, CodeForbidden, "the Host header must be localhost, a 127.0.0.0/8 address, [::1] or the link-local address of this listener")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ownLinkLocalHost reports whether r came to a link-local listener and
// names that listener's address literally, with an optional port.
func ownLinkLocalHost(r *http.Request) bool {
	la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return false
	}
	t, ok := la.(*net.TCPAddr)
	if !ok {
		return false
	}
	own := t.AddrPort().Addr().Unmap()
	if !linklocal.Known(own) {
		return false
	}
	host, port := r.Host, ""
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host, port = host[:i], host[i:]
	}
	if port != "" && !validPort(port) {
		return false
	}
	return host == own.String()
}

// LoopbackHost reports whether a Host header is a loopback literal (or
// localhost), with an optional port.
func LoopbackHost(h string) bool {
	host, port := h, ""
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return false
		}
		host, port = h[1:end], h[end+1:]
		if host != "::1" {
			return false
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		host, port = h[:i], h[i:]
	}
	if port != "" && !validPort(port) {
		return false
	}
	switch host {
	case "127.0.0.1", "localhost", "::1": // what SDKs send, without a parse
		return true
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Is4() && a.IsLoopback()
}

// validPort: ":" and 1..5 digits up to 65535.
func validPort(p string) bool {
	if len(p) < 2 || len(p) > 6 || p[0] != ':' {
		return false
	}
	n := 0
	for _, c := range []byte(p[1:]) {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n <= 65535
}
