package ststest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/xml"
	"fmt"
	"math/big"
	"net/http"
	"time"
)

// namespace is the xmlns of every STS response.
const namespace = "https://sts.amazonaws.com/doc/2011-06-15/"

// expirationLayout is how the STS API reference examples print
// Expiration ("2011-07-11T19:55:29.611Z"): UTC with milliseconds. The SDKs
// accept it with or without the fraction (smithy-go time.ParseDateTime,
// botocore dateutil).
const expirationLayout = "2006-01-02T15:04:05.000Z"

func formatTime(t time.Time) string { return t.UTC().Format(expirationLayout) }

type credentialsXML struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type sessionTokenResponse struct {
	XMLName     xml.Name       `xml:"https://sts.amazonaws.com/doc/2011-06-15/ GetSessionTokenResponse"`
	Credentials credentialsXML `xml:"GetSessionTokenResult>Credentials"`
	RequestID   string         `xml:"ResponseMetadata>RequestId"`
}

type federationTokenResponse struct {
	XMLName          xml.Name       `xml:"https://sts.amazonaws.com/doc/2011-06-15/ GetFederationTokenResponse"`
	Credentials      credentialsXML `xml:"GetFederationTokenResult>Credentials"`
	FederatedUserID  string         `xml:"GetFederationTokenResult>FederatedUser>FederatedUserId"`
	FederatedUserARN string         `xml:"GetFederationTokenResult>FederatedUser>Arn"`
	PackedPolicySize int            `xml:"GetFederationTokenResult>PackedPolicySize"`
	RequestID        string         `xml:"ResponseMetadata>RequestId"`
}

type callerIdentityResponse struct {
	XMLName   xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ GetCallerIdentityResponse"`
	Arn       string   `xml:"GetCallerIdentityResult>Arn"`
	UserID    string   `xml:"GetCallerIdentityResult>UserId"`
	Account   string   `xml:"GetCallerIdentityResult>Account"`
	RequestID string   `xml:"ResponseMetadata>RequestId"`
}

type errorResponse struct {
	XMLName   xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ ErrorResponse"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

// requestIDOf returns the RequestId a response carries.
func requestIDOf(v any) string {
	switch v := v.(type) {
	case sessionTokenResponse:
		return v.RequestID
	case federationTokenResponse:
		return v.RequestID
	case callerIdentityResponse:
		return v.RequestID
	case assumeRoleResponse:
		return v.RequestID
	case errorResponse:
		return v.RequestID
	case iamResponse:
		return v.RequestID
	case iamErrorResponse:
		return v.RequestID
	}
	return ""
}

// writeXMLStatus writes v as an STS XML document.
func writeXMLStatus(w http.ResponseWriter, status int, v any) {
	b, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(fmt.Sprintf("ststest: marshal %T: %v", v, err)) // programmer error
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", requestIDOf(v))
	w.WriteHeader(status)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}

func writeXML(w http.ResponseWriter, v any) { writeXMLStatus(w, http.StatusOK, v) }

// apiError is an STS error answer.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) write(w http.ResponseWriter) { writeError(w, e.status, e.code, e.message) }

// writeError writes the STS ErrorResponse shape; Type is Receiver for 5xx.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	writeXMLStatus(w, status, errorResponse{Type: typ, Code: code, Message: msg, RequestID: newRequestID()})
}

var (
	errInvalidToken = &apiError{http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid."}
	// MFA messages as quoted in aws/aws-cli#6325 and lonelyplanet/aws-mfa#21;
	// STS ends the first with a space.
	errMFACode    = &apiError{http.StatusForbidden, "AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code. "}
	errMFAUnknown = &apiError{http.StatusForbidden, "AccessDenied", "MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA serial number is valid and associated with this user."}
)

const (
	upperDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	secretChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// randString returns n characters drawn uniformly from alphabet.
func randString(alphabet string, n int) string {
	b := make([]byte, n)
	size := big.NewInt(int64(len(alphabet)))
	for i := range b {
		j, err := rand.Int(rand.Reader, size)
		if err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		b[i] = alphabet[j.Int64()]
	}
	return string(b)
}

// newRequestID returns a random UUIDv4, like STS request ids.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// userID returns a stable fake IAM unique id ("AIDA" + 17 chars) for a user.
func userID(account, name string) string {
	sum := sha256.Sum256([]byte(account + "/" + name))
	b := make([]byte, 13)
	for i := range b {
		b[i] = upperDigits[int(sum[i])%len(upperDigits)]
	}
	return "AIDAFAKE" + string(b)
}
