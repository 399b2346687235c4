package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrNoDaemon means nothing answers on the socket.
var ErrNoDaemon = errors.New("no stsd daemon is running")

// UntrustedSocketError refuses a socket another user could have put where a
// daemon listens (on Windows: the system socket's directory not owned by
// SYSTEM or Administrators, or a user socket's not owned by the current
// user). Whoever answers there would receive MFA codes, so clients skip it
// like an absent daemon: it matches ErrNoDaemon.
type UntrustedSocketError struct {
	Socket string
	Reason string
}

func (e *UntrustedSocketError) Error() string { return "ignoring " + e.Socket + ": " + e.Reason }

// Is makes errors.Is(err, ErrNoDaemon) true.
func (e *UntrustedSocketError) Is(target error) bool { return target == ErrNoDaemon }

// dialSocket connects to socket once trustSocket accepts it.
func dialSocket(ctx context.Context, d *net.Dialer, socket string) (net.Conn, error) {
	if err := trustSocket(socket); err != nil {
		return nil, err
	}
	return d.DialContext(ctx, "unix", socket)
}

// Client talks to a running daemon's control API.
type Client struct {
	Socket string
	hc     *http.Client
}

// NewClient returns a Client for the daemon on socket.
func NewClient(socket string) *Client {
	d := &net.Dialer{Timeout: 2 * time.Second}
	return &Client{Socket: socket, hc: &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return dialSocket(ctx, d, socket)
			},
			DisableKeepAlives: true,
		},
	}}
}

// APIError is an error answer from the daemon.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string { return e.Message }

func (c *Client) do(ctx context.Context, method, path, body string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://stsd"+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ue := (*UntrustedSocketError)(nil); errors.As(err, &ue) {
			return nil, ue
		}
		if isNoDaemon(err) {
			return nil, fmt.Errorf("%w on %s: start it with `stsd run` (or `stsd start` for the service)", ErrNoDaemon, c.Socket)
		}
		return nil, fmt.Errorf("daemon on %s: %w", c.Socket, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		ae := &APIError{Status: resp.StatusCode}
		if json.Unmarshal(b, ae) != nil || ae.Message == "" {
			ae.Message = fmt.Sprintf("daemon answered %s", resp.Status)
		}
		return nil, ae
	}
	return b, nil
}

func isNoDaemon(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOTDIR)
}

// Status fetches the daemon's status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	b, err := c.do(ctx, http.MethodGet, "/v1/status", "")
	if err != nil {
		return nil, err
	}
	var st Status
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("daemon status: %w", err)
	}
	return &st, nil
}

// Reload asks the daemon to re-read its config.
func (c *Client) Reload(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodPost, "/v1/reload", "")
	return err
}

// Refresh forces profile's refresh.
func (c *Client) Refresh(ctx context.Context, profile string) error {
	_, err := c.do(ctx, http.MethodPost, "/v1/refresh/"+url.PathEscape(profile), "")
	return err
}

// Clear drops profile's cached credentials.
func (c *Client) Clear(ctx context.Context, profile string) error {
	_, err := c.do(ctx, http.MethodPost, "/v1/clear/"+url.PathEscape(profile), "")
	return err
}

// MFA hands the daemon an MFA code for profile.
func (c *Client) MFA(ctx context.Context, profile, code string) error {
	_, err := c.do(ctx, http.MethodPost, "/v1/mfa/"+url.PathEscape(profile), code)
	return err
}

// Credentials returns the exact credential_process bytes for profile.
func (c *Client) Credentials(ctx context.Context, profile string) ([]byte, error) {
	return c.do(ctx, http.MethodGet, "/v1/credentials/"+url.PathEscape(profile), "")
}
