package ststest

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Role is a role the stand-in lets callers assume (Handler.AddRole); its
// fields are the parts of the role and its trust policy AssumeRole checks.
type Role struct {
	ARN string // arn:aws:iam::ACCOUNT:role/NAME
	// MaxSessionDuration is the role's longest session; default 1h, IAM's
	// default.
	MaxSessionDuration time.Duration
	// ExternalID, if set, is the sts:ExternalId the trust policy requires.
	ExternalID string
	// RequireMFA makes the trust policy require aws:MultiFactorAuthPresent:
	// the call carries a valid SerialNumber and TokenCode, or the caller's
	// own credentials were issued with MFA.
	RequireMFA bool
}

// AddRole registers (or replaces) a role. AssumeRole on a role that was
// never added is refused like a trust policy that does not name the
// caller.
func (h *Handler) AddRole(r Role) {
	if r.MaxSessionDuration <= 0 {
		r.MaxSessionDuration = time.Hour
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.roles[r.ARN] = r
}

// AssumeRole constraints from the API model (botocore sts service-2.json).
const (
	maxRoleDuration = 43200
	// chainedMax is the 1 h cap on role sessions assumed with temporary
	// credentials (role chaining).
	chainedMax = 3600
	// defaultRoleDuration is AssumeRole's DurationSeconds default.
	defaultRoleDuration = 3600
)

var (
	externalIDPattern = regexp.MustCompile(`^[\w+=,.@:\/-]*$`)
	roleARNPattern    = regexp.MustCompile(`^arn:[\w-]+:iam::([0-9]{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)$`)
)

// errChained and errMaxSession are STS's two duration refusals; the
// wording of the first is quoted in 99designs/aws-vault#351.
var (
	errChained    = &apiError{http.StatusBadRequest, "ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."}
	errMaxSession = &apiError{http.StatusBadRequest, "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."}
	errRootRole   = &apiError{http.StatusForbidden, "AccessDenied", "Roles may not be assumed by root accounts."}
)

type assumeRoleInput struct {
	federationTokenInput // duration, policy, policyArns, tags
	roleARN, session     string
	externalID           string
	serial, code         string
	sourceIdentity       string
	transitive           []string
}

func parseAssumeRole(form url.Values) (assumeRoleInput, *apiError) {
	var v validator
	in := assumeRoleInput{}
	in.duration = defaultRoleDuration
	if _, ok := form["DurationSeconds"]; ok {
		in.duration = v.roleDuration(form.Get("DurationSeconds"))
	}
	if !v.param(form, "RoleArn", "roleArn", &in.roleARN, 20, 2048, policyPattern) {
		v.addf("Value null at 'roleArn' failed to satisfy constraint: Member must not be null")
	}
	if !v.param(form, "RoleSessionName", "roleSessionName", &in.session, 2, 64, namePattern) {
		v.addf("Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null")
	}
	v.param(form, "ExternalId", "externalId", &in.externalID, 2, 1224, externalIDPattern)
	v.param(form, "SerialNumber", "serialNumber", &in.serial, 9, 256, serialPattern)
	v.param(form, "TokenCode", "tokenCode", &in.code, 6, 6, digitsPattern)
	v.param(form, "SourceIdentity", "sourceIdentity", &in.sourceIdentity, 2, 64, namePattern)
	v.param(form, "Policy", "policy", &in.policy, 1, 2048, policyPattern)
	in.policyArns, in.tags = v.policyArnsAndTags(form)
	for _, m := range members(form, "TransitiveTagKeys") {
		k := form.Get("TransitiveTagKeys.member." + strconv.Itoa(m))
		in.transitive = append(in.transitive, k)
		v.length("transitiveTagKeys."+strconv.Itoa(m)+".member", k, 1, 128)
	}
	if len(in.transitive) > maxTags {
		v.addf("Value '[...]' at 'transitiveTagKeys' failed to satisfy constraint: Member must have length less than or equal to %d", maxTags)
	}
	if err := v.err(); err != nil {
		return in, err
	}
	return in, in.federationTokenInput.duplicateTags()
}

// roleDuration checks AssumeRole's DurationSeconds (900..43200).
func (v *validator) roleDuration(s string) int {
	n, err := strconv.Atoi(s)
	switch {
	case err != nil:
		v.addf("Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must be a number", s)
	case n < minDuration:
		v.addf("Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to %d", n, minDuration)
	case n > maxRoleDuration:
		v.addf("Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to %d", n, maxRoleDuration)
	}
	return n
}

// notAuthorized is STS's AccessDenied for AssumeRole, the same whether the
// trust policy does not name the caller, an ExternalId is missing or
// wrong, or MFA is missing (aws/aws-msk-iam-auth#108).
func notAuthorized(caller, roleARN string) *apiError {
	return &apiError{http.StatusForbidden, "AccessDenied",
		"User: " + caller + " is not authorized to perform: sts:AssumeRole on resource: " + roleARN}
}

func (h *Handler) assumeRole(w http.ResponseWriter, c call, id identity, fault Fault) {
	in, err := parseAssumeRole(c.form)
	if err != nil {
		err.write(w)
		return
	}
	role, e := h.admit(id, in)
	if e != nil {
		e.write(w)
		return
	}
	m := roleARNPattern.FindStringSubmatch(role.ARN)
	account, name := m[1], m[2]
	rid := identity{
		arn:     "arn:aws:sts::" + account + ":assumed-role/" + name + "/" + in.session,
		userID:  roleID(role.ARN) + ":" + in.session,
		account: account,
		kind:    kindRole,
		mfa:     id.mfa || in.serial != "",
		chained: id.kind.temporary(),
	}
	cr := h.issue(c, rid, h.duration(in.duration, id), fault)
	writeXML(w, assumeRoleResponse{
		Credentials:      cr,
		AssumedRoleID:    rid.userID,
		AssumedRoleARN:   rid.arn,
		PackedPolicySize: in.packedSize(),
		SourceIdentity:   in.sourceIdentity,
		RequestID:        newRequestID(),
	})
}

// admit applies the trust policy and duration limits to one call: the
// caller may assume the role (never root or a federated user), the
// ExternalId and MFA match, and the duration fits the role and the 1 h
// role-chaining cap.
func (h *Handler) admit(id identity, in assumeRoleInput) (Role, *apiError) {
	switch id.kind {
	case kindRoot:
		return Role{}, errRootRole
	case kindFederation:
		return Role{}, notAuthorized(id.arn, in.roleARN)
	}
	h.mu.Lock()
	role, ok := h.roles[in.roleARN]
	h.mu.Unlock()
	if !ok || roleARNPattern.FindStringSubmatch(role.ARN) == nil {
		return Role{}, notAuthorized(id.arn, in.roleARN)
	}
	if in.serial != "" || in.code != "" {
		if e := h.checkMFA(in.serial, in.code); e != nil {
			return Role{}, e
		}
	}
	if role.ExternalID != "" && in.externalID != role.ExternalID || role.RequireMFA && !id.mfa && in.serial == "" {
		return Role{}, notAuthorized(id.arn, in.roleARN)
	}
	switch {
	case id.kind.temporary() && in.duration > chainedMax:
		return Role{}, errChained
	case time.Duration(in.duration)*time.Second > role.MaxSessionDuration:
		return Role{}, errMaxSession
	}
	return role, nil
}

// roleID is a stable fake role unique id ("AROA" + 17 characters).
func roleID(arn string) string {
	return "AROA" + strings.TrimPrefix(userID(arn, "role"), "AIDA")
}

type assumeRoleResponse struct {
	XMLName          xml.Name       `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleResponse"`
	Credentials      credentialsXML `xml:"AssumeRoleResult>Credentials"`
	AssumedRoleID    string         `xml:"AssumeRoleResult>AssumedRoleUser>AssumedRoleId"`
	AssumedRoleARN   string         `xml:"AssumeRoleResult>AssumedRoleUser>Arn"`
	PackedPolicySize int            `xml:"AssumeRoleResult>PackedPolicySize"`
	SourceIdentity   string         `xml:"AssumeRoleResult>SourceIdentity,omitempty"`
	RequestID        string         `xml:"ResponseMetadata>RequestId"`
}
