package ststest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// SigninPath is where Server serves the console sign-in federation
// endpoint (https://signin.aws.amazon.com/federation in the aws
// partition): Action=getSigninToken, then Action=login.
//
// Behaviour follows the IAM User Guide, "Enable custom identity broker
// access to the AWS console": getSigninToken takes Session, the JSON
// {"sessionId","sessionKey","sessionToken"} of federation or assume-role
// credentials (session credentials are refused, aws-vault#1191), and an
// optional SessionDuration (900..43200 s, never with federation
// credentials, at most 3600 for chained role sessions); it answers
// {"SigninToken":"…"}, valid 15 minutes. login redirects to Destination.
const SigninPath = "/federation"

// signinTokenLife is how long a sign-in token can be used.
const signinTokenLife = 15 * time.Minute

// SigninRequest is one request the sign-in endpoint received. It holds no
// secret: the Session JSON is reduced to its key id and whether it matched.
type SigninRequest struct {
	Action string // getSigninToken or login
	// SessionKeyID is the Session JSON's sessionId (getSigninToken).
	SessionKeyID string
	// SessionMatched: the Session JSON had sessionId, sessionKey and
	// sessionToken, and they are credentials this handler issued.
	SessionMatched  bool
	SessionDuration string // as sent; "" when absent
	Issuer          string // login
	Destination     string // login
	SigninToken     bool   // login: the token was one this handler issued and is valid
	Status          int
}

type signinToken struct {
	keyID   string
	expires time.Time
}

// SigninRequests returns every sign-in request received, in order.
func (h *Handler) SigninRequests() []SigninRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]SigninRequest(nil), h.signins...)
}

// SigninHandler is the sign-in federation endpoint as an http.Handler.
func (h *Handler) SigninHandler() http.Handler { return http.HandlerFunc(h.serveSignin) }

func (h *Handler) serveSignin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	req := SigninRequest{Action: r.Form.Get("Action")}
	defer func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.signins = append(h.signins, req)
	}()
	switch req.Action {
	case "getSigninToken":
		req.Status = h.getSigninToken(w, r, &req)
	case "login":
		req.Status = h.login(w, r, &req)
	default:
		req.Status = http.StatusBadRequest
		http.Error(w, "unknown Action", req.Status)
	}
}

func (h *Handler) getSigninToken(w http.ResponseWriter, r *http.Request, req *SigninRequest) int {
	var s struct {
		ID    string `json:"sessionId"`
		Key   string `json:"sessionKey"`
		Token string `json:"sessionToken"`
	}
	if err := json.Unmarshal([]byte(r.Form.Get("Session")), &s); err != nil || s.ID == "" {
		return signinError(w, "Session must be the JSON {\"sessionId\",\"sessionKey\",\"sessionToken\"}")
	}
	req.SessionKeyID = s.ID
	_, durationSent := r.Form["SessionDuration"]
	req.SessionDuration = r.Form.Get("SessionDuration")
	h.mu.Lock()
	k, ok := h.keys[s.ID]
	h.mu.Unlock()
	now := h.now()
	if !ok || s.Key != k.secret || s.Token != k.token || !now.Before(k.expires) {
		return signinError(w, "The security token included in the request is invalid or expired")
	}
	req.SessionMatched = true
	if k.kind != kindFederation && k.kind != kindRole {
		return signinError(w, "Only federation tokens or assume role tokens may be used for federated login")
	}
	if durationSent {
		d, err := strconv.Atoi(req.SessionDuration)
		switch {
		case k.kind == kindFederation:
			return signinError(w, "SessionDuration cannot be used with federation tokens")
		case err != nil || d < 900 || d > 43200:
			return signinError(w, "SessionDuration must be 900..43200")
		case k.chained && d > chainedMax:
			return signinError(w, "SessionDuration exceeds the 1 hour limit of a role-chaining session")
		}
	}
	tok := randString(secretChars, 400)
	h.mu.Lock()
	h.tokens[tok] = signinToken{keyID: s.ID, expires: now.Add(signinTokenLife)}
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	b, _ := json.Marshal(map[string]string{"SigninToken": tok})
	_, _ = w.Write(b)
	return http.StatusOK
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request, req *SigninRequest) int {
	req.Issuer, req.Destination = r.Form.Get("Issuer"), r.Form.Get("Destination")
	h.mu.Lock()
	t, ok := h.tokens[r.Form.Get("SigninToken")]
	h.mu.Unlock()
	req.SigninToken = ok && h.now().Before(t.expires)
	if !req.SigninToken || req.Destination == "" {
		return signinError(w, "the sign-in token is invalid or expired, or Destination is missing")
	}
	http.Redirect(w, r, req.Destination, http.StatusFound)
	return http.StatusFound
}

// signinError answers 400 with a plain-text reason.
func signinError(w http.ResponseWriter, msg string) int {
	http.Error(w, msg, http.StatusBadRequest)
	return http.StatusBadRequest
}
