package credproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/stsd/stsd/internal/winacl"
)

// dialDaemon connects over AF_UNIX with package net (Windows has no
// SO_RCVTIMEO path worth the trouble here). AF_UNIX has no peer
// credentials on Windows, so first the socket's directory must show that
// nobody but its rightful owner could have put a socket there
// (winacl.TrustSocket): a fake daemon would collect MFA codes.
func dialDaemon(ctx context.Context, path string, timeout time.Duration) (daemonConn, error) {
	var p *winacl.Problem
	if err := winacl.TrustSocket(path); errors.As(err, &p) {
		return nil, fmt.Errorf("%w %s: %w", errUntrusted, path, p)
	} else if err != nil {
		return nil, err // absent or unreadable: no daemon we can use
	}
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(timeout))
	context.AfterFunc(ctx, func() { c.Close() })
	return netConn{c}, nil
}

type netConn struct{ net.Conn }

func (c netConn) setReadTimeout(d time.Duration) { _ = c.SetReadDeadline(time.Now().Add(d)) }
