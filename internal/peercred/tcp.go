// Package peercred tells which local user is at the other end of a
// connection: a loopback TCP connection (Linux: the owner of the client's
// exact socket) or a unix socket (the kernel's peer credentials), and
// refuses HTTP callers whose uid may not read a profile.
package peercred

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
)

// ErrNoPeer means the request did not come over a connection whose
// context ConnContext made, so its peer cannot be looked up.
var ErrNoPeer = errors.New("peer unknown: not a connection with peercred.ConnContext")

type connKey struct{}

// connInfo is one accepted connection; its peer uid is looked up once, on
// the first request (not in the accept loop).
type connInfo struct {
	local, remote netip.AddrPort
	once          sync.Once
	uid           int
	err           error
}

// ConnContext records a TCP connection's addresses for TCPUID; use it as
// an http.Server's ConnContext.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	ci := &connInfo{}
	if a, ok := c.LocalAddr().(*net.TCPAddr); ok {
		ci.local = a.AddrPort()
	}
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		ci.remote = a.AddrPort()
	}
	return context.WithValue(ctx, connKey{}, ci)
}

// TCPUID returns the uid that owns the client end of r's TCP connection,
// looked up once per connection. Only Linux can tell (Supported).
func TCPUID(r *http.Request) (int, error) {
	ci, ok := r.Context().Value(connKey{}).(*connInfo)
	if !ok || !ci.local.IsValid() || !ci.remote.IsValid() {
		return -1, ErrNoPeer
	}
	ci.once.Do(func() { ci.uid, ci.err = lookupPeer(ci.local, ci.remote) })
	return ci.uid, ci.err
}

// Rule is who may read the profile a request asks for.
type Rule struct {
	Profile     string
	AllowedUIDs []int
	Anyone      bool // no check (imds_any_local_user)
}

// Require admits only requests whose peer uid (from uid) the request's
// rule allows; a refused caller gets 403 and an audit line. With uid nil
// (an OS without a TCP peer check) every caller passes: the config then
// demands imds_any_local_user, and ECS still checks its tokens. deny
// writes the refusal.
func Require(log *slog.Logger, uid func(*http.Request) (int, error), rule func(*http.Request) Rule,
	deny func(w http.ResponseWriter, profile string), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ru := rule(r)
		if uid == nil || ru.Anyone {
			next.ServeHTTP(w, r)
			return
		}
		u, err := uid(r)
		if err != nil || !slices.Contains(ru.AllowedUIDs, u) {
			args := []any{"event", "caller_refused", "profile", ru.Profile, "remote", r.RemoteAddr, "path", r.URL.Path}
			if err != nil {
				args = append(args, "err", err)
			} else {
				args = append(args, "uid", u)
			}
			log.Warn("caller refused", args...)
			deny(w, ru.Profile)
			return
		}
		next.ServeHTTP(w, r)
	})
}
