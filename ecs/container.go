package ecs

import (
	"encoding/json"
	"net/http"

	"github.com/gorilla/mux"
	"github.com/stsd/stsd/internal/httpserve"
	"github.com/stsd/stsd/internal/peercred"
	"github.com/stsd/stsd/internal/redact"
	"github.com/stsd/stsd/internal/wire"
)

// agentError is the ECS agent's error body: its handlers marshal
// {Code, Message, HTTPErrorCode} with the first two as "code" and
// "message" (amazon-ecs-agent handlers/utils ErrorMessage).
type agentError struct {
	Code          string `json:"code"`
	Message       string `json:"message"`
	HTTPErrorCode int
}

// The agent's answers to a missing and to an unknown id: 400 with
// NoIdInRequest, and 400 with InvalidIdInRequest "Credentials not found".
var (
	noIDBody      = mustJSON(agentError{"NoIdInRequest", "CredentialsV2Request: No ID in the request", http.StatusBadRequest})
	invalidIDBody = mustJSON(agentError{"InvalidIdInRequest", "CredentialsV2Request: Credentials not found", http.StatusBadRequest})
)

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func writeAgent(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", httpserve.ContentJSON)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusBadRequest)
	w.Write(body)
}

// invalidID is the one answer to every id that does not give this caller
// credentials.
func invalidID(w http.ResponseWriter, _ string) { writeAgent(w, invalidIDBody) }

// containerHandler is the container listener (169.254.170.2).
type containerHandler struct {
	src      Source
	profiles map[string]Profile
	ids      *IDs
	o        Options
	bodies   httpserve.Bodies
}

// NewContainer returns the container listener's handler: GET
// /v2/credentials/{id} as the ECS agent serves it, with no Authorization
// header: the id is the secret and names its profile. The caller must
// also be allowed to read that profile: a local caller by its uid, a
// container by its address (container_cidrs). A wrong, revoked or expired
// id, and an id whose profile this caller may not read, all get the
// agent's 400 InvalidIdInRequest, byte for byte the same; each refusal is
// logged with the id shortened.
func NewContainer(src Source, profiles []Profile, ids *IDs, o Options) http.Handler {
	o = o.withDefaults()
	h := &containerHandler{src: src, profiles: map[string]Profile{}, ids: ids, o: o}
	for _, p := range profiles {
		h.profiles[p.Name] = p.WithDefaults()
	}
	r := mux.NewRouter()
	r.SkipClean(true)
	r.NotFoundHandler = http.HandlerFunc(httpserve.NotFound)
	r.MethodNotAllowedHandler = http.HandlerFunc(httpserve.MethodNotAllowed)
	noID := func(w http.ResponseWriter, _ *http.Request) { writeAgent(w, noIDBody) }
	r.HandleFunc("/v2/credentials", noID).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/v2/credentials/", noID).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc(ContainerPath("{id}"), h.serve).Methods(http.MethodGet, http.MethodHead)
	// Order: proxy headers → Host → id → caller → handler.
	return httpserve.AccessLog(httpserve.Log{Logger: o.AccessLogger, Now: o.Now, Endpoint: "ecs", OnRequest: o.OnRequest},
		httpserve.RejectProxyHeaders(httpserve.CheckHost(r)))
}

func (h *containerHandler) serve(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	info, ok := h.ids.Lookup(id)
	p, served := h.profiles[info.Profile]
	if !ok || !served {
		reason := "unknown_id"
		if ok {
			reason = "profile_not_served"
		}
		h.o.Logger.Warn("container id refused", "event", "container_id_refused", "reason", reason,
			"id", redact.ContainerID(id), "remote", r.RemoteAddr)
		invalidID(w, "")
		return
	}
	check := peercred.Check{Log: h.o.Logger, UID: h.o.PeerUID, Container: h.o.ContainerPeer, Deny: invalidID}
	if !check.Allow(w, r, p.Rule()) {
		return
	}
	c, at, ok := httpserve.Credentials(w, r, h.src, p.Name, h.o.Now())
	if !ok {
		return
	}
	h.bodies.Get(p.Name, httpserve.ContentJSON, c, func() []byte { return wire.ContainerDocument(c) }).Write(w, at)
}
