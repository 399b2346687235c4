package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/stsd/stsd/cache"
	"github.com/stsd/stsd/internal/mfa"
	"github.com/stsd/stsd/internal/peercred"
	"github.com/stsd/stsd/internal/wire"
)

type peerKey struct{}

// withPeer records the uid of a unix-socket peer in the connection context;
// connections whose peer is unknown get -1 and may only use /livez, /readyz.
func withPeer(ctx context.Context, c net.Conn) context.Context {
	uid := -1
	if uc, ok := c.(*net.UnixConn); ok {
		if u, err := peercred.UnixUID(uc); err == nil {
			uid = u
		}
	}
	return context.WithValue(ctx, peerKey{}, uid)
}

func peer(r *http.Request) int {
	if uid, ok := r.Context().Value(peerKey{}).(int); ok {
		return uid
	}
	return -1
}

// Handler is the control API on the unix socket.
func (s *Supervisor) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+wire.PathCredentials+"{p}", s.profileOnly(s.handleCredentials))
	mux.HandleFunc("POST "+wire.PathRefresh+"{p}", s.profileOnly(s.handleRefresh))
	mux.HandleFunc("POST "+wire.PathMFA+"{p}", s.profileOnly(s.handleMFA))
	mux.HandleFunc("POST "+wire.PathExecToken+"{p}", s.profileOnly(s.handleExecToken))
	mux.HandleFunc("POST "+wire.PathContainerID+"{p}", s.profileOnly(s.handleMintContainerID))
	mux.HandleFunc("GET "+wire.PathContainerIDs, s.knownOnly(s.handleContainerIDs))
	mux.HandleFunc("POST "+wire.PathContainerRevoke, s.knownOnly(s.handleRevokeContainerID))
	mux.HandleFunc("POST "+wire.PathContainerHold, s.knownOnly(s.handleHoldContainerID))
	mux.HandleFunc("POST "+wire.PathClear+"{p}", s.adminOnly(s.handleClear))
	mux.HandleFunc("GET "+wire.PathStatus, s.adminOnly(s.handleStatus))
	mux.HandleFunc("POST "+wire.PathReload, s.adminOnly(s.handleReload))
	mux.Handle("GET /metrics", s.adminOnly(s.metrics.Registry.Handler().ServeHTTP))
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		uid := peer(r)
		s.ready(w, r, func(ref *Refresher) bool { return s.mayRead(uid, ref) })
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, wire.CodeNotFound, "unknown path "+r.URL.Path)
	})
	return mux
}

func (s *Supervisor) admin(uid int) bool { return uid >= 0 && (uid == s.uid || uid == 0) }

// mayRead: the daemon's user, root and the profile's allowed_uids may read
// a profile.
func (s *Supervisor) mayRead(uid int, ref *Refresher) bool {
	return s.admin(uid) || (uid >= 0 && slices.Contains(ref.profile.AllowedUIDs, uid))
}

func (s *Supervisor) adminOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.admin(peer(r)) {
			writeError(w, http.StatusForbidden, wire.CodeAccessDenied, "only the daemon's user or root may do this")
			return
		}
		h(w, r)
	}
}

// knownOnly admits any caller whose uid is known; the handler decides
// what each may see.
func (s *Supervisor) knownOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if peer(r) < 0 {
			writeError(w, http.StatusForbidden, wire.CodeAccessDenied, "this caller's uid is unknown")
			return
		}
		h(w, r)
	}
}

// profileOnly admits the daemon's user, root, and the profile's
// allowed_uids. An unknown profile is 404 so credential_process tries the
// next daemon.
func (s *Supervisor) profileOnly(h func(http.ResponseWriter, *http.Request, *Refresher)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("p")
		ref := s.cur().refreshers[name]
		if ref == nil {
			writeError(w, http.StatusNotFound, wire.CodeUnknownProfile, "this stsd does not serve profile "+quote(name))
			return
		}
		uid := peer(r)
		if !s.mayRead(uid, ref) {
			s.o.Logger.Warn("caller refused", "event", "caller_refused", "profile", name, "uid", uid, "path", r.URL.Path)
			writeError(w, http.StatusForbidden, wire.CodeAccessDenied, "uid not in allowed_uids of profile "+quote(name))
			return
		}
		h(w, r, ref)
	}
}

func (s *Supervisor) handleCredentials(w http.ResponseWriter, r *http.Request, ref *Refresher) {
	ctx, cancel := context.WithTimeout(r.Context(), s.o.WaitTimeout)
	defer cancel()
	snap, err := ref.Credentials(ctx)
	if err != nil {
		s.metrics.EndpointRequest.Inc("socket", strconv.Itoa(s.writeUnavailable(w, ref, err)))
		return
	}
	s.metrics.EndpointRequest.Inc("socket", "200")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(snap.output)
}

// writeUnavailable answers a request that found no valid credentials and
// returns the status it sent.
func (s *Supervisor) writeUnavailable(w http.ResponseWriter, ref *Refresher, err error) int {
	var pn *ParentNeedsMFAError
	if errors.As(err, &pn) {
		// `stsd mfa` for this profile hands the code to the ancestor.
		writeBody(w, http.StatusConflict, wire.Error{Code: wire.CodeNeedsMFA,
			Message:   "profile " + quote(ref.profile.Name) + " waits for profile " + quote(pn.Parent) + ", which needs an MFA code: run `stsd mfa " + pn.Parent + "`",
			MFAPrompt: pn.Prompt})
		return http.StatusConflict
	}
	if errors.Is(err, mfa.ErrNeeded) {
		writeBody(w, http.StatusConflict, wire.Error{Code: wire.CodeNeedsMFA,
			Message:   "profile " + quote(ref.profile.Name) + " needs an MFA code: run `stsd mfa " + ref.profile.Name + "`",
			MFAPrompt: ref.profile.MFAPrompt})
		return http.StatusConflict
	}
	writeError(w, http.StatusServiceUnavailable, wire.CodeUnavailable, "profile "+quote(ref.profile.Name)+": "+err.Error())
	return http.StatusServiceUnavailable
}

func (s *Supervisor) handleRefresh(w http.ResponseWriter, r *http.Request, ref *Refresher) {
	ref.Refresh()
	w.WriteHeader(http.StatusAccepted)
}

func (s *Supervisor) handleMFA(w http.ResponseWriter, r *http.Request, ref *Refresher) {
	// A role profile with via_profile takes its chain's code: the
	// ancestor with mfa_serial refreshes with it, and this profile follows.
	target := ref.mfaAncestor()
	if target == nil {
		writeError(w, http.StatusBadRequest, wire.CodeNoMFA, "profile "+quote(ref.profile.Name)+" has no mfa_serial")
		return
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 64))
	code := strings.TrimSpace(string(b))
	if err != nil || !mfa.Valid(code) {
		writeError(w, http.StatusBadRequest, wire.CodeInvalidCode, "an MFA code is 6 digits")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.o.WaitTimeout)
	defer cancel()
	if err := target.SubmitMFA(ctx, code); err != nil {
		code := wire.CodeMFAFailed
		if errors.Is(err, mfa.ErrCodeUsed) || mfaRejected(err) {
			code = wire.CodeMFARejected
		}
		writeError(w, http.StatusConflict, code, "profile "+quote(ref.profile.Name)+": "+err.Error())
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Supervisor) handleClear(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("p")
	ref := s.cur().refreshers[name]
	if ref == nil {
		writeError(w, http.StatusNotFound, wire.CodeUnknownProfile, "this stsd does not serve profile "+quote(name))
		return
	}
	if s.o.Store != nil {
		if err := s.o.Store.Remove(name); err != nil && !errors.Is(err, cache.ErrNotFound) {
			writeError(w, http.StatusInternalServerError, wire.CodeClearFailed, err.Error())
			return
		}
	}
	ref.Clear()
	w.WriteHeader(http.StatusAccepted)
}

func (s *Supervisor) handleReload(w http.ResponseWriter, r *http.Request) {
	err := s.Reload(r.Context(), "api")
	switch {
	case errors.Is(err, ErrNoReload):
		writeError(w, http.StatusNotImplemented, wire.CodeNoReload, err.Error()+": restart stsd to apply config changes")
	case err != nil:
		// Config errors name file:line; they hold no secrets.
		writeError(w, http.StatusUnprocessableEntity, wire.CodeInvalidConfig, strings.ReplaceAll(err.Error(), "\n", "; ")+" (the previous config keeps running)")
	default:
		w.WriteHeader(http.StatusOK)
	}
}

func (s *Supervisor) handleStatus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(s.Status())
}

// healthHandler serves /metrics, /livez and /readyz on metrics_listen
// (loopback only; no secrets on any of them).
func (s *Supervisor) healthHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.Registry.Handler())
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		s.ready(w, r, func(*Refresher) bool { return true }) // like /metrics here
	})
	return mux
}

// ready is 200 when every profile the caller may see (or those named by
// ?profile=a,b: the ones a given endpoint serves) has valid credentials.
// A named profile the caller may not see is answered exactly as an
// unknown one, so /readyz tells nobody which profiles exist.
func (s *Supervisor) ready(w http.ResponseWriter, r *http.Request, visible func(*Refresher) bool) {
	now := s.o.Clock.Now()
	var notReady []string
	cur := s.cur()
	var names []string
	if q := r.URL.Query().Get("profile"); q != "" {
		names = strings.Split(q, ",")
	} else {
		for _, name := range cur.names() {
			if visible(cur.refreshers[name]) {
				names = append(names, name)
			}
		}
	}
	for _, name := range names {
		if ref := cur.refreshers[name]; ref == nil || !visible(ref) || !ref.snap.Load().valid(now) {
			notReady = append(notReady, name)
		}
	}
	if len(notReady) > 0 {
		writeError(w, http.StatusServiceUnavailable, wire.CodeNotReady, "no valid credentials for: "+strings.Join(notReady, ", "))
		return
	}
	io.WriteString(w, "ok\n")
}

// writeError is the one way the control API reports a failure:
// {"Code":…,"Message":…}, never with a secret in it.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeBody(w, status, wire.Error{Code: code, Message: msg})
}

func writeBody(w http.ResponseWriter, status int, e wire.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(e.Body())
}

func quote(s string) string { return `"` + s + `"` }
