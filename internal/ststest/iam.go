package ststest

import (
	"cmp"
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// IAM actions the stand-in answers, at IAM's own Query API version and
// namespace. Point the SDK's IAM client at the same URL
// (AWS_ENDPOINT_URL_IAM).
// https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListMFADevices.html
const (
	ActionListMFADevices = "ListMFADevices"

	iamAPIVersion = "2010-05-08"
	iamNamespace  = "https://iam.amazonaws.com/doc/2010-05-08/"
)

func isIAMAction(a string) bool { return a == ActionListMFADevices }

// DenyIAM makes every later call of an IAM action fail with 403
// AccessDenied, as IAM answers a user whose policies do not allow it.
func (h *Handler) DenyIAM(action string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.iamDenied = append(h.iamDenied, action)
}

type mfaDeviceXML struct {
	UserName     string `xml:"UserName"`
	SerialNumber string `xml:"SerialNumber"`
	EnableDate   string `xml:"EnableDate"`
}

type listMFADevicesResponse struct {
	XMLName     xml.Name       `xml:"https://iam.amazonaws.com/doc/2010-05-08/ ListMFADevicesResponse"`
	IsTruncated bool           `xml:"ListMFADevicesResult>IsTruncated"`
	Devices     []mfaDeviceXML `xml:"ListMFADevicesResult>MFADevices>member"`
	RequestID   string         `xml:"ResponseMetadata>RequestId"`
}

type iamErrorResponse struct {
	XMLName   xml.Name `xml:"https://iam.amazonaws.com/doc/2010-05-08/ ErrorResponse"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

// serveIAM answers an IAM Query request.
func (h *Handler) serveIAM(w http.ResponseWriter, c call) {
	if v := c.form.Get("Version"); v != iamAPIVersion {
		iamError(w, http.StatusBadRequest, "InvalidAction", fmt.Sprintf("Could not find operation %s for version %s", c.action, v))
		return
	}
	id, e := h.authenticate(c)
	if e != nil {
		iamError(w, e.status, e.code, e.message)
		return
	}
	h.mu.Lock()
	denied := slices.Contains(h.iamDenied, c.action)
	h.mu.Unlock()
	if denied || id.kind == kindRoot && c.form.Get("UserName") == "" {
		iamError(w, http.StatusForbidden, "AccessDenied", fmt.Sprintf("User: %s is not authorized to perform: iam:%s on resource: user %s because no identity-based policy allows the iam:%s action", id.arn, c.action, h.user, c.action))
		return
	}
	if u := c.form.Get("UserName"); u != "" && u != h.user {
		iamError(w, http.StatusNotFound, "NoSuchEntity", "The user with name "+u+" cannot be found.")
		return
	}
	writeIAM(w, http.StatusOK, listMFADevicesResponse{Devices: h.mfaDevices(), RequestID: newRequestID()})
}

// mfaDevices lists the devices SetMFA registered, in serial order.
func (h *Handler) mfaDevices() []mfaDeviceXML {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []mfaDeviceXML
	for serial, d := range h.mfa {
		out = append(out, mfaDeviceXML{UserName: h.user, SerialNumber: serial, EnableDate: d.enabled.UTC().Format(time.RFC3339)})
	}
	slices.SortFunc(out, func(a, b mfaDeviceXML) int { return cmp.Compare(a.SerialNumber, b.SerialNumber) })
	return out
}

// iamError writes IAM's ErrorResponse shape (as STS's, in IAM's namespace).
func iamError(w http.ResponseWriter, status int, code, msg string) {
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	writeIAM(w, status, iamErrorResponse{Type: typ, Code: code, Message: msg, RequestID: newRequestID()})
}

func writeIAM(w http.ResponseWriter, status int, v any) {
	b, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(fmt.Sprintf("ststest: marshal %T: %v", v, err)) // programmer error
	}
	id := ""
	switch v := v.(type) {
	case listMFADevicesResponse:
		id = v.RequestID
	case iamErrorResponse:
		id = v.RequestID
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", id)
	w.WriteHeader(status)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}
