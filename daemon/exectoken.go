package daemon

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/stsd/stsd/ecs"
	"github.com/stsd/stsd/internal/wire"
)

// execTokenTTL bounds an exec token: the exec-token request renews it
// while its connection stays open, so a token outlives a vanished `stsd
// exec` by at most this long.
const execTokenTTL = time.Minute

// maxExecBody bounds an exec-token request's body, which should be empty.
const maxExecBody = 1 << 10

// handleExecToken mints an ECS token scoped to the profile, writes it, and
// holds the connection: the token is renewed while the connection stays
// open and revoked as soon as it closes (the exec'd command ended) or the
// daemon stops; if renewals stop, it lapses after execTokenTTL.
func (s *Supervisor) handleExecToken(w http.ResponseWriter, r *http.Request, ref *Refresher) {
	// The server notices a closed connection, which revokes the token,
	// only once the body is read to its end: read it first, bounded, so
	// a body that never ends cannot hold a token open forever.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(s.o.ExecBodyTimeout)) // I/O deadlines are wall-clock
	if n, err := io.Copy(io.Discard, io.LimitReader(r.Body, maxExecBody+1)); err != nil || n > maxExecBody {
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusRequestTimeout, wire.CodeBadBody, "the request body did not arrive whole in time; POST /v1/exec-token takes no body")
		return
	}
	tokens, ecsBase := s.ep.ecsInfo()
	if tokens == nil {
		writeError(w, http.StatusConflict, wire.CodeNoECS, "this daemon has no [ecs] endpoint: stsd exec serves one itself")
		return
	}
	p := ref.profile
	if brokerOnly(p) {
		writeError(w, http.StatusNotFound, wire.CodeUnknownProfile, "profile "+quote(p.Name)+" is served by the broker only")
		return
	}
	creds, err := s.Credentials(r.Context(), p.Name)
	if err != nil {
		s.writeUnavailable(w, ref, err)
		return
	}
	tok := tokens.Issue(p.Name, execTokenTTL)
	defer tok.Revoke()
	// The request lives as long as the command: no read or write deadline.
	rc.SetReadDeadline(time.Time{})
	rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(wire.ExecTokenReply{
		Token: tok.Token, URL: ecsBase + ecs.Path(p.Name),
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
