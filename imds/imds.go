// Package imds is the EC2-IMDSv2-compatible endpoint stsd serves a profile
// on: the token PUT, the IAM credential paths, placement and the instance
// identity document, behind the local endpoints' security checks.
package imds

import (
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"time"

	"github.com/stsd/stsd/internal/httpserve"
	"github.com/stsd/stsd/internal/peercred"
)

// Source hands out a profile's current valid credentials.
type Source = httpserve.Source

// Profile is the profile an endpoint serves, and who may read it.
type Profile = httpserve.Profile

// Options configure NewIMDS. Zero values mean defaults.
type Options struct {
	Logger *slog.Logger // default: discard
	// AccessLogger gets the one line per request (the daemon's batched
	// writer); default Logger. Refusals and audit lines go to Logger.
	AccessLogger *slog.Logger
	Now          func() time.Time // default time.Now
	// Rand is the source of the token key; default crypto/rand.
	Rand io.Reader
	// Hostname seeds the stable instance-id; default os.Hostname().
	Hostname string
	// PeerUID returns the uid of the process at the other end of the
	// request's TCP connection. Default: peercred.TCPUID where the OS can
	// tell (Linux, connections served with peercred.ConnContext);
	// elsewhere there is none and the caller check is skipped (config
	// requires imds_any_local_user).
	PeerUID func(*http.Request) (int, error)
	// ContainerPeer tells a caller from another network namespace (a
	// container) on a link-local listener; default peercred.ContainerPeer.
	ContainerPeer func(*http.Request) (netip.Addr, bool)
	// OnRequest, if set, is told "imds" and the status of every request
	// (metrics).
	OnRequest func(endpoint string, status int)
	// IMDSV1 allows tokenless GETs (imds_v1).
	IMDSV1 bool
}

func (o Options) withDefaults() Options {
	o.Logger, o.Now = httpserve.Logger(o.Logger), httpserve.Clock(o.Now)
	if o.AccessLogger == nil {
		o.AccessLogger = o.Logger
	}
	if o.Hostname == "" {
		o.Hostname, _ = os.Hostname()
	}
	if o.PeerUID == nil && peercred.Supported {
		o.PeerUID = peercred.TCPUID
	}
	if o.ContainerPeer == nil {
		o.ContainerPeer = peercred.ContainerPeer
	}
	return o
}

// deny is the caller check's refusal.
func deny(w http.ResponseWriter, profile string) {
	httpserve.WriteError(w, http.StatusForbidden, httpserve.CodeForbidden,
		"this caller may not read profile \""+profile+"\": add its uid to the profile's allowed_uids (a container: its address to container_cidrs)")
}
