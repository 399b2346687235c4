package wire

import (
	"encoding/json"
	"time"
)

// Control API paths on the daemon's unix socket. A profile follows the
// per-profile ones as one escaped path segment.
const (
	PathCredentials = "/v1/credentials/" // GET: the credential_process bytes
	PathRefresh     = "/v1/refresh/"     // POST: refresh now
	PathMFA         = "/v1/mfa/"         // POST: an MFA code as the body
	PathExecToken   = "/v1/exec-token/"  // POST: an ECS token held while the request is
	PathClear       = "/v1/clear/"       // POST: drop the cached credentials
	PathStatus      = "/v1/status"       // GET
	PathReload      = "/v1/reload"       // POST

	PathContainerID     = "/v1/container-id/"       // POST {p}: mint a container id (ContainerIDRequest)
	PathContainerIDs    = "/v1/container-ids"       // GET: the ids the caller may see (ContainerIDList), shortened
	PathContainerRevoke = "/v1/container-id-revoke" // POST: revoke an id (ContainerIDRevoke)
	PathContainerHold   = "/v1/container-id-hold"   // POST: hold a live id again (ContainerIDRevoke's body), after a daemon restart
)

// Error codes of the control API's {"Code","Message"} bodies.
const (
	CodeNeedsMFA       = "NeedsMFA" // 409, with MFAPrompt naming the prompt backend
	CodeUnknownProfile = "UnknownProfile"
	CodeAccessDenied   = "AccessDenied"
	CodeUnavailable    = "CredentialsUnavailable"
	CodeNotFound       = "NotFound"
	CodeNotReady       = "NotReady"
	CodeNoECS          = "NoECS"
	CodeNoMFA          = "NoMFA"
	CodeInvalidCode    = "InvalidCode"
	CodeMFAFailed      = "MFAFailed"
	CodeMFARejected    = "MFARejected"
	CodeClearFailed    = "ClearFailed"
	CodeNoReload       = "NoReload"
	CodeInvalidConfig  = "InvalidConfig"
	CodeBadBody        = "BadBody"
	CodeNoContainer    = "NoContainerListener"
	CodeNoSuchID       = "NoSuchContainerID"
)

// Error is the control API's error body. Message never holds a secret.
type Error struct {
	Code      string
	Message   string
	MFAPrompt string `json:",omitempty"` // with CodeNeedsMFA: the mfa_prompt backend
}

// Body is e as JSON, with a newline.
func (e Error) Body() []byte {
	b, _ := json.Marshal(e) // strings always marshal
	return append(b, '\n')
}

// DecodeError reads an error body; a body that is not one gives the zero
// Error.
func DecodeError(body []byte) Error {
	var e Error
	_ = json.Unmarshal(body, &e)
	return e
}

// ExecTokenReply is the first and only line POST /v1/exec-token/{p}
// writes before it holds the connection open: the token is valid while
// the connection is.
type ExecTokenReply struct {
	Token      string    `json:"token"`
	URL        string    `json:"url"` // AWS_CONTAINER_CREDENTIALS_FULL_URI
	Region     string    `json:"region"`
	Expiration time.Time `json:"expiration"` // of the current credentials
}

// ContainerIDRequest is the body of POST /v1/container-id/{p}.
type ContainerIDRequest struct {
	TTL string `json:"ttl,omitempty"` // a Go duration; "" = the default (12h)
	// Hold: the reply is written as one line and the response held open;
	// the daemon revokes the id when that connection closes (its holder
	// ended, however), but not when the daemon itself stops: the id then
	// lives on to its expiry and can be held again (PathContainerHold).
	Hold bool `json:"hold,omitempty"`
}

// ContainerIDReply answers POST /v1/container-id/{p}: the id, shown this
// once (only its hash is kept).
type ContainerIDReply struct {
	ID      string    `json:"id"`
	Ref     string    `json:"ref"` // the id shortened, as lists show it
	URI     string    `json:"uri"` // AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
	Profile string    `json:"profile"`
	Region  string    `json:"region"`
	Expires time.Time `json:"expires"`
}

// ContainerIDInfo is one id in a list, without the id.
type ContainerIDInfo struct {
	Ref     string    `json:"ref"`
	Profile string    `json:"profile"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

// ContainerIDList answers GET /v1/container-ids.
type ContainerIDList struct {
	IDs []ContainerIDInfo `json:"ids"`
}

// ContainerIDRevoke is the body of POST /v1/container-id-revoke: the
// whole id, or the shortened form a list shows.
type ContainerIDRevoke struct {
	ID string `json:"id"`
}
