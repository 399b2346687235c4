package ststest

import (
	"context"
	"net"
	"net/http"
	"strconv"
)

// Fault is a failure injected into a token call (GetSessionToken,
// GetFederationToken or AssumeRole) with Handler.Fail or Handler.FailAll.
type Fault int

// Faults. The zero Fault means none.
const (
	// FaultServerError answers 500 InternalFailure (Type Receiver).
	FaultServerError Fault = iota + 1
	// FaultUnavailable answers 503 ServiceUnavailable (Type Receiver).
	FaultUnavailable
	// FaultThrottling answers 400 Throttling "Rate exceeded", which the
	// SDKs retry.
	FaultThrottling
	// FaultAccessDenied answers 403 AccessDenied.
	FaultAccessDenied
	// FaultInvalidClientTokenId answers 403 InvalidClientTokenId, as for a
	// deleted key.
	FaultInvalidClientTokenId
	// FaultHang answers nothing until the request's context ends (the
	// client gives up) or the handler is closed; the connection is then
	// aborted.
	FaultHang
	// FaultReset closes the TCP connection with SO_LINGER 0, so the client
	// sees "connection reset by peer". Through RoundTripper it returns an
	// equivalent *net.OpError wrapping syscall.ECONNRESET.
	FaultReset
	// FaultMalformed answers 200 with truncated XML.
	FaultMalformed
	// FaultExpired answers normally, but the Expiration is already past.
	FaultExpired
	// FaultFarFuture answers normally with an Expiration 10 years ahead.
	FaultFarFuture
)

var faultNames = [...]string{
	FaultServerError:          "FaultServerError",
	FaultUnavailable:          "FaultUnavailable",
	FaultThrottling:           "FaultThrottling",
	FaultAccessDenied:         "FaultAccessDenied",
	FaultInvalidClientTokenId: "FaultInvalidClientTokenId",
	FaultHang:                 "FaultHang",
	FaultReset:                "FaultReset",
	FaultMalformed:            "FaultMalformed",
	FaultExpired:              "FaultExpired",
	FaultFarFuture:            "FaultFarFuture",
}

// String returns the constant's name.
func (f Fault) String() string {
	if f > 0 && int(f) < len(faultNames) {
		return faultNames[f]
	}
	return "Fault(" + strconv.Itoa(int(f)) + ")"
}

// serveFault answers c with fault f and reports whether it did; faults
// that only alter a successful answer (and the zero Fault) answer nothing.
func (h *Handler) serveFault(ctx context.Context, w http.ResponseWriter, c call, f Fault) bool {
	switch f {
	case FaultServerError:
		writeError(w, http.StatusInternalServerError, "InternalFailure",
			"The request processing has failed because of an unknown error, exception or failure.")
	case FaultUnavailable:
		writeError(w, http.StatusServiceUnavailable, "ServiceUnavailable",
			"The request has failed due to a temporary failure of the server.")
	case FaultThrottling:
		writeError(w, http.StatusBadRequest, "Throttling", "Rate exceeded")
	case FaultAccessDenied:
		msg := "User: " + h.userARN() + " is not authorized to perform: sts:" + c.action
		if c.action == ActionAssumeRole {
			msg += " on resource: " + c.form.Get("RoleArn")
		}
		writeError(w, http.StatusForbidden, "AccessDenied", msg)
	case FaultInvalidClientTokenId:
		errInvalidToken.write(w)
	case FaultHang:
		select {
		case <-ctx.Done():
		case <-h.done:
		}
		panic(http.ErrAbortHandler)
	case FaultReset:
		reset(w)
	case FaultMalformed:
		w.Header().Set("Content-Type", "text/xml")
		w.Header().Set("x-amzn-RequestId", newRequestID())
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`<` + c.action + `Response xmlns="` + namespace + `">
  <` + c.action + `Result>
    <Credentials>
      <AccessKeyId>ASIAFAKE`))
	default:
		return false
	}
	return true
}

// reset drops the connection so that the peer sees an RST.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// No connection to reset (RoundTripper, HTTP/2): abort instead.
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		// Linger 0 makes Close send RST instead of FIN.
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}
