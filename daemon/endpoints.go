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
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/imds"
)

// execTokenTTL bounds an exec token: the exec-token request renews it
// while its connection stays open, so a token outlives a vanished `stsd
// exec` by at most this long.
const execTokenTTL = time.Minute

// localEndpoints are the local credential servers: one IMDS listener per
// profile with imds_listen, and the ECS listener when [ecs] is set.
type localEndpoints struct {
	servers []endpoint
	tokens  *imds.Tokens // nil without [ecs]
	ecsBase string       // "http://127.0.0.1:PORT" as bound
}

type endpoint struct {
	name string // "imds dev", "ecs"
	ln   net.Listener
	h    http.Handler
}

// imdsProfile is what the imds package needs to know about p.
func imdsProfile(p *config.Profile) imds.Profile {
	return imds.Profile{
		Name: p.Name, Region: p.Region, AllowedUIDs: p.AllowedUIDs,
		AnyLocalUser: p.IMDSAnyLocalUser, IMDSV1: p.IMDSV1,
	}
}

// brokerOnly: a profile whose federated name uses {client} is minted per
// broker client and served by the broker only.
func brokerOnly(p *config.Profile) bool { return strings.Contains(p.FederationName, "{client}") }

// listenEndpoints binds every local endpoint listener, so a port in use
// fails the start; on error nothing stays open.
func (s *Supervisor) listenEndpoints() (_ *localEndpoints, err error) {
	ep := &localEndpoints{}
	defer func() {
		if err != nil {
			ep.close()
		}
	}()
	o := imds.Options{Logger: s.o.Logger, Now: s.o.Clock.Now, OnRequest: func(endpoint string, status int) {
		s.metrics.EndpointRequest.Inc(endpoint, strconv.Itoa(status))
	}}
	for _, name := range s.o.Config.ProfileNames() {
		p := s.o.Config.Profiles[name]
		if p.IMDSListen == "" {
			continue
		}
		ln, err := net.Listen("tcp", p.IMDSListen)
		if err != nil {
			return nil, fmt.Errorf("imds_listen of profile %q: %w", name, err)
		}
		ep.servers = append(ep.servers, endpoint{"imds " + name, ln, imds.NewIMDS(s, imdsProfile(p), o)})
	}
	if e := s.o.Config.ECS; e != nil {
		var profiles []imds.Profile
		var names []string
		for _, name := range s.o.Config.ProfileNames() {
			if p := s.o.Config.Profiles[name]; !brokerOnly(p) {
				profiles = append(profiles, imdsProfile(p))
				names = append(names, name)
			}
		}
		ep.tokens = imds.NewTokens(s.o.Clock.Now)
		if err := ep.tokens.LoadDir(e.TokenDir, names); err != nil {
			return nil, err
		}
		ln, err := net.Listen("tcp", e.Listen)
		if err != nil {
			return nil, fmt.Errorf("ecs listen: %w", err)
		}
		ep.ecsBase = "http://" + ln.Addr().String()
		ep.servers = append(ep.servers, endpoint{"ecs", ln, imds.NewECS(s, profiles, ep.tokens, o)})
	}
	return ep, nil
}

// serve runs every endpoint on wg until ctx ends.
func (ep *localEndpoints) serve(ctx context.Context, wg *sync.WaitGroup, s *Supervisor) {
	o := imds.Options{Logger: s.o.Logger, ShutdownTimeout: s.o.ShutdownTimeout}
	for _, e := range ep.servers {
		s.o.Logger.Info("endpoint listening", "event", "endpoint_started", "endpoint", e.name, "addr", e.ln.Addr().String())
		wg.Go(func() {
			if err := imds.Serve(ctx, e.ln, e.h, o); err != nil {
				s.o.Logger.Error("endpoint failed", "event", "endpoint_failed", "endpoint", e.name, "err", err)
			}
		})
	}
}

func (ep *localEndpoints) close() {
	for _, e := range ep.servers {
		e.ln.Close()
	}
}

// addr is the bound address of the named endpoint, or "".
func (ep *localEndpoints) addr(name string) string {
	if ep == nil {
		return ""
	}
	for _, e := range ep.servers {
		if e.name == name {
			return e.ln.Addr().String()
		}
	}
	return ""
}

// execTokenReply is the first (and only) line POST /v1/exec-token/{p}
// writes before it holds the connection open.
type execTokenReply struct {
	Token      string    `json:"token"`
	URL        string    `json:"url"` // AWS_CONTAINER_CREDENTIALS_FULL_URI
	Region     string    `json:"region"`
	Expiration time.Time `json:"expiration"` // of the current credentials
}

// handleExecToken mints an ECS token scoped to the profile, writes it, and
// holds the connection: the token is renewed while the connection stays
// open and revoked as soon as it closes (the exec'd command ended) or the
// daemon stops; if renewals stop, it lapses after execTokenTTL.
func (s *Supervisor) handleExecToken(w http.ResponseWriter, r *http.Request, ref *Refresher) {
	if s.ep == nil || s.ep.tokens == nil {
		writeError(w, http.StatusConflict, "NoECS", "this daemon has no [ecs] endpoint: stsd exec serves one itself")
		return
	}
	p := ref.profile
	if brokerOnly(p) {
		writeError(w, http.StatusNotFound, "UnknownProfile", "profile "+quote(p.Name)+" is served by the broker only")
		return
	}
	creds, err := s.Credentials(r.Context(), p.Name)
	if err != nil {
		s.writeUnavailable(w, ref, err)
		return
	}
	tok := s.ep.tokens.Issue(p.Name, execTokenTTL)
	defer tok.Revoke()
	// The request lives as long as the command: no read or write deadline.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{})
	rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(execTokenReply{
		Token: tok.Token, URL: s.ep.ecsBase + imds.ECSPath(p.Name),
		Region: p.Region, Expiration: creds.Expiration.UTC(),
	})
	if err := rc.Flush(); err != nil {
		return
	}
	log := s.o.Logger.With("profile", p.Name, "uid", peer(r))
	log.Info("exec token issued", "event", "exec_token_issued")
	defer log.Info("exec token revoked", "event", "exec_token_revoked")
	for {
		t := s.o.Clock.NewTimer(execTokenTTL / 3)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C():
			tok.Renew(execTokenTTL)
		}
	}
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
	d := &net.Dialer{Timeout: 2 * time.Second}
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", c.Socket)
		},
		DisableKeepAlives:     true,
		ResponseHeaderTimeout: 30 * time.Second,
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://stsd/v1/exec-token/"+url.PathEscape(profile), nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		if isNoDaemon(err) {
			return nil, fmt.Errorf("%w on %s", ErrNoDaemon, c.Socket)
		}
		return nil, fmt.Errorf("daemon on %s: %w", c.Socket, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		ae := &APIError{Status: resp.StatusCode}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(b, ae) != nil || ae.Message == "" {
			ae.Message = "daemon answered " + resp.Status
		}
		if ae.Code == "NoECS" {
			return nil, fmt.Errorf("%w: %w", ErrNoECS, ae)
		}
		return nil, ae
	}
	var reply execTokenReply
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&reply); err != nil || reply.Token == "" {
		resp.Body.Close()
		return nil, fmt.Errorf("daemon exec token: bad reply")
	}
	return &ExecToken{Token: reply.Token, URL: reply.URL, Region: reply.Region, Expiration: reply.Expiration, body: resp.Body}, nil
}

// endpointAddrs lists the bound endpoint addresses serving p, for status.
func (s *Supervisor) endpointAddrs(p *config.Profile) []string {
	var out []string
	if a := s.ep.addr("imds " + p.Name); a != "" {
		out = append(out, "imds "+a)
	}
	if a := s.ep.addr("ecs"); a != "" && !brokerOnly(p) {
		out = append(out, "ecs "+a)
	}
	return out
}
