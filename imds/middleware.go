package imds

import (
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// The security checks run in this fixed order on every request, each one
// able to end it:
//
//  1. rejectXFF    any X-Forwarded-For, Forwarded or X-Real-IP → 403: a
//     proxy is relaying the request
//  2. checkHost    Host not literally loopback → 403 (DNS rebinding)
//  3. callerCheck  peer uid not allowed for the profile → 403 + audit line
//  4. auth         IMDS token / ECS authorization token → 401 or 403
//  5. the handler
//
// accessLog wraps them all so refusals are logged too.

// maxBodyBytes bounds request bodies: no endpoint reads one.
const maxBodyBytes = 1 << 10

// serverName is the Server header: no version, nothing to fingerprint.
const serverName = "stsd"

// statusWriter records the status and size for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// accessLog writes one line per request: method, path, status, size,
// duration, client address. Never a header: they carry tokens.
func accessLog(o Options, log *slog.Logger, endpoint string, next http.Handler) http.Handler {
	now := o.Now
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := now()
		w.Header().Set("Server", serverName)
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		if o.OnRequest != nil {
			o.OnRequest(endpoint, sw.status)
		}
		log.Info("request", "event", "http_request", "endpoint", endpoint,
			"method", r.Method, "path", r.URL.Path, "status", sw.status,
			"bytes", sw.bytes, "remote", r.RemoteAddr, "duration", now().Sub(start))
	})
}

// proxyHeaders are the headers a relaying proxy adds. EC2's IMDS refuses
// a token PUT that carries X-Forwarded-For, and answers such GETs 403
// (jtblin/kube2iam#279); a local proxy forwarding to us would otherwise
// hand out credentials, whichever of these headers it sets.
var proxyHeaders = []string{"X-Forwarded-For", "Forwarded", "X-Real-Ip"}

// rejectXFF refuses any request carrying a proxy header.
func rejectXFF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, k := range proxyHeaders {
			if _, ok := r.Header[k]; ok {
				writeError(w, http.StatusForbidden, codeForbidden, "requests through a proxy ("+k+") are refused")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// checkHost refuses a Host header that is not literally localhost, a
// 127.0.0.0/8 address or [::1], with an optional port. Names are never
// resolved: a page whose name was rebound to 127.0.0.1 (DNS rebinding, cf.
// 99designs/aws-vault#578) still sends its own name.
func checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			writeError(w, http.StatusForbidden, codeForbidden, "the Host header must be localhost, a 127.0.0.0/8 address or [::1]")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func loopbackHost(h string) bool {
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
	if host == "::1" {
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

// callerCheck admits only processes whose uid may read the profile
// (allowed_uids; design.md "Local endpoints"). A refused caller gets 403
// and an audit line. With no PeerUID (non-Linux) or AnyLocalUser, it admits
// everyone: config allows that only with imds_any_local_user, and ECS still
// checks tokens.
func callerCheck(o Options, profile func(*http.Request) Profile, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := profile(r)
		if o.PeerUID == nil || p.AnyLocalUser {
			next.ServeHTTP(w, r)
			return
		}
		uid, err := o.PeerUID(r)
		if err != nil || !slices.Contains(p.AllowedUIDs, uid) {
			args := []any{"event", "caller_refused", "profile", p.Name, "remote", r.RemoteAddr, "path", r.URL.Path}
			if err != nil {
				args = append(args, "err", err)
			} else {
				args = append(args, "uid", uid)
			}
			o.Logger.Warn("caller refused", args...)
			writeError(w, http.StatusForbidden, codeForbidden, "this user may not read profile "+quote(p.Name)+": add its uid to the profile's allowed_uids")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func quote(s string) string { return `"` + s + `"` }
