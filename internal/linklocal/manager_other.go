//go:build !linux

package linklocal

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
)

// Supported: this OS has no link-local listeners.
const Supported = false

const unsupportedReason = "link-local listeners (169.254.169.254, 169.254.170.2) need Linux: this OS cannot tell which local user opened a TCP connection, so any local user could read the credentials, and stsd manages no addresses here; use imds_listen on 127.0.0.1 with AWS_EC2_METADATA_SERVICE_ENDPOINT, and for containers the HTTPS broker"

// Options configure New.
type Options struct {
	Logger *slog.Logger
	Probe  func(ctx context.Context, addr netip.AddrPort) bool
}

// Manager opens no listener here.
type Manager struct{}

// New returns a Manager that refuses every Listen.
func New(Options) *Manager { return &Manager{} }

// Listen fails: ErrUnsupported.
func (*Manager) Listen(context.Context, Bind) (net.Listener, error) { return nil, ErrUnsupported }

// Sweep has nothing to remove here.
func (*Manager) Sweep([]netip.Addr, func(netip.Addr) bool) {}

// DropInherited has nothing to do: no capabilities here.
func DropInherited() error { return nil }

// Present fails: ErrUnsupported.
func Present(netip.Addr) (string, bool, error) { return "", false, ErrUnsupported }

// Check reports why b cannot listen here.
func Check(Bind, func(netip.AddrPort) bool) []string { return []string{unsupportedReason} }
