//go:build !windows

package daemon_test

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stsd/stsd/daemon"
)

// TestBadHTTPInput is the HTTP part of the bad-input table: requests to the
// control API, IMDS and ECS that must each be refused with one JSON line
// {"Code","Message"} saying what is wrong, and lose nothing: afterwards the
// daemon still serves dev the same credentials on every path, and the ECS
// token files are unchanged.
func TestBadHTTPInput(t *testing.T) {
	h := startHarness(t, daemon.Options{})
	code, _, body := raw(t, "unix:"+h.sock, "GET /v1/credentials/dev HTTP/1.0\r\nHost: stsd\r\n\r\n")
	if code != 200 {
		t.Fatalf("credentials = %d", code)
	}
	var first struct{ AccessKeyId, SecretAccessKey, SessionToken string }
	if err := json.Unmarshal([]byte(body), &first); err != nil || first.AccessKeyId == "" {
		t.Fatalf("credentials JSON: %v", err)
	}
	devToken, otherToken := h.token(t, "dev"), h.token(t, "other")
	imdsTok := h.imdsToken(t)

	// ctl drives Handler() as a peer running as uid.
	ctl := func(uid int, method, path, body string) func(t *testing.T) (int, string, string) {
		return func(t *testing.T) (int, string, string) {
			r := daemon.WithPeerUIDForTest(httptest.NewRequestWithContext(t.Context(), method, "http://stsd"+path, strings.NewReader(body)), uid)
			w := httptest.NewRecorder()
			h.s.Handler().ServeHTTP(w, r)
			return w.Code, w.Header().Get("Content-Type"), w.Body.String()
		}
	}
	send := func(addr, req string) func(t *testing.T) (int, string, string) {
		return func(t *testing.T) (int, string, string) { return raw(t, addr, req) }
	}
	sock := "unix:" + h.sock
	req := func(method, path string, headers ...string) string {
		return method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + strings.Join(headers, "") + "Content-Length: 0\r\nConnection: close\r\n\r\n"
	}
	ctlReq := func(method, path, body string) string {
		return method + " " + path + " HTTP/1.0\r\nHost: stsd\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	const credsPath = "/latest/meta-data/iam/security-credentials/dev"
	const ttlMsg = "X-aws-ec2-metadata-token-ttl-seconds must be one whole number of seconds from 1 to 21600"
	tokenHdr := "X-aws-ec2-metadata-token: " + imdsTok + "\r\n"
	const (
		nobody = 65534 // in dev's allowed_uids
		other  = 4242  // in no list
	)

	tests := []struct {
		name   string
		send   func(t *testing.T) (int, string, string)
		status int
		code   string
		msg    string // the exact Message
	}{
		// Control API.
		{"ctl unknown profile", send(sock, ctlReq("GET", "/v1/credentials/nope", "")), 404, "UnknownProfile", `this stsd does not serve profile "nope"`},
		{"ctl unknown path", send(sock, ctlReq("GET", "/v2/credentials/dev", "")), 404, "NotFound", "unknown path /v2/credentials/dev"},
		{"ctl wrong method", send(sock, ctlReq("DELETE", "/v1/credentials/dev", "")), 404, "NotFound", "unknown path /v1/credentials/dev"},
		{"ctl credentials for a uid not allowed", ctl(other, "GET", "/v1/credentials/dev", ""), 403, "AccessDenied", `uid not in allowed_uids of profile "dev"`},
		{"ctl credentials for an unknown peer", ctl(-1, "GET", "/v1/credentials/dev", ""), 403, "AccessDenied", `uid not in allowed_uids of profile "dev"`},
		{"ctl other profile for an allowed uid", ctl(nobody, "GET", "/v1/credentials/other", ""), 403, "AccessDenied", `uid not in allowed_uids of profile "other"`},
		{"ctl status for a non-admin", ctl(nobody, "GET", "/v1/status", ""), 403, "AccessDenied", "only the daemon's user or root may do this"},
		{"ctl metrics for a non-admin", ctl(other, "GET", "/metrics", ""), 403, "AccessDenied", "only the daemon's user or root may do this"},
		{"ctl clear for a non-admin", ctl(nobody, "POST", "/v1/clear/dev", ""), 403, "AccessDenied", "only the daemon's user or root may do this"},
		{"ctl clear unknown profile", send(sock, ctlReq("POST", "/v1/clear/nope", "")), 404, "UnknownProfile", `this stsd does not serve profile "nope"`},
		{"ctl refresh unknown profile", send(sock, ctlReq("POST", "/v1/refresh/nope", "")), 404, "UnknownProfile", `this stsd does not serve profile "nope"`},
		{"ctl mfa for a profile without mfa_serial", send(sock, ctlReq("POST", "/v1/mfa/dev", "123456")), 400, "NoMFA", `profile "dev" has no mfa_serial`},
		{"ctl mfa code not digits", send(sock, ctlReq("POST", "/v1/mfa/mfa", "12ab56")), 400, "InvalidCode", "an MFA code is 6 digits"},
		{"ctl mfa code too short", send(sock, ctlReq("POST", "/v1/mfa/mfa", "12345")), 400, "InvalidCode", "an MFA code is 6 digits"},
		{"ctl mfa huge body", send(sock, ctlReq("POST", "/v1/mfa/mfa", strings.Repeat("1", 100<<10))), 400, "InvalidCode", "an MFA code is 6 digits"},
		{"ctl mfa code rejected by STS", send(sock, ctlReq("POST", "/v1/mfa/mfa", "000000")), 409, "MFARejected", `profile "mfa": GetSessionToken: AccessDenied: MultiFactorAuthentication failed with invalid MFA one time pass code.: the MFA code was rejected: check mfa_serial (` + harnessMFASerial + ") and the device's clock, then give a new code with `stsd mfa mfa`"},
		{"ctl mfa code used twice", send(sock, ctlReq("POST", "/v1/mfa/mfa", "000000")), 409, "MFARejected", `profile "mfa": this MFA code was already used for this device: wait for the next code`},
		{"ctl credentials while needs-mfa", send(sock, ctlReq("GET", "/v1/credentials/mfa", "")), 409, "NeedsMFA", "profile \"mfa\" needs an MFA code: run `stsd mfa mfa`"},
		{"ctl exec token while needs-mfa", send(sock, ctlReq("POST", "/v1/exec-token/mfa", "")), 409, "NeedsMFA", "profile \"mfa\" needs an MFA code: run `stsd mfa mfa`"},
		// IMDS.
		{"imds token without ttl", send(h.imds, req("PUT", "/latest/api/token")), 400, "BadRequest", ttlMsg},
		{"imds token ttl 0", send(h.imds, req("PUT", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds: 0\r\n")), 400, "BadRequest", ttlMsg},
		{"imds token ttl too long", send(h.imds, req("PUT", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds: 21601\r\n")), 400, "BadRequest", ttlMsg},
		{"imds token ttl twice", send(h.imds, req("PUT", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds: 60\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n")), 400, "BadRequest", ttlMsg},
		{"imds no token", send(h.imds, req("GET", credsPath)), 401, "Unauthorized", "an IMDSv2 token is required: PUT /latest/api/token first"},
		{"imds forged token", send(h.imds, req("GET", credsPath, "X-aws-ec2-metadata-token: AQAEAFAKEFAKEFAKEFAKE==\r\n")), 401, "Unauthorized", "the IMDSv2 token is invalid or expired"},
		{"imds proxied", send(h.imds, req("GET", credsPath, tokenHdr, "X-Forwarded-For: 10.0.0.1\r\n")), 403, "AccessDenied", "requests through a proxy (X-Forwarded-For) are refused"},
		{"imds foreign host", send(h.imds, strings.Replace(req("GET", credsPath, tokenHdr), "Host: 127.0.0.1", "Host: evil.example", 1)), 403, "AccessDenied", "the Host header must be localhost, a 127.0.0.0/8 address, [::1] or the link-local address of this listener"},
		{"imds unknown role", send(h.imds, req("GET", "/latest/meta-data/iam/security-credentials/prod", tokenHdr)), 404, "NotFound", "not found"},
		{"imds wrong method", send(h.imds, req("POST", credsPath, tokenHdr)), 405, "MethodNotAllowed", "POST is not allowed here"},
		// ECS.
		{"ecs no token", send(h.ecs, req("GET", "/v1/credentials/dev")), 401, "Unauthorized", "an Authorization header with the profile's token is required"},
		{"ecs another profile's token", send(h.ecs, req("GET", "/v1/credentials/dev", "Authorization: "+otherToken+"\r\n")), 403, "AccessDenied", `the token is not valid for profile "dev"`},
		{"ecs two tokens", send(h.ecs, req("GET", "/v1/credentials/dev", "Authorization: "+devToken+"\r\n", "Authorization: "+devToken+"\r\n")), 403, "AccessDenied", `the token is not valid for profile "dev"`},
		{"ecs unknown profile", send(h.ecs, req("GET", "/v1/credentials/prod", "Authorization: "+devToken+"\r\n")), 404, "UnknownProfile", `this endpoint does not serve profile "prod"`},
		{"ecs profile that needs mfa", send(h.ecs, req("GET", "/v1/credentials/mfa", "Authorization: "+h.token(t, "mfa")+"\r\n")), 503, "CredentialsUnavailable", `profile "mfa" has no valid credentials: needs an MFA code`},
		{"ecs proxied", send(h.ecs, req("GET", "/v1/credentials/dev", "Authorization: "+devToken+"\r\n", "X-Forwarded-For: 1.2.3.4\r\n")), 403, "AccessDenied", "requests through a proxy (X-Forwarded-For) are refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, ctype, body := tt.send(t)
			if code != tt.status {
				t.Errorf("status = %d; want %d (body %.300s)", code, tt.status, body)
			}
			if ctype != "application/json" {
				t.Errorf("Content-Type = %q; want application/json", ctype)
			}
			if strings.Contains(strings.TrimSuffix(body, "\n"), "\n") {
				t.Errorf("error body is more than one line: %q", body)
			}
			var e struct{ Code, Message string }
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("error body %.300q is not JSON: %v", body, err)
			}
			if e.Code != tt.code || e.Message != tt.msg {
				t.Errorf("error = %s: %q\nwant    %s: %q", e.Code, e.Message, tt.code, tt.msg)
			}
			for _, secret := range []string{first.SecretAccessKey, first.SessionToken, first.AccessKeyId, devToken, otherToken, imdsTok} {
				if strings.Contains(body, secret) {
					t.Error("the error body holds a secret, token or full key id")
				}
			}
			// Nothing lost: the same credentials on every path, token
			// files as they were.
			if code, _, b := raw(t, sock, "GET /v1/credentials/dev HTTP/1.0\r\nHost: stsd\r\n\r\n"); code != 200 || !strings.Contains(b, first.AccessKeyId) {
				t.Errorf("after the bad request: socket credentials = %d, same key %v", code, strings.Contains(b, first.AccessKeyId))
			}
			if code, _, b := raw(t, h.imds, req("GET", credsPath, tokenHdr)); code != 200 || !strings.Contains(b, first.AccessKeyId) {
				t.Errorf("after the bad request: IMDS credentials = %d", code)
			}
			if code, _, b := raw(t, h.ecs, req("GET", "/v1/credentials/dev", "Authorization: "+devToken+"\r\n")); code != 200 || !strings.Contains(b, first.AccessKeyId) {
				t.Errorf("after the bad request: ECS credentials = %d", code)
			}
			if h.token(t, "dev") != devToken || h.token(t, "other") != otherToken {
				t.Error("an ECS token file changed")
			}
		})
	}
	if n := h.sts.Calls(); n > 4 {
		t.Errorf("STS calls = %d; want the first fetches and one MFA attempt only", n)
	}
	if _, err := os.Stat(h.sock); err != nil {
		t.Errorf("socket gone: %v", err)
	}
}
