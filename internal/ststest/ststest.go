// Package ststest provides an in-process AWS STS stand-in that speaks the
// real Query/XML protocol (GetSessionToken, GetFederationToken, AssumeRole,
// GetCallerIdentity, IAM's ListMFADevices) and the console sign-in
// federation endpoint for tests and demos.
//
// The stand-in reads the caller's access key id from the SigV4
// Authorization header (or a presigned X-Amz-Credential) but never verifies
// the signature: it does not know any secret. Any long-term key is accepted
// as the configured IAM user unless it was registered with SetRoot or
// revoked with RevokeKey; temporary keys are accepted only if this handler
// issued them, with their session token, before they expire.
//
// Behaviour follows the STS API reference:
// https://docs.aws.amazon.com/STS/latest/APIReference/API_GetSessionToken.html
// https://docs.aws.amazon.com/STS/latest/APIReference/API_GetFederationToken.html
// https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
package ststest

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stsd/stsd/internal/httpserve"
	"github.com/stsd/stsd/internal/redact"
)

// Actions the stand-in answers.
const (
	ActionGetSessionToken    = "GetSessionToken"
	ActionGetFederationToken = "GetFederationToken"
	ActionGetCallerIdentity  = "GetCallerIdentity"
	ActionAssumeRole         = "AssumeRole"
)

// apiVersion is the only STS Query API version.
const apiVersion = "2011-06-15"

// Defaults for a zero Options.
const (
	DefaultAccount  = "123456789012"
	DefaultUserName = "alice"
)

// Options configure a stand-in. Zero values mean defaults.
type Options struct {
	// Lifetime, if set, is the life of every issued credential, whatever
	// DurationSeconds asks. Otherwise DurationSeconds (default 43200) is
	// used, capped at 3600 for root keys.
	Lifetime time.Duration
	// Now is the clock for expirations and Request.Time; default time.Now.
	Now func() time.Time
	// Account is the 12-digit account id; default DefaultAccount.
	Account string
	// UserName is the IAM user every long-term key belongs to (caller ARN
	// arn:aws:iam::<Account>:user/<UserName>); default DefaultUserName.
	UserName string
	// Latency is an optional delay before each call is answered.
	Latency time.Duration
	// Logger, if set, gets one line per call: action, redacted key id and
	// HTTP status. Secrets are never logged. Default: no logging.
	Logger *slog.Logger
}

// Request is one request the stand-in received.
type Request struct {
	Action string
	// Params are the form/query parameters except X-Amz-* (which may carry
	// a session token). They never contain secrets.
	Params       url.Values
	AccessKeyID  string // from the SigV4 credential scope; "" if unsigned
	SessionToken bool   // the request carried X-Amz-Security-Token
	Time         time.Time
}

// kind is what sort of principal a key stands for.
type kind int

const (
	kindUser       kind = iota // an IAM user's long-term key
	kindRoot                   // the account root's long-term key
	kindSession                // GetSessionToken credentials
	kindFederation             // GetFederationToken credentials
	kindRole                   // AssumeRole credentials
)

// temporary reports whether k is STS-issued credentials.
func (k kind) temporary() bool { return k >= kindSession }

// identity is who a key belongs to.
type identity struct {
	arn     string
	userID  string
	account string // "" = the handler's
	kind    kind
	mfa     bool // the credentials were issued with MFA (aws:MultiFactorAuthPresent)
	// chained: role credentials obtained with temporary credentials.
	chained bool
}

// issued is a temporary key handed out by this handler.
type issued struct {
	identity
	secret  string
	token   string
	expires time.Time
}

// Handler is the STS stand-in as an http.Handler. It is safe for
// concurrent use.
type Handler struct {
	now     func() time.Time
	account string
	user    string
	log     *slog.Logger

	done       chan struct{} // closed by Close: releases hanging calls
	closeOnce  sync.Once
	iamHanging atomic.Int32 // IAM calls held by HangIAM

	mu        sync.Mutex // guards the fields that follow
	lifetime  time.Duration
	latency   time.Duration
	requests  []Request
	calls     map[string]int
	queue     []Fault
	sticky    Fault
	roots     map[string]bool
	revoked   map[string]bool
	mfa       map[string]*mfaDevice
	keys      map[string]issued
	roles     map[string]Role
	denyNoMFA bool
	signins   []SigninRequest
	tokens    map[string]signinToken
	iam       iamState
}

// mfaDevice is a registered MFA device.
type mfaDevice struct {
	code    string
	used    map[string]bool
	enabled time.Time // when SetMFA first registered it (ListMFADevices)
}

// NewHandler returns a stand-in configured by o. Create it inside a
// synctest bubble when the bubble drives it through RoundTripper, so that a
// hanging call blocks durably.
func NewHandler(o Options) *Handler {
	h := &Handler{
		now:      o.Now,
		account:  o.Account,
		user:     o.UserName,
		log:      o.Logger,
		done:     make(chan struct{}),
		lifetime: o.Lifetime,
		latency:  o.Latency,
		calls:    map[string]int{},
		roots:    map[string]bool{},
		revoked:  map[string]bool{},
		mfa:      map[string]*mfaDevice{},
		keys:     map[string]issued{},
		roles:    map[string]Role{},
		tokens:   map[string]signinToken{},
		iam:      newIAMState(),
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.account == "" {
		h.account = DefaultAccount
	}
	if h.user == "" {
		h.user = DefaultUserName
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h
}

// Close releases every call blocked by FaultHang or Latency (their
// connections are aborted) and makes later ones return at once. The
// handler still answers other calls.
func (h *Handler) Close() {
	h.closeOnce.Do(func() { close(h.done) })
}

// Calls returns how many GetSessionToken, GetFederationToken and AssumeRole
// calls were answered, faulted ones included.
func (h *Handler) Calls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls[ActionGetSessionToken] + h.calls[ActionGetFederationToken] + h.calls[ActionAssumeRole]
}

// CallsOf returns how many calls with this Action were answered.
func (h *Handler) CallsOf(action string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls[action]
}

// Requests returns every request received, in order.
func (h *Handler) Requests() []Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Request, len(h.requests))
	for i, r := range h.requests {
		r.Params = cloneValues(r.Params)
		out[i] = r
	}
	return out
}

// Fail queues faults: each of the next len(faults) token calls
// (GetSessionToken, GetFederationToken, AssumeRole) gets one, in order. A queued fault
// is used up by the next token call whatever it carries; FaultExpired and
// FaultFarFuture only change a successful answer.
func (h *Handler) Fail(faults ...Fault) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.queue = append(h.queue, faults...)
}

// FailAll makes every token call get f until Clear. Queued faults go first.
func (h *Handler) FailAll(f Fault) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sticky = f
}

// Clear drops queued and sticky faults.
func (h *Handler) Clear() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.queue = nil
	h.sticky = 0
}

// SetLifetime changes Options.Lifetime; 0 restores DurationSeconds.
func (h *Handler) SetLifetime(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lifetime = d
}

// SetLatency changes Options.Latency.
func (h *Handler) SetLatency(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.latency = d
}

// SetMFA registers an MFA device and its currently valid code. Each code
// is accepted once per serial; calling SetMFA again arms code afresh.
func (h *Handler) SetMFA(serial, code string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	d := h.mfa[serial]
	if d == nil {
		d = &mfaDevice{used: map[string]bool{}, enabled: h.now()}
		h.mfa[serial] = d
	}
	d.code = code
	delete(d.used, code)
}

// SetRoot marks a long-term key as the account root's: GetCallerIdentity
// answers arn:aws:iam::<acct>:root and DurationSeconds is silently capped
// at 3600, as STS does.
func (h *Handler) SetRoot(accessKeyID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.roots[accessKeyID] = true
}

// DenyWithoutMFA gives the IAM user a "deny unless MFA" policy for
// GetFederationToken, which cannot carry an MFA code: every such call
// answers AccessDenied with an explicit deny.
func (h *Handler) DenyWithoutMFA() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.denyNoMFA = true
}

// RevokeKey makes every call signed with accessKeyID fail with 403
// InvalidClientTokenId.
func (h *Handler) RevokeKey(accessKeyID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.revoked[accessKeyID] = true
}

// call is one request being answered.
type call struct {
	action string
	form   url.Values
	akid   string
	token  string
	now    time.Time
}

// ServeHTTP answers one STS Query request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &httpserve.StatusWriter{ResponseWriter: w}
	c := call{now: h.now()}
	defer func() {
		h.log.Info("sts call", "action", c.action, "akid", redact.KeyID(c.akid), "status", sw.Status)
	}()
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		writeError(sw, http.StatusMethodNotAllowed, "InvalidAction", "Only GET and POST are supported.")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(sw, http.StatusBadRequest, "MalformedQueryString", "The query string could not be parsed.")
		return
	}
	c.form = r.Form
	c.action = r.Form.Get("Action")
	c.akid, c.token = credentialOf(r)
	fault, latency := h.record(c)

	if latency > 0 {
		if !h.sleep(r.Context(), latency) {
			panic(http.ErrAbortHandler)
		}
		c.now = h.now() // answers are dated when sent
	}
	if h.serveFault(r.Context(), sw, c, fault) {
		return
	}
	h.serve(sw, c, fault)
}

// record logs the request and picks its fault.
func (h *Handler) record(c call) (Fault, time.Duration) {
	params := url.Values{}
	for k, v := range c.form {
		if !strings.HasPrefix(strings.ToLower(k), "x-amz-") {
			params[k] = append([]string(nil), v...)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests = append(h.requests, Request{
		Action:       c.action,
		Params:       params,
		AccessKeyID:  c.akid,
		SessionToken: c.token != "",
		Time:         c.now,
	})
	h.calls[c.action]++
	var f Fault
	if isIssuingAction(c.action) {
		if len(h.queue) > 0 {
			f, h.queue = h.queue[0], h.queue[1:]
		} else {
			f = h.sticky
		}
	}
	return f, h.latency
}

// serve answers a request that carries no error fault.
func (h *Handler) serve(w http.ResponseWriter, c call, fault Fault) {
	if v := c.form.Get("Version"); v != "" && v != apiVersion && !(iamActions[c.action] && v == iamAPIVersion) {
		writeError(w, http.StatusBadRequest, "InvalidAction", "Could not find operation "+c.action+" for version "+v)
		return
	}
	switch c.action {
	case "":
		writeError(w, http.StatusBadRequest, "MissingAction", "Missing Action")
		return
	case ActionGetSessionToken, ActionGetFederationToken, ActionGetCallerIdentity, ActionAssumeRole:
	default:
		if iamActions[c.action] {
			h.serveIAM(w, c)
			return
		}
		writeError(w, http.StatusBadRequest, "InvalidAction", "Could not find operation "+c.action+" for version "+apiVersion)
		return
	}
	id, e := h.authenticate(c)
	if e != nil {
		e.write(w)
		return
	}
	switch c.action {
	case ActionGetCallerIdentity:
		account := id.account
		if account == "" {
			account = h.account
		}
		writeXML(w, callerIdentityResponse{Arn: id.arn, UserID: id.userID, Account: account, RequestID: newRequestID()})
	case ActionGetSessionToken:
		h.getSessionToken(w, c, id, fault)
	case ActionGetFederationToken:
		h.getFederationToken(w, c, id, fault)
	case ActionAssumeRole:
		h.assumeRole(w, c, id, fault)
	}
}

// authenticate resolves the caller, or says why STS would refuse it.
func (h *Handler) authenticate(c call) (identity, *apiError) {
	if c.akid == "" {
		return identity{}, &apiError{http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token"}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.revoked[c.akid] {
		return identity{}, errInvalidToken
	}
	if e := h.iam.useLocked(c.akid, c.now); e != nil {
		return identity{}, e
	}
	if c.token != "" && isTokenAction(c.action) {
		// https://github.com/aws/aws-sdk-net/issues/1704: STS refuses session
		// credentials for both token actions.
		return identity{}, &apiError{http.StatusForbidden, "AccessDenied", "Cannot call " + c.action + " with session credentials"}
	}
	if k, ok := h.keys[c.akid]; ok {
		if c.token != k.token {
			return identity{}, errInvalidToken
		}
		if !c.now.Before(k.expires) {
			return identity{}, &apiError{http.StatusForbidden, "ExpiredToken", "The security token included in the request is expired"}
		}
		return k.identity, nil
	}
	if c.token != "" || strings.HasPrefix(c.akid, "ASIA") {
		return identity{}, errInvalidToken
	}
	if h.roots[c.akid] {
		return identity{arn: "arn:aws:iam::" + h.account + ":root", userID: h.account, kind: kindRoot}, nil
	}
	return identity{arn: h.userARN(), userID: userID(h.account, h.user), kind: kindUser}, nil
}

func (h *Handler) userARN() string {
	return "arn:aws:iam::" + h.account + ":user/" + h.user
}

// duration picks the credential lifetime for a validated request.
func (h *Handler) duration(requested int, id identity) time.Duration {
	h.mu.Lock()
	lifetime := h.lifetime
	h.mu.Unlock()
	if lifetime > 0 {
		return lifetime
	}
	// Account root sessions are limited to one hour; a longer request
	// "defaults to one hour" rather than failing (API_GetSessionToken).
	if id.kind == kindRoot && requested > 3600 {
		requested = 3600
	}
	return time.Duration(requested) * time.Second
}

// issue mints and remembers a new temporary credential for id.
func (h *Handler) issue(c call, id identity, d time.Duration, fault Fault) credentialsXML {
	exp := c.now.Add(d)
	switch fault {
	case FaultExpired:
		exp = c.now.Add(-time.Minute)
	case FaultFarFuture:
		exp = c.now.AddDate(10, 0, 0)
	}
	cr := credentialsXML{
		AccessKeyID:     "ASIAFAKE" + randString(upperDigits, 12),
		SecretAccessKey: randString(secretChars, 40),
		SessionToken:    randString(secretChars, 356),
		Expiration:      formatTime(exp),
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.keys[cr.AccessKeyID] = issued{identity: id, secret: cr.SecretAccessKey, token: cr.SessionToken, expires: exp}
	return cr
}

func (h *Handler) getSessionToken(w http.ResponseWriter, c call, id identity, fault Fault) {
	in, err := parseGetSessionToken(c.form)
	if err != nil {
		err.write(w)
		return
	}
	if in.serial != "" || in.code != "" {
		if e := h.checkMFA(in.serial, in.code); e != nil {
			e.write(w)
			return
		}
		id.mfa = true
	}
	sid := id
	sid.kind, sid.mfa = kindSession, in.serial != ""
	cr := h.issue(c, sid, h.duration(in.duration, id), fault)
	writeXML(w, sessionTokenResponse{Credentials: cr, RequestID: newRequestID()})
}

// checkMFA consumes a one-time code. Which error STS returns when only one
// of SerialNumber/TokenCode is sent is unverified; both refuse with
// AccessDenied, like a wrong code.
func (h *Handler) checkMFA(serial, code string) *apiError {
	h.mu.Lock()
	defer h.mu.Unlock()
	d := h.mfa[serial]
	if serial == "" || d == nil {
		return errMFAUnknown
	}
	// A code that was already used is refused like a wrong one
	// (https://github.com/aws/aws-cli/issues/2279).
	if code == "" || code != d.code || d.used[code] {
		return errMFACode
	}
	d.used[code] = true
	return nil
}

func (h *Handler) getFederationToken(w http.ResponseWriter, c call, id identity, fault Fault) {
	in, err := parseGetFederationToken(c.form)
	if err != nil {
		err.write(w)
		return
	}
	h.mu.Lock()
	deny := h.denyNoMFA
	h.mu.Unlock()
	if deny {
		writeError(w, http.StatusForbidden, "AccessDenied", "User: "+id.arn+" is not authorized to perform: sts:GetFederationToken on resource: arn:aws:sts::"+h.account+":federated-user/"+in.name+" with an explicit deny in an identity-based policy")
		return
	}
	size := in.packedSize()
	if size > 100 {
		writeError(w, http.StatusBadRequest, "PackedPolicyTooLarge",
			fmt.Sprintf("Packed policy consumes %d%% of allotted space, please use smaller policy for user.", size))
		return
	}
	fed := identity{
		arn:    "arn:aws:sts::" + h.account + ":federated-user/" + in.name,
		userID: h.account + ":" + in.name,
		kind:   kindFederation,
	}
	cr := h.issue(c, fed, h.duration(in.duration, id), fault)
	writeXML(w, federationTokenResponse{
		Credentials:      cr,
		FederatedUserID:  fed.userID,
		FederatedUserARN: fed.arn,
		PackedPolicySize: size,
		RequestID:        newRequestID(),
	})
}

// sleep waits d, or returns false if ctx ends or the handler closes.
func (h *Handler) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-h.done:
		return false
	}
}

// isTokenAction is an action STS refuses with session credentials.
func isTokenAction(a string) bool {
	return a == ActionGetSessionToken || a == ActionGetFederationToken
}

// isIssuingAction is an action that mints credentials: the ones faults
// and Calls count.
func isIssuingAction(a string) bool { return isTokenAction(a) || a == ActionAssumeRole }

// credentialOf returns the access key id from the SigV4 credential scope
// (Authorization header or presigned query) and the session token, if any.
func credentialOf(r *http.Request) (akid, token string) {
	token = r.Header.Get("X-Amz-Security-Token")
	if token == "" {
		token = r.URL.Query().Get("X-Amz-Security-Token")
	}
	if a := r.Header.Get("Authorization"); a != "" {
		return parseAuthorization(a), token
	}
	if cred := r.URL.Query().Get("X-Amz-Credential"); cred != "" {
		return scopeKey(cred), token
	}
	return "", token
}

// parseAuthorization extracts the access key id from a header like
// "AWS4-HMAC-SHA256 Credential=AKID/20260102/us-east-1/sts/aws4_request,
// SignedHeaders=..., Signature=...". It returns "" if there is none.
func parseAuthorization(v string) string {
	alg, rest, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || alg != "AWS4-HMAC-SHA256" {
		return ""
	}
	for part := range strings.SplitSeq(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && k == "Credential" {
			return scopeKey(val)
		}
	}
	return ""
}

// scopeKey returns the key id of "AKID/date/region/service/aws4_request".
func scopeKey(scope string) string {
	parts := strings.Split(scope, "/")
	if len(parts) != 5 || parts[0] == "" || parts[4] != "aws4_request" {
		return ""
	}
	return parts[0]
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
