//go:build !windows

package credproc

import (
	"context"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// dialDaemon connects with plain blocking syscalls and socket timeouts
// instead of package net: that keeps Go's network poller (and net's
// init) out of the one process every AWS call may start (about 0.1–0.3 ms
// of a ~2 ms run, measured by make bench).
//
// Where no socket file exists (the cache-only case, and the system socket
// of most hosts) one stat answers instead of five socket calls. Errors
// are the bare errno: the caller only tells "no daemon" from "untrusted",
// and fmt's first use would cost more than the rest of the attempt.
func dialDaemon(ctx context.Context, path string, timeout time.Duration) (daemonConn, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		return nil, err
	}
	unix.CloseOnExec(fd)
	c := &rawConn{fd: fd, ctx: ctx}
	tv := unix.NsecToTimeval(timeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
		c.Close()
		return nil, err
	}
	c.setReadTimeout(timeout)
	for {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// rawConn reads in slices of at most pollSlice so a cancelled ctx is
// noticed while the daemon thinks (it may wait for a refresh).
type rawConn struct {
	fd       int
	ctx      context.Context
	deadline time.Time
}

const pollSlice = 100 * time.Millisecond

func (c *rawConn) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(c.fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN || err == unix.EWOULDBLOCK:
			if err := c.ctx.Err(); err != nil {
				return 0, err
			}
			left := time.Until(c.deadline)
			if left <= 0 {
				return 0, os.ErrDeadlineExceeded
			}
			c.slice(min(left, pollSlice))
			continue
		case err != nil:
			return 0, err
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (c *rawConn) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		n, err := unix.Write(c.fd, p[written:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN || err == unix.EWOULDBLOCK:
			return written, os.ErrDeadlineExceeded
		case err != nil:
			return written, err
		}
		written += n
	}
	return written, nil
}

func (c *rawConn) Close() error { return unix.Close(c.fd) }

func (c *rawConn) setReadTimeout(d time.Duration) {
	c.deadline = time.Now().Add(d)
	c.slice(min(d, pollSlice))
}

func (c *rawConn) slice(d time.Duration) {
	tv := unix.NsecToTimeval(max(d, time.Millisecond).Nanoseconds())
	_ = unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
}
