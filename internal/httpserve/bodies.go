package httpserve

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stsd/stsd/internal/wire"
)

// Bodies caches rendered credential answers: building the JSON (and the
// garbage it makes) was ~15% of an endpoint's CPU per request under load
// (make bench). An entry is reused only for the same key id and
// expiration, so a refresh renders afresh.
type Bodies struct {
	m sync.Map // variant → *Answer
}

// Answer is a credential answer rendered once per credentials: the body
// and its Content-Type.
type Answer struct {
	akid string
	exp  time.Time
	body []byte
	// contentType and length are header values, shared by every answer
	// that writes them (len == cap: an Add copies them); length is nil
	// for a body net/http buffers whole.
	contentType, length []string
}

// bufferedBody is the largest body net/http holds back until the handler
// returns (its bufferBeforeChunkingSize) and then sends with a
// Content-Length it computes; a larger one would go out chunked unless
// the handler sets the length.
const bufferedBody = 2048

// Get returns the answer for variant, with Content-Type contentType, for
// credentials c, rendering its body with render when the cached one was
// made for other credentials.
func (b *Bodies) Get(variant, contentType string, c wire.Credentials, render func() []byte) *Answer {
	if v, ok := b.m.Load(variant); ok {
		if a := v.(*Answer); a.akid == c.AccessKeyID && a.exp.Equal(c.Expiration) {
			return a
		}
	}
	body := render()
	a := &Answer{akid: c.AccessKeyID, exp: c.Expiration, body: body, contentType: []string{contentType}}
	if len(body) > bufferedBody {
		a.length = []string{strconv.Itoa(len(body))}
	}
	b.m.Store(variant, a)
	return a
}

// Write sends a, made at now: its Content-Type, Cache-Control no-store,
// the Date of now and the body in one Write, always with a
// Content-Length. For a body it buffers whole, net/http adds that
// itself, more cheaply than from the header map, every entry of which is
// cloned, sorted and written per answer. The Date comes from now, the
// clock reading the credentials were checked with: net/http would read
// the clock again and format the date for every answer.
func (a *Answer) Write(w http.ResponseWriter, now time.Time) {
	h := w.Header()
	h["Content-Type"] = a.contentType
	h["Cache-Control"] = noStoreValue
	h["Date"] = dateValue(now)
	if a.length != nil {
		h["Content-Length"] = a.length
	}
	w.Write(a.body)
}

// dates holds the Date header value of the second last formatted.
var dates atomic.Pointer[date]

type date struct {
	unix  int64
	value []string // len == cap: an Add copies it
}

// dateValue is the Date header value (RFC 9110's IMF-fixdate, in UTC)
// of t's second, formatted once per second.
func dateValue(t time.Time) []string {
	sec := t.Unix()
	if d := dates.Load(); d != nil && d.unix == sec {
		return d.value
	}
	d := &date{unix: sec, value: []string{t.UTC().Format(http.TimeFormat)}}
	dates.Store(d)
	return d.value
}

// Source hands out a profile's current valid credentials. It never returns
// expired ones; an error means there are none to hand out (its message
// never holds a secret). *daemon.Supervisor is the daemon's Source.
type Source interface {
	// CredentialsAt returns profile's credentials and a time no earlier
	// than now (the caller's clock reading, taken just before the call)
	// that they are checked against: now when they were at hand, a later
	// reading when the source had to wait for them.
	CredentialsAt(ctx context.Context, profile string, now time.Time) (wire.Credentials, time.Time, error)
}

// errExpired: a source handed out credentials that expired meanwhile.
var errExpired = errors.New("the credentials have expired")

// Credentials returns profile's credentials from src and the time they
// were checked valid at (now, the request's clock reading, or src's later
// one), or answers 503 and returns false: none, or expired ones at that
// time (never served).
func Credentials(w http.ResponseWriter, r *http.Request, src Source, profile string, now time.Time) (wire.Credentials, time.Time, bool) {
	c, t, err := src.CredentialsAt(r.Context(), profile, now)
	if err == nil && !t.Before(c.Expiration) {
		err = errExpired
	}
	if err != nil {
		WriteError(w, http.StatusServiceUnavailable, CodeUnavailable, "profile "+strconv.Quote(profile)+" has no valid credentials: "+err.Error())
		return wire.Credentials{}, time.Time{}, false
	}
	return c, t, true
}
