package linklocal

import (
	"context"
	"net"
	"net/netip"
	"time"
)

// probeTimeout bounds the look for a real metadata service: on EC2 the
// service answers within milliseconds, and elsewhere the address is
// unreachable (an immediate error) or silently dropped (this long).
const probeTimeout = time.Second

// ProbeMetadata reports whether something answers TCP at addr (a real
// instance metadata service, as on EC2 or another cloud), trying for at
// most a second. Call it only while the address is not on this host.
func ProbeMetadata(ctx context.Context, addr netip.AddrPort) bool {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp4", addr.String())
	if err != nil {
		return false
	}
	c.Close()
	return true
}
