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

	"github.com/stsd/stsd/internal/linklocal"
	"github.com/stsd/stsd/internal/redact"
)

// ErrNoPeer means the request did not come over a connection whose
// context ConnContext made, so its peer cannot be looked up.
var ErrNoPeer = errors.New("peer unknown: not a connection with peercred.ConnContext")

type connKey struct{}

// connInfo is one accepted connection; its peer uid and whether it comes
// from a container are looked up once, on the first request (not in the
// accept loop).
type connInfo struct {
	local, remote netip.AddrPort
	once          sync.Once
	uid           int
	err           error

	ctrOnce   sync.Once
	container bool
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

// ContainerPeer reports the peer address of r's connection when it is a
// container's: the connection came to a link-local listener (169.254.169.254,
// 169.254.170.2) from an address that is none of this network namespace's
// own, so it crossed from another namespace (a bridged container) and no
// socket or uid of it can be found here. A local process can only connect
// from this namespace's addresses (the kernel routes no local packet from
// another source without IP_TRANSPARENT, which needs CAP_NET_ADMIN, and
// an answer would go to that address's owner), so a local caller is never
// taken for a container: it keeps the uid check.
// Looked up once per connection.
func ContainerPeer(r *http.Request) (netip.Addr, bool) {
	ci, ok := r.Context().Value(connKey{}).(*connInfo)
	if !ok || !ci.local.IsValid() || !ci.remote.IsValid() {
		return netip.Addr{}, false
	}
	ci.ctrOnce.Do(func() {
		ci.container = linklocal.Known(ci.local.Addr()) && !isOwnAddr(ci.remote.Addr())
	})
	return ci.remote.Addr().Unmap(), ci.container
}

// isOwnAddr reports whether a is loopback or one of this network
// namespace's addresses; when they cannot be listed it answers true, so
// an unknown caller is treated as local and must pass the uid check.
func isOwnAddr(a netip.Addr) bool {
	a = a.Unmap()
	if a.IsLoopback() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return true
	}
	for _, ad := range addrs {
		if n, ok := ad.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == a {
				return true
			}
		}
	}
	return false
}

// Rule is who may read the profile a request asks for.
type Rule struct {
	Profile     string
	AllowedUIDs []int
	Anyone      bool // no uid check for local callers (imds_any_local_user)
	// ContainerCIDRs are the container addresses that may read the
	// profile over a link-local listener (container_cidrs; empty: none).
	ContainerCIDRs []netip.Prefix
}

// Check is one endpoint's caller check.
type Check struct {
	Log *slog.Logger
	// UID returns the uid at the other end of a local caller's TCP
	// connection; nil where the OS cannot tell (every local caller passes:
	// the config then demands imds_any_local_user, and ECS still checks
	// its tokens).
	UID func(*http.Request) (int, error)
	// Container returns the address of a caller from another network
	// namespace (ContainerPeer); nil: no caller is one.
	Container func(*http.Request) (netip.Addr, bool)
	// Rule is who may read the profile r asks for.
	Rule func(r *http.Request) Rule
	// Deny writes the refusal.
	Deny func(w http.ResponseWriter, profile string)
}

// Require admits only the callers the request's rule allows: a container
// (Container) only from an address in the rule's ContainerCIDRs, whatever
// else the rule says; a local caller only with an allowed uid (UID). A
// refused caller gets Deny's answer and an audit line.
func (c Check) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.Allow(w, r, c.Rule(r)) {
			next.ServeHTTP(w, r)
		}
	})
}

// Allow is Require's check for a rule the caller already has (c.Rule is
// not consulted): it reports whether the caller of r may read ru's
// profile, and when not, has written Deny's answer and an audit line.
func (c Check) Allow(w http.ResponseWriter, r *http.Request, ru Rule) bool {
	if c.Container != nil {
		if a, ok := c.Container(r); ok {
			if !slices.ContainsFunc(ru.ContainerCIDRs, func(p netip.Prefix) bool { return p.Contains(a) }) {
				c.refuse(w, r, ru, "reason", "outside_container_cidrs")
				return false
			}
			return true
		}
	}
	if c.UID == nil || ru.Anyone {
		return true
	}
	u, err := c.UID(r)
	switch {
	case err != nil:
		c.refuse(w, r, ru, "reason", "peer_unknown", "err", err)
	case !slices.Contains(ru.AllowedUIDs, u):
		c.refuse(w, r, ru, "reason", "uid_not_allowed", "uid", u)
	default:
		return true
	}
	return false
}

// refuse writes the audit line and the refusal.
func (c Check) refuse(w http.ResponseWriter, r *http.Request, ru Rule, args ...any) {
	args = append([]any{"event", "caller_refused", "profile", ru.Profile, "remote", r.RemoteAddr, "path", redact.Path(r.URL.Path)}, args...)
	c.Log.Warn("caller refused", args...)
	c.Deny(w, ru.Profile)
}
