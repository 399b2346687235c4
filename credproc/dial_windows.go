package credproc

import (
	"context"
	"net"
	"time"
)

// dialDaemon connects over AF_UNIX with package net (Windows has no
// SO_RCVTIMEO path worth the trouble here).
func dialDaemon(ctx context.Context, path string, timeout time.Duration) (daemonConn, error) {
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
