package ststest

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// The IAM actions the stand-in answers, in IAM's Query protocol
// (https://docs.aws.amazon.com/IAM/latest/APIReference/): the access-key
// calls a rotation makes. IAM is one global service; the same handler
// serves it so that the keys it creates work for STS calls at once (or
// after SetPropagation tries).
const (
	ActionCreateAccessKey      = "CreateAccessKey"
	ActionUpdateAccessKey      = "UpdateAccessKey"
	ActionDeleteAccessKey      = "DeleteAccessKey"
	ActionListAccessKeys       = "ListAccessKeys"
	ActionGetAccessKeyLastUsed = "GetAccessKeyLastUsed"
	ActionGetUser              = "GetUser"
	// ListMFADevices is what `stsd init` asks to find the MFA device.
	ActionListMFADevices = "ListMFADevices"
)

var iamActions = map[string]bool{
	ActionCreateAccessKey: true, ActionUpdateAccessKey: true, ActionDeleteAccessKey: true,
	ActionListAccessKeys: true, ActionGetAccessKeyLastUsed: true, ActionGetUser: true,
	ActionListMFADevices: true,
}

// DenyIAM makes every later call of an IAM action fail with 403
// AccessDenied, as IAM answers a user whose policies do not allow it.
func (h *Handler) DenyIAM(action string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.iam.denied = append(h.iam.denied, action)
}

// iamAPIVersion is the only IAM Query API version.
const iamAPIVersion = "2010-05-08"

// iamNamespace is the xmlns of every IAM response.
const iamNamespace = "https://iam.amazonaws.com/doc/2010-05-08/"

// maxAccessKeys is IAM's AccessKeysPerUser quota.
const maxAccessKeys = 2

// AccessKey is one IAM access key the stand-in knows.
type AccessKey struct {
	ID       string
	Secret   string
	Active   bool
	Created  time.Time
	LastUsed time.Time // zero: never used
}

// iamState is the IAM user's keys and the injected IAM faults. It is
// guarded by Handler.mu.
type iamState struct {
	keys        []*AccessKey
	pending     map[string]int  // key id → authentications still refused (propagation)
	propagation int             // given to each key CreateAccessKey makes
	fail        map[string]int  // action → calls still answered 500
	hang        map[string]bool // action → the next call's answer hangs
	requireMFA  bool
	denied      []string // actions DenyIAM refuses
}

func newIAMState() iamState {
	return iamState{pending: map[string]int{}, fail: map[string]int{}, hang: map[string]bool{}}
}

// AddAccessKey registers a long-term key of the IAM user, active. From
// then on the stand-in checks that key: it works while active and fails
// with InvalidClientTokenId once inactive or deleted. Keys never
// registered keep being accepted, as before IAM existed here.
func (h *Handler) AddAccessKey(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.iam.keys = append(h.iam.keys, &AccessKey{ID: id, Active: true, Created: h.now().UTC()})
}

// AccessKeys returns the IAM user's registered keys, oldest first.
func (h *Handler) AccessKeys() []AccessKey {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]AccessKey, len(h.iam.keys))
	for i, k := range h.iam.keys {
		out[i] = *k
	}
	return out
}

// ActiveKeys returns the ids of the active registered keys.
func (h *Handler) ActiveKeys() []string {
	var out []string
	for _, k := range h.AccessKeys() {
		if k.Active {
			out = append(out, k.ID)
		}
	}
	return out
}

// SetPropagation makes every key CreateAccessKey makes from now on fail
// its first n authentications with InvalidClientTokenId, as a new IAM key
// does for some seconds while it propagates.
func (h *Handler) SetPropagation(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.iam.propagation = n
}

// FailIAM makes the next n calls of an IAM action answer 500
// ServiceFailure.
func (h *Handler) FailIAM(action string, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.iam.fail[action] += n
}

// RequireMFAForIAM makes IAM refuse every caller but a GetSessionToken
// session made with an MFA code, as a policy with
// aws:MultiFactorAuthPresent does.
func (h *Handler) RequireMFAForIAM() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.iam.requireMFA = true
}

// UseKey records a use of key id now, as another copy of it elsewhere
// would.
func (h *Handler) UseKey(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if k := h.iam.find(id); k != nil {
		k.LastUsed = h.now().UTC()
	}
}

func (s *iamState) find(id string) *AccessKey {
	for _, k := range s.keys {
		if k.ID == id {
			return k
		}
	}
	return nil
}

// useLocked checks a registered long-term key for a call and records its
// use; unregistered keys pass.
func (s *iamState) useLocked(id string, now time.Time) *apiError {
	k := s.find(id)
	if k == nil {
		return nil
	}
	if s.pending[id] > 0 {
		s.pending[id]--
		return errInvalidToken
	}
	if !k.Active {
		return errInvalidToken
	}
	k.LastUsed = now.UTC()
	return nil
}

var (
	errIAMLimit   = &apiError{http.StatusConflict, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2"}
	errIAMFailure = &apiError{http.StatusInternalServerError, "ServiceFailure", "Request processing has failed due to an unknown error, exception or failure."}
)

func iamNoSuchKey(id string) *apiError {
	return &apiError{http.StatusNotFound, "NoSuchEntity", "The Access Key with id " + id + " cannot be found."}
}

// serveIAM answers one IAM call after authenticating its caller.
func (h *Handler) serveIAM(w http.ResponseWriter, c call) {
	id, e := h.authenticate(c)
	if e == nil {
		e = h.iamAllowed(c, id)
	}
	if e != nil {
		writeIAMError(w, e)
		return
	}
	v, e, hang := h.iamCall(c)
	if hang {
		// The call took effect; its answer is never sent (a crash or a
		// lost connection on the caller's side).
		h.iamHanging.Add(1)
		<-h.done
		panic(http.ErrAbortHandler)
	}
	if e != nil {
		writeIAMError(w, e)
		return
	}
	writeIAMXML(w, c.action, v)
}

// iamCall performs c under the lock, reporting whether its answer is to
// hang.
func (h *Handler) iamCall(c call) (any, *apiError, bool) {
	user := c.form.Get("UserName")
	if user == "" {
		user = h.user
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.iam.fail[c.action] > 0 {
		h.iam.fail[c.action]--
		return nil, errIAMFailure, false
	}
	if user != h.user {
		return nil, &apiError{http.StatusNotFound, "NoSuchEntity", "The user with name " + user + " cannot be found."}, false
	}
	v, e := h.iamAnswerLocked(c, user)
	hang := h.iam.hang[c.action]
	if hang {
		delete(h.iam.hang, c.action)
	}
	return v, e, hang
}

// HangIAM makes the next call of an IAM action take effect and then send
// no answer until the handler is closed: what a caller killed mid-call
// leaves behind.
func (h *Handler) HangIAM(action string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.iam.hang[action] = true
}

// IAMHanging returns how many IAM calls are hanging (HangIAM).
func (h *Handler) IAMHanging() int { return int(h.iamHanging.Load()) }

// iamAllowed says why IAM refuses an authenticated caller: federation
// sessions never reach IAM, sessions must name the user, and a policy
// requiring MFA refuses everything else.
func (h *Handler) iamAllowed(c call, id identity) *apiError {
	notAuthorized := &apiError{http.StatusForbidden, "AccessDenied", "User: " + id.arn + " is not authorized to perform: iam:" + c.action + " on resource: user " + h.user}
	switch {
	case id.kind == kindFederation:
		return notAuthorized
	case c.token != "" && c.form.Get("UserName") == "" && c.action != ActionGetAccessKeyLastUsed:
		return &apiError{http.StatusBadRequest, "ValidationError", "Must specify userName when calling with non-User credentials"}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if slices.Contains(h.iam.denied, c.action) {
		notAuthorized.message += " because no identity-based policy allows the iam:" + c.action + " action"
		return notAuthorized
	}
	if h.iam.requireMFA && !id.mfa {
		notAuthorized.message += " with an explicit deny in an identity-based policy"
		return notAuthorized
	}
	return nil
}

// iamAnswerLocked performs the call and returns its Result element.
func (h *Handler) iamAnswerLocked(c call, user string) (any, *apiError) {
	s := &h.iam
	keyID := c.form.Get("AccessKeyId")
	switch c.action {
	case ActionCreateAccessKey:
		if len(s.keys) >= maxAccessKeys {
			return nil, errIAMLimit
		}
		k := &AccessKey{ID: "AKIAFAKE" + randString(upperDigits, 12), Secret: randString(secretChars, 40), Active: true, Created: c.now.UTC()}
		s.keys = append(s.keys, k)
		if s.propagation > 0 {
			s.pending[k.ID] = s.propagation
		}
		return createAccessKeyResult{UserName: user, AccessKeyID: k.ID, Status: "Active", Secret: k.Secret, CreateDate: formatTime(k.Created)}, nil
	case ActionUpdateAccessKey:
		k := s.find(keyID)
		if k == nil {
			return nil, iamNoSuchKey(keyID)
		}
		switch st := c.form.Get("Status"); st {
		case "Active", "Inactive":
			k.Active = st == "Active"
		default:
			return nil, &apiError{http.StatusBadRequest, "ValidationError", fmt.Sprintf("1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]", st)}
		}
		return nil, nil
	case ActionDeleteAccessKey:
		i := slices.IndexFunc(s.keys, func(k *AccessKey) bool { return k.ID == keyID })
		if i < 0 {
			return nil, iamNoSuchKey(keyID)
		}
		s.keys = slices.Delete(s.keys, i, i+1)
		h.revoked[keyID] = true
		return nil, nil
	case ActionListAccessKeys:
		res := listAccessKeysResult{UserName: user}
		for _, k := range s.keys {
			res.Keys = append(res.Keys, accessKeyMetadata{UserName: user, AccessKeyID: k.ID, Status: status(k.Active), CreateDate: formatTime(k.Created)})
		}
		return res, nil
	case ActionGetAccessKeyLastUsed:
		k := s.find(keyID)
		if k == nil {
			return nil, &apiError{http.StatusForbidden, "AccessDenied", "User is not authorized to perform: iam:GetAccessKeyLastUsed on resource: access key " + keyID}
		}
		res := lastUsedResult{UserName: user, Region: "N/A", ServiceName: "N/A"}
		if !k.LastUsed.IsZero() {
			res.Region, res.ServiceName, res.LastUsedDate = "us-east-1", "sts", formatTime(k.LastUsed)
		}
		return res, nil
	case ActionListMFADevices:
		return listMFADevicesResult{Devices: h.mfaDevicesLocked(user)}, nil
	default: // GetUser
		return getUserResult{Path: "/", UserName: user, UserID: userID(h.account, user), Arn: h.userARN(), CreateDate: formatTime(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))}, nil
	}
}

func status(active bool) string {
	if active {
		return "Active"
	}
	return "Inactive"
}

type createAccessKeyResult struct {
	UserName    string `xml:"AccessKey>UserName"`
	AccessKeyID string `xml:"AccessKey>AccessKeyId"`
	Status      string `xml:"AccessKey>Status"`
	Secret      string `xml:"AccessKey>SecretAccessKey"`
	CreateDate  string `xml:"AccessKey>CreateDate"`
}

type accessKeyMetadata struct {
	UserName    string `xml:"UserName"`
	AccessKeyID string `xml:"AccessKeyId"`
	Status      string `xml:"Status"`
	CreateDate  string `xml:"CreateDate"`
}

type listAccessKeysResult struct {
	UserName    string              `xml:"UserName"`
	Keys        []accessKeyMetadata `xml:"AccessKeyMetadata>member"`
	IsTruncated bool                `xml:"IsTruncated"`
}

type lastUsedResult struct {
	UserName     string `xml:"UserName"`
	LastUsedDate string `xml:"AccessKeyLastUsed>LastUsedDate,omitempty"`
	ServiceName  string `xml:"AccessKeyLastUsed>ServiceName"`
	Region       string `xml:"AccessKeyLastUsed>Region"`
}

type mfaDeviceXML struct {
	UserName     string `xml:"UserName"`
	SerialNumber string `xml:"SerialNumber"`
	EnableDate   string `xml:"EnableDate"`
}

type listMFADevicesResult struct {
	IsTruncated bool           `xml:"IsTruncated"`
	Devices     []mfaDeviceXML `xml:"MFADevices>member"`
}

// mfaDevicesLocked lists the devices SetMFA registered, in serial order.
func (h *Handler) mfaDevicesLocked(user string) []mfaDeviceXML {
	var out []mfaDeviceXML
	for serial, d := range h.mfa {
		out = append(out, mfaDeviceXML{UserName: user, SerialNumber: serial, EnableDate: d.enabled.UTC().Format(time.RFC3339)})
	}
	slices.SortFunc(out, func(a, b mfaDeviceXML) int { return strings.Compare(a.SerialNumber, b.SerialNumber) })
	return out
}

type getUserResult struct {
	Path       string `xml:"User>Path"`
	UserName   string `xml:"User>UserName"`
	UserID     string `xml:"User>UserId"`
	Arn        string `xml:"User>Arn"`
	CreateDate string `xml:"User>CreateDate"`
}

// iamResponse is <ActionResponse> holding <ActionResult> (absent for the
// calls that return nothing) and the request id, as IAM answers.
type iamResponse struct {
	XMLName   xml.Name
	Result    any    `xml:",omitempty"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

func writeIAMXML(w http.ResponseWriter, action string, result any) {
	resp := iamResponse{XMLName: xml.Name{Space: iamNamespace, Local: action + "Response"}, RequestID: newRequestID()}
	if result != nil {
		resp.Result = iamResult{XMLName: xml.Name{Local: action + "Result"}, V: result}
	}
	writeXMLStatus(w, http.StatusOK, resp)
}

type iamResult struct {
	XMLName xml.Name
	V       any
}

// MarshalXML writes the result element with V's fields inside it.
func (r iamResult) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	start.Name = r.XMLName
	return e.EncodeElement(r.V, start)
}

type iamErrorResponse struct {
	XMLName   xml.Name `xml:"https://iam.amazonaws.com/doc/2010-05-08/ ErrorResponse"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

// writeIAMError writes IAM's ErrorResponse shape (IAM's namespace; Type
// Receiver for 5xx).
func writeIAMError(w http.ResponseWriter, e *apiError) {
	typ := "Sender"
	if e.status >= 500 {
		typ = "Receiver"
	}
	writeXMLStatus(w, e.status, iamErrorResponse{Type: typ, Code: e.code, Message: e.message, RequestID: newRequestID()})
}
