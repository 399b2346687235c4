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

	"github.com/stsd/stsd/internal/wire"
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

// Client limits: a call may wait (bounded) for a refresh in flight.
const (
	dialTimeout = 2 * time.Second
	callTimeout = 30 * time.Second
	maxReply    = 1 << 20
)

// NewClient returns a Client for the daemon on socket.
func NewClient(socket string) *Client {
	d := &net.Dialer{Timeout: dialTimeout}
	return &Client{Socket: socket, hc: &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return dialSocket(ctx, d, socket)
			},
			DisableKeepAlives:     true,
			ResponseHeaderTimeout: callTimeout,
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

// send makes one request; a socket with no daemon is ErrNoDaemon.
func (c *Client) send(ctx context.Context, method, path, body string) (*http.Response, error) {
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
	return resp, nil
}

// do is one bounded call whose whole answer is read.
func (c *Client) do(ctx context.Context, method, path, body string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		return nil, apiError(resp, b)
	}
	return b, nil
}

// apiError is the daemon's error answer resp with body b.
func apiError(resp *http.Response, b []byte) *APIError {
	e := wire.DecodeError(b)
	if e.Message == "" {
		e.Message = "daemon answered " + resp.Status
	}
	return &APIError{Status: resp.StatusCode, Code: e.Code, Message: e.Message}
}

func isNoDaemon(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOTDIR)
}

// Status fetches the daemon's status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	b, err := c.do(ctx, http.MethodGet, wire.PathStatus, "")
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
	_, err := c.do(ctx, http.MethodPost, wire.PathReload, "")
	return err
}

// Refresh forces profile's refresh.
func (c *Client) Refresh(ctx context.Context, profile string) error {
	_, err := c.do(ctx, http.MethodPost, wire.PathRefresh+url.PathEscape(profile), "")
	return err
}

// Clear drops profile's cached credentials.
func (c *Client) Clear(ctx context.Context, profile string) error {
	_, err := c.do(ctx, http.MethodPost, wire.PathClear+url.PathEscape(profile), "")
	return err
}

// MFA hands the daemon an MFA code for profile.
func (c *Client) MFA(ctx context.Context, profile, code string) error {
	_, err := c.do(ctx, http.MethodPost, wire.PathMFA+url.PathEscape(profile), code)
	return err
}

// Credentials returns the exact credential_process bytes for profile.
func (c *Client) Credentials(ctx context.Context, profile string) ([]byte, error) {
	return c.do(ctx, http.MethodGet, wire.PathCredentials+url.PathEscape(profile), "")
}

// ExecToken is an ECS token scoped to one profile, valid while it is held
// open (Close revokes it).
type ExecToken struct {
	Token      string
	URL        string // AWS_CONTAINER_CREDENTIALS_FULL_URI
	Region     string
	Expiration time.Time
	body       io.Closer
}

// Close revokes the token.
func (t *ExecToken) Close() error { return t.body.Close() }

// ErrNoECS is returned by ExecToken when the daemon has no ECS endpoint.
var ErrNoECS = errors.New("the daemon has no [ecs] endpoint")

// ExecToken asks the daemon for an ECS token scoped to profile and keeps the
// request open: the token lives until Close or until ctx ends.
func (c *Client) ExecToken(ctx context.Context, profile string) (*ExecToken, error) {
	var reply wire.ExecTokenReply
	body, err := c.hold(ctx, wire.PathExecToken+url.PathEscape(profile), "", &reply)
	if err != nil {
		if ae := (*APIError)(nil); errors.As(err, &ae) && ae.Code == wire.CodeNoECS {
			return nil, fmt.Errorf("%w: %w", ErrNoECS, ae)
		}
		return nil, err
	}
	if reply.Token == "" {
		body.Close()
		return nil, errors.New("daemon exec token: bad reply")
	}
	return &ExecToken{Token: reply.Token, URL: reply.URL, Region: reply.Region, Expiration: reply.Expiration, body: body}, nil
}

// hold POSTs body to path and, on a 200, decodes the answer's first JSON
// value into v and hands back the still open response: what the daemon
// grants lives until it is closed (or ctx ends) and the body then ends
// (io.EOF or an error) when the daemon lets it go.
func (c *Client) hold(ctx context.Context, path, body string, v any) (io.ReadCloser, error) {
	// The answer's first value is bounded as a call is; the hold is not.
	ctx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(callTimeout, cancel)
	resp, err := c.send(ctx, http.MethodPost, path, body)
	if err != nil {
		timer.Stop()
		cancel()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		timer.Stop()
		defer cancel()
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxReply))
		return nil, apiError(resp, b)
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(v)
	if !timer.Stop() {
		err = fmt.Errorf("daemon %s: no whole reply within %s", path, callTimeout)
	} else if err != nil {
		err = fmt.Errorf("daemon %s: bad reply", path)
	}
	if err != nil {
		resp.Body.Close()
		cancel()
		return nil, err
	}
	return heldBody{resp.Body, cancel}, nil
}

// heldBody is a held answer's body; Close also ends its request.
type heldBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b heldBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// HeldContainerID is a container id that lives while it is held: the
// daemon revokes it when Body is closed or its holder ends, however.
type HeldContainerID struct {
	wire.ContainerIDReply
	// Body ends (a read returns an error) when the hold does: Close, ctx,
	// or the daemon stopping, which leaves the id to live to its expiry
	// and to be held again (HoldContainerIDAgain).
	Body io.ReadCloser
}

// HoldContainerID mints a container id scoped to profile, valid for ttl
// at most (0: the daemon's default), that lives only while it is held.
func (c *Client) HoldContainerID(ctx context.Context, profile string, ttl time.Duration) (*HeldContainerID, error) {
	req := wire.ContainerIDRequest{Hold: true}
	if ttl > 0 {
		req.TTL = ttl.String()
	}
	b, _ := json.Marshal(req)
	h := &HeldContainerID{}
	body, err := c.hold(ctx, wire.PathContainerID+url.PathEscape(profile), string(b), &h.ContainerIDReply)
	if err != nil {
		return nil, err
	}
	if h.ID == "" {
		body.Close()
		return nil, errors.New("daemon container id: bad reply")
	}
	h.Body = body
	return h, nil
}

// ErrNoSuchID is the answer of HoldContainerIDAgain and RevokeContainerID
// for an id that has expired or been revoked (or that the caller may not
// see).
var ErrNoSuchID = errors.New("no such container id (it may have expired or been revoked)")

// HoldContainerIDAgain holds a live id (given whole) again, after the
// daemon that held it stopped; the body is as HeldContainerID's.
func (c *Client) HoldContainerIDAgain(ctx context.Context, id string) (io.ReadCloser, error) {
	b, _ := json.Marshal(wire.ContainerIDRevoke{ID: id})
	var info wire.ContainerIDInfo
	body, err := c.hold(ctx, wire.PathContainerHold, string(b), &info)
	return body, noSuchID(err)
}

// noSuchID marks the daemon's answer for an unknown container id with
// ErrNoSuchID.
func noSuchID(err error) error {
	if ae := (*APIError)(nil); errors.As(err, &ae) && ae.Code == wire.CodeNoSuchID {
		return noSuchIDError{ae}
	}
	return err
}

// noSuchIDError is the daemon's answer, which is also ErrNoSuchID.
type noSuchIDError struct{ *APIError }

func (e noSuchIDError) Unwrap() error      { return e.APIError }
func (noSuchIDError) Is(target error) bool { return target == ErrNoSuchID }

// MintContainerID asks for a container id scoped to profile, valid for
// ttl (0: the daemon's default).
func (c *Client) MintContainerID(ctx context.Context, profile string, ttl time.Duration) (*wire.ContainerIDReply, error) {
	body := ""
	if ttl > 0 {
		b, _ := json.Marshal(wire.ContainerIDRequest{TTL: ttl.String()})
		body = string(b)
	}
	b, err := c.do(ctx, http.MethodPost, wire.PathContainerID+url.PathEscape(profile), body)
	if err != nil {
		return nil, err
	}
	var reply wire.ContainerIDReply
	if err := json.Unmarshal(b, &reply); err != nil || reply.ID == "" {
		return nil, errors.New("daemon container id: bad reply")
	}
	return &reply, nil
}

// ContainerIDs lists the container ids this caller may see, shortened.
func (c *Client) ContainerIDs(ctx context.Context) ([]wire.ContainerIDInfo, error) {
	b, err := c.do(ctx, http.MethodGet, wire.PathContainerIDs, "")
	if err != nil {
		return nil, err
	}
	var list wire.ContainerIDList
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("daemon container ids: %w", err)
	}
	return list.IDs, nil
}

// RevokeContainerID ends a container id at once: given whole or in the
// shortened form a list shows.
func (c *Client) RevokeContainerID(ctx context.Context, id string) (*wire.ContainerIDInfo, error) {
	body, _ := json.Marshal(wire.ContainerIDRevoke{ID: id})
	b, err := c.do(ctx, http.MethodPost, wire.PathContainerRevoke, string(body))
	if err != nil {
		return nil, noSuchID(err)
	}
	var info wire.ContainerIDInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("daemon container id revoke: %w", err)
	}
	return &info, nil
}
