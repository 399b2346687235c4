// Package imds serves credentials to local programs over HTTP: an
// EC2-IMDSv2-compatible endpoint per profile and an ECS-container-
// credentials-compatible endpoint, behind loopback-only security checks.
package imds

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/stsd/stsd/internal/wire"
)

// Source hands out a profile's current valid credentials. It never returns
// expired ones; an error means there are none to hand out (its message
// never holds a secret). *daemon.Supervisor is the daemon's Source.
type Source interface {
	Credentials(ctx context.Context, profile string) (wire.Credentials, error)
}

// Profile is one profile an endpoint serves.
type Profile struct {
	Name   string
	Region string // default us-east-1
	// AllowedUIDs may read the profile (Linux peer check); empty means the
	// uid of this process.
	AllowedUIDs []int
	// AnyLocalUser turns the peer check off (imds_any_local_user).
	AnyLocalUser bool
	// IMDSV1 allows tokenless IMDS GETs (imds_v1).
	IMDSV1 bool
}

func (p Profile) withDefaults() Profile {
	if p.Region == "" {
		p.Region = "us-east-1"
	}
	if len(p.AllowedUIDs) == 0 {
		p.AllowedUIDs = []int{os.Getuid()}
	}
	return p
}

// Options configure a handler or server. Zero values mean defaults.
type Options struct {
	Logger *slog.Logger     // default: discard
	Now    func() time.Time // default time.Now
	// Rand is the source of the IMDS token key; default crypto/rand.
	Rand io.Reader
	// Hostname seeds the stable instance-id; default os.Hostname().
	Hostname string
	// PeerUID returns the uid of the process at the other end of the
	// request's TCP connection. Default: the /proc/net/tcp lookup on
	// Linux (connections served by Serve); elsewhere there is none and
	// the caller check is skipped (config requires imds_any_local_user).
	PeerUID func(*http.Request) (int, error)
	// OnRequest, if set, is told the endpoint ("imds", "ecs") and status of
	// every request (metrics).
	OnRequest func(endpoint string, status int)
	// ShutdownTimeout bounds in-flight requests when Serve stops;
	// default 5s.
	ShutdownTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Hostname == "" {
		o.Hostname, _ = os.Hostname()
	}
	if o.PeerUID == nil && peerCheckSupported {
		o.PeerUID = PeerUID
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 5 * time.Second
	}
	return o
}

// Error codes of the {"Code","Message"} bodies.
const (
	codeBadRequest     = "BadRequest"
	codeUnauthorized   = "Unauthorized"
	codeForbidden      = "AccessDenied"
	codeNotFound       = "NotFound"
	codeMethod         = "MethodNotAllowed"
	codeUnavailable    = "CredentialsUnavailable"
	codeUnknownProfile = "UnknownProfile"
)

// contentJSON is the exact Content-Type of JSON answers: Go's endpointcreds
// decodes an error body only when the type is exactly this (protocol.md §3).
const contentJSON = "application/json"

// writeError is the one way these endpoints report a failure:
// {"Code":…,"Message":…} with Content-Type application/json, never with a
// secret or token in it.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	h := w.Header()
	h.Set("Content-Type", contentJSON)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	b, _ := json.Marshal(struct{ Code, Message string }{code, msg})
	w.Write(b)
}
