package daemon

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/stsd/stsd/ecs"
	"github.com/stsd/stsd/internal/wire"
)

// maxContainerBody bounds a container-id request's body.
const maxContainerBody = 1 << 10

// Container ids on the control API. Who may:
//   - mint an id for p: whoever may read p (p's allowed_uids, the daemon's
//     user, root), as for credentials;
//   - list: each caller sees the ids of the profiles it may read;
//   - revoke: an id of a profile the caller may read; any other id is
//     answered as an unknown one.

// handleMintContainerID mints a container id scoped to the profile.
func (s *Supervisor) handleMintContainerID(w http.ResponseWriter, r *http.Request, ref *Refresher) {
	p := ref.profile
	if brokerOnly(p) {
		writeError(w, http.StatusNotFound, wire.CodeUnknownProfile, "profile "+quote(p.Name)+" is served by the broker only")
		return
	}
	ids := s.containerIDsOrError(w)
	if ids == nil {
		return
	}
	var req wire.ContainerIDRequest
	if !readJSON(w, r, &req) {
		return
	}
	ttl := ecs.DefaultIDTTL
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil {
			writeError(w, http.StatusBadRequest, wire.CodeBadBody, "ttl "+quote(req.TTL)+" is not a duration such as 12h or 30m")
			return
		}
		ttl = d
	}
	id, info, err := ids.Mint(p.Name, ttl)
	if err != nil {
		writeError(w, http.StatusBadRequest, wire.CodeBadBody, err.Error())
		return
	}
	s.o.Logger.Info("container id issued", "event", "container_id_issued", "profile", p.Name, "id", info.Ref,
		"uid", peer(r), "expires", info.Expires, "held", req.Hold)
	reply := wire.ContainerIDReply{ID: id, Ref: info.Ref, URI: ecs.ContainerPath(id), Profile: p.Name,
		Region: p.Region, Expires: info.Expires}
	if req.Hold {
		s.holdContainerID(w, r, ids, id, info, reply)
		return
	}
	writeJSON(w, reply)
}

// handleHoldContainerID holds a live id the caller may see again (given
// whole): after a daemon restart ended its first hold.
func (s *Supervisor) handleHoldContainerID(w http.ResponseWriter, r *http.Request) {
	ids, req, ok := s.idRequest(w, r)
	if !ok {
		return
	}
	info, ok := ids.Lookup(req.ID)
	if !ok || !s.mayReadName(peer(r))(info.Profile) {
		writeError(w, http.StatusNotFound, wire.CodeNoSuchID, ecs.ErrNoID.Error())
		return
	}
	s.o.Logger.Info("container id held again", "event", "container_id_held", "profile", info.Profile, "id", info.Ref, "uid", peer(r))
	s.holdContainerID(w, r, ids, req.ID, info, wire.ContainerIDInfo(info))
}

// holdContainerID writes reply as one line and holds the response open
// until its connection closes, then revokes id: its holder has ended,
// however it ended. When the daemon stops first the id is left to live
// to its expiry (a restart must not cut off running containers), and
// when it expires or is revoked meanwhile there is nothing to do.
func (s *Supervisor) holdContainerID(w http.ResponseWriter, r *http.Request, ids *ecs.IDs, id string, info ecs.IDInfo, reply any) {
	// The server notices a closed connection only once the body is read
	// to its end, as readJSON has; the hold itself has no deadline.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{})
	rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(reply)
	if rc.Flush() == nil {
		t := s.o.Clock.NewTimer(info.Expires.Sub(s.o.Clock.Now()))
		defer t.Stop()
		select {
		case <-r.Context().Done():
		case <-t.C():
			return
		}
		if g := s.group.Load(); g == nil || g.ctx.Err() != nil {
			return
		}
	}
	if _, err := ids.Revoke(id, func(string) bool { return true }); err == nil {
		s.o.Logger.Info("container id revoked", "event", "container_id_revoked", "profile", info.Profile, "id", info.Ref,
			"reason", "holder_gone")
	}
}

// handleContainerIDs lists the live ids of the profiles the caller may
// read (an id of a profile no longer served: only the daemon's user and
// root see it).
func (s *Supervisor) handleContainerIDs(w http.ResponseWriter, r *http.Request) {
	out := wire.ContainerIDList{IDs: []wire.ContainerIDInfo{}}
	if ids := s.ep.containerIDs(); ids != nil {
		may := s.mayReadName(peer(r))
		for _, info := range ids.List() {
			if may(info.Profile) {
				out.IDs = append(out.IDs, wire.ContainerIDInfo(info))
			}
		}
	}
	writeJSON(w, out)
}

// containerIDsOrError is the container listener's ids; without that
// listener it answers the request with why and returns nil.
func (s *Supervisor) containerIDsOrError(w http.ResponseWriter) *ecs.IDs {
	ids := s.ep.containerIDs()
	if ids == nil {
		writeError(w, http.StatusConflict, wire.CodeNoContainer, `this daemon has no container listener: set [ecs] container_listen = "169.254.170.2:80" (Linux)`)
	}
	return ids
}

// idRequest is the container listener's ids and the body of a call that
// names an id; false when it has answered the request itself.
func (s *Supervisor) idRequest(w http.ResponseWriter, r *http.Request) (*ecs.IDs, wire.ContainerIDRevoke, bool) {
	var req wire.ContainerIDRevoke
	ids := s.containerIDsOrError(w)
	if ids == nil || !readJSON(w, r, &req) {
		return nil, req, false
	}
	return ids, req, true
}

// handleRevokeContainerID revokes an id the caller may see.
func (s *Supervisor) handleRevokeContainerID(w http.ResponseWriter, r *http.Request) {
	ids, req, ok := s.idRequest(w, r)
	if !ok {
		return
	}
	uid := peer(r)
	info, err := ids.Revoke(req.ID, s.mayReadName(uid))
	switch {
	case errors.Is(err, ecs.ErrNoID), errors.Is(err, ecs.ErrAmbiguousID):
		writeError(w, http.StatusNotFound, wire.CodeNoSuchID, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, wire.CodeBadBody, err.Error())
		return
	}
	s.o.Logger.Info("container id revoked", "event", "container_id_revoked", "profile", info.Profile, "id", info.Ref, "uid", uid)
	writeJSON(w, wire.ContainerIDInfo(info))
}

// mayReadName says which profiles uid may read, by name; a profile this
// daemon no longer serves only the daemon's user and root may.
func (s *Supervisor) mayReadName(uid int) func(string) bool {
	cur := s.cur()
	return func(name string) bool {
		if ref := cur.refreshers[name]; ref != nil {
			return s.mayRead(uid, ref)
		}
		return s.admin(uid)
	}
}

// readJSON decodes a small JSON body into v (an empty body leaves v as it
// is), or answers 400 and returns false.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxContainerBody+1))
	if err == nil && len(b) > maxContainerBody {
		err = errors.New("too long")
	}
	if err == nil && len(b) > 0 {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, wire.CodeBadBody, "the request body is not the JSON this call takes")
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}
