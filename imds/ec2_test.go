package imds

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var devProfile = Profile{Name: "dev", Region: "eu-west-1", AllowedUIDs: []int{testUID}}

func newEC2(t *testing.T, p Profile) (http.Handler, *fakeSource, *fakeClock) {
	t.Helper()
	clk := newClock()
	src := newSource(p.Name)
	return NewIMDS(src, p, testOptions(t, clk, testUID)), src, clk
}

// token PUTs for a token and fails the test if there is none.
func token(t *testing.T, h http.Handler, ttl string) string {
	t.Helper()
	w := request(h, http.MethodPut, pathToken, "X-aws-ec2-metadata-token-ttl-seconds", ttl)
	if w.Code != http.StatusOK {
		t.Fatalf("PUT token = %d %s", w.Code, w.Body)
	}
	return w.Body.String()
}

func TestTokenPUT(t *testing.T) {
	t.Parallel()
	h, _, _ := newEC2(t, devProfile)
	tests := []struct {
		name    string
		ttl     []string // header values; nil: none
		want    int
		wantTTL string
	}{
		{"zero", []string{"0"}, 400, ""},
		{"one", []string{"1"}, 200, "1"},
		{"max", []string{"21600"}, 200, "21600"},
		{"go default", []string{"300"}, 200, "300"},
		{"over max", []string{"21601"}, 400, ""},
		{"missing", nil, 400, ""},
		{"empty", []string{""}, 400, ""},
		{"non-integer", []string{"abc"}, 400, ""},
		{"fraction", []string{"1.5"}, 400, ""},
		{"negative", []string{"-1"}, 400, ""},
		{"plus sign", []string{"+5"}, 400, ""},
		{"space", []string{" 5"}, 400, ""},
		{"huge", []string{"99999999999999999999"}, 400, ""},
		{"two headers", []string{"5", "5"}, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var hdr []string
			for _, v := range tt.ttl {
				hdr = append(hdr, "X-aws-ec2-metadata-token-ttl-seconds", v)
			}
			w := request(h, http.MethodPut, pathToken, hdr...)
			if w.Code != tt.want {
				t.Fatalf("PUT token TTL %q = %d; want %d", tt.ttl, w.Code, tt.want)
			}
			if got := w.Header().Get(ttlHeader); got != tt.wantTTL {
				t.Errorf("TTL header = %q; want %q", got, tt.wantTTL)
			}
			if tt.want == 200 && w.Body.Len() == 0 {
				t.Error("no token in the body")
			}
			if tt.want != 200 && w.Header().Get("Content-Type") != "application/json" {
				t.Errorf("error Content-Type = %q", w.Header().Get("Content-Type"))
			}
		})
	}
}

func TestTokenAuth(t *testing.T) {
	t.Parallel()
	creds := pathCreds + "/dev"
	t.Run("missing", func(t *testing.T) {
		t.Parallel()
		h, _, _ := newEC2(t, devProfile)
		if w := request(h, "GET", creds); w.Code != 401 {
			t.Errorf("GET without token = %d; want 401", w.Code)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		t.Parallel()
		h, _, _ := newEC2(t, devProfile)
		for _, tok := range []string{"abc", "", strings.Repeat("A", 54), strings.Repeat("A", 2000)} {
			w := request(h, "GET", creds, "X-aws-ec2-metadata-token", tok)
			if w.Code != 401 {
				t.Errorf("GET with token %.10q = %d; want 401", tok, w.Code)
			}
			noSecrets(t, "invalid token", w)
		}
	})
	t.Run("forged by another start", func(t *testing.T) {
		t.Parallel()
		h, _, _ := newEC2(t, devProfile)
		other, _, _ := newEC2(t, devProfile)
		tok := token(t, other, "60")
		if w := request(h, "GET", creds, "X-aws-ec2-metadata-token", tok); w.Code != 401 {
			t.Errorf("GET with another key's token = %d; want 401", w.Code)
		}
	})
	t.Run("other profile", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		key, _ := newTokenKey(strings.NewReader(strings.Repeat("k", 32)))
		tok := key.mint("other", clk.Now().Add(time.Minute))
		if key.valid("dev", tok, clk.Now()) {
			t.Error("a token minted for profile other is valid for dev")
		}
	})
	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		h, _, clk := newEC2(t, devProfile)
		tok := token(t, h, "1")
		if w := request(h, "GET", creds, "X-aws-ec2-metadata-token", tok); w.Code != 200 {
			t.Fatalf("GET with fresh token = %d; want 200", w.Code)
		}
		clk.Advance(time.Second)
		w := request(h, "GET", creds, "X-aws-ec2-metadata-token", tok)
		if w.Code != 401 {
			t.Errorf("GET with expired token = %d; want 401", w.Code)
		}
		noSecrets(t, "expired token", w)
	})
	t.Run("tampered", func(t *testing.T) {
		t.Parallel()
		h, _, _ := newEC2(t, devProfile)
		tok := []byte(token(t, h, "60"))
		tok[3] ^= 1 // the expiry
		if w := request(h, "GET", creds, "X-aws-ec2-metadata-token", string(tok)); w.Code != 401 {
			t.Errorf("GET with tampered token = %d; want 401", w.Code)
		}
	})
	t.Run("v1 allowed", func(t *testing.T) {
		t.Parallel()
		o := testOptions(t, newClock(), testUID)
		o.IMDSV1 = true
		h := NewIMDS(newSource("dev"), devProfile, o)
		if w := request(h, "GET", creds); w.Code != 200 {
			t.Errorf("imds_v1 GET without token = %d; want 200", w.Code)
		}
		if w := request(h, "GET", creds, "X-aws-ec2-metadata-token", "bogus"); w.Code != 401 {
			t.Errorf("imds_v1 GET with an invalid token = %d; want 401 (as on EC2)", w.Code)
		}
	})
}

func TestSecurityChecks(t *testing.T) {
	t.Parallel()
	h, _, _ := newEC2(t, devProfile)
	tok := token(t, h, "60")
	creds := pathCreds + "/dev"
	tests := []struct {
		name   string
		method string
		path   string
		hdr    []string
		want   int
	}{
		{"XFF on PUT", "PUT", pathToken, []string{"X-aws-ec2-metadata-token-ttl-seconds", "60", "X-Forwarded-For", "10.0.0.1"}, 403},
		{"XFF on GET", "GET", creds, []string{"X-Forwarded-For", "127.0.0.1"}, 403},
		{"empty XFF", "GET", creds, []string{"X-Forwarded-For", ""}, 403},
		{"Forwarded on PUT", "PUT", pathToken, []string{"X-aws-ec2-metadata-token-ttl-seconds", "60", "Forwarded", "for=10.0.0.1"}, 403},
		{"Forwarded on GET", "GET", creds, []string{"Forwarded", "for=127.0.0.1"}, 403},
		{"X-Real-IP on PUT", "PUT", pathToken, []string{"X-aws-ec2-metadata-token-ttl-seconds", "60", "X-Real-IP", "10.0.0.1"}, 403},
		{"X-Real-IP on GET", "GET", creds, []string{"x-real-ip", "127.0.0.1"}, 403},
		{"host localhost", "GET", creds, []string{"Host", "localhost"}, 200},
		{"host localhost:port", "GET", creds, []string{"Host", "localhost:9912"}, 200},
		{"host LOCALHOST", "GET", creds, []string{"Host", "LOCALHOST:9912"}, 200},
		{"host 127.0.0.1", "GET", creds, []string{"Host", "127.0.0.1"}, 200},
		{"host 127.1.2.3:80", "GET", creds, []string{"Host", "127.1.2.3:80"}, 200},
		{"host [::1]", "GET", creds, []string{"Host", "[::1]"}, 200},
		{"host [::1]:port", "GET", creds, []string{"Host", "[::1]:9912"}, 200},
		{"host evil.com", "GET", creds, []string{"Host", "evil.com"}, 403},
		{"host evil.com:port", "GET", creds, []string{"Host", "evil.com:9912"}, 403},
		{"host resolving to 127.0.0.1", "GET", creds, []string{"Host", "localtest.me:9912"}, 403},
		{"host 127.0.0.1.nip.io", "GET", creds, []string{"Host", "127.0.0.1.nip.io"}, 403},
		{"host 169.254.169.254", "GET", creds, []string{"Host", "169.254.169.254"}, 403},
		{"host localhost.", "GET", creds, []string{"Host", "localhost."}, 403},
		{"host short 127.1", "GET", creds, []string{"Host", "127.1"}, 403},
		{"host [::2]", "GET", creds, []string{"Host", "[::2]:9912"}, 403},
		{"host mapped v4", "GET", creds, []string{"Host", "[::ffff:127.0.0.1]"}, 403},
		{"host bad port", "GET", creds, []string{"Host", "127.0.0.1:99999"}, 403},
		{"host empty port", "GET", creds, []string{"Host", "127.0.0.1:"}, 403},
		{"host unclosed", "GET", creds, []string{"Host", "[::1"}, 403},
		{"no host", "GET", creds, []string{"Host", ""}, 403},
		{"POST creds", "POST", creds, nil, 405},
		{"DELETE creds", "DELETE", creds, nil, 405},
		{"GET token", "GET", pathToken, nil, 405},
		{"HEAD creds", "HEAD", creds, nil, 200},
		{"traversal", "GET", pathCreds + "/../security-credentials/dev", nil, 404},
		{"traversal up", "GET", "/latest/meta-data/../meta-data/iam/security-credentials/dev", nil, 404},
		{"dot dot role", "GET", pathCreds + "/..", nil, 404},
		{"double slash", "GET", pathCreds + "//dev", nil, 404},
		{"trailing slash role", "GET", creds + "/", nil, 404},
		{"other role", "GET", pathCreds + "/prod", nil, 404},
		{"unknown path", "GET", "/latest/user-data", nil, 404},
		{"root", "GET", "/", nil, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hdr := append([]string{"X-aws-ec2-metadata-token", tok}, tt.hdr...)
			w := request(h, tt.method, tt.path, hdr...)
			if w.Code != tt.want {
				t.Errorf("%s %s = %d %s; want %d", tt.method, tt.path, w.Code, w.Body, tt.want)
			}
			if tt.want != 200 && w.Header().Get("Content-Type") != "application/json" {
				t.Errorf("error Content-Type = %q; want application/json", w.Header().Get("Content-Type"))
			}
			if got, ok := w.Header()["Server"]; ok {
				t.Errorf("Server = %q; want none", got)
			}
			noSecrets(t, tt.name, w)
		})
	}
}

func TestCallerCheck(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		allowed []int
		any     bool
		uid     int
		want    int
	}{
		{"allowed", []int{1000, 1001}, false, 1001, 200},
		{"refused", []int{1000}, false, 65534, 403},
		{"root is not implied", []int{1000}, false, 0, 403},
		{"any local user", []int{1000}, true, 65534, 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := Profile{Name: "dev", AllowedUIDs: tt.allowed, AnyLocalUser: tt.any}
			clk := newClock()
			h := NewIMDS(newSource("dev"), p, testOptions(t, clk, tt.uid))
			w := request(h, "PUT", pathToken, "X-aws-ec2-metadata-token-ttl-seconds", "60")
			if w.Code != tt.want {
				t.Fatalf("PUT token as uid %d = %d; want %d", tt.uid, w.Code, tt.want)
			}
			if tt.want != 200 {
				noSecrets(t, tt.name, w)
				return
			}
			w = request(h, "GET", pathCreds+"/dev", "X-aws-ec2-metadata-token", w.Body.String())
			if w.Code != tt.want {
				t.Errorf("GET as uid %d = %d; want %d", tt.uid, w.Code, tt.want)
			}
		})
	}
	t.Run("lookup fails", func(t *testing.T) {
		t.Parallel()
		o := testOptions(t, newClock(), 0)
		o.PeerUID = func(*http.Request) (int, error) { return -1, errors.New("no socket") }
		h := NewIMDS(newSource("dev"), devProfile, o)
		if w := request(h, "PUT", pathToken, "X-aws-ec2-metadata-token-ttl-seconds", "60"); w.Code != 403 {
			t.Errorf("PUT with unknown peer = %d; want 403", w.Code)
		}
	})
}

func TestPaths(t *testing.T) {
	t.Parallel()
	h, _, _ := newEC2(t, devProfile)
	tok := token(t, h, "21600")
	tests := []struct {
		path   string
		want   string // body; "" means golden
		golden string
	}{
		{path: pathCreds + "/", want: "dev"},
		{path: pathCreds, want: "dev"},
		{path: pathCredsExt + "/", want: "dev"},
		{path: pathCreds + "/dev", golden: "imds-credentials.golden"},
		{path: pathCredsExt + "/dev", golden: "imds-credentials-extended.golden"},
		{path: pathIAMInfo, golden: "imds-iam-info.golden"},
		{path: pathIdentityDoc, golden: "imds-identity-document.golden"},
		{path: pathRegion, want: "eu-west-1"},
		{path: pathAZ, want: "eu-west-1a"},
		{path: pathMetaData, want: "iam/\ninstance-id\nplacement/"},
		{path: pathIAM, want: "info\nsecurity-credentials/"},
		{path: pathPlacement, want: "availability-zone\nregion"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			w := request(h, "GET", tt.path, "X-aws-ec2-metadata-token", tok)
			if w.Code != 200 {
				t.Fatalf("GET %s = %d %s", tt.path, w.Code, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "text/plain" {
				t.Errorf("Content-Type = %q; want text/plain (as EC2)", ct)
			}
			if tt.golden != "" {
				golden(t, tt.golden, w.Body.Bytes())
				return
			}
			if got := w.Body.String(); got != tt.want {
				t.Errorf("GET %s = %q; want %q", tt.path, got, tt.want)
			}
		})
	}
}

// TestCredentialsJSON: every SDK's required fields, Expiration in whole
// seconds UTC, Code Success.
func TestCredentialsJSON(t *testing.T) {
	t.Parallel()
	h, _, _ := newEC2(t, devProfile)
	w := request(h, "GET", pathCreds+"/dev", "X-aws-ec2-metadata-token", token(t, h, "60"))
	var got map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("credentials are not JSON: %v", err)
	}
	want := map[string]string{
		"Code": "Success", "LastUpdated": "2026-01-02T03:04:05Z", "Type": "AWS-HMAC",
		"AccessKeyId": fakeKeyID, "SecretAccessKey": fakeSecret, "Token": fakeToken,
		"Expiration": "2026-01-02T04:04:05Z",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("credentials (-want +got):\n%s", diff)
	}
}

func TestInstanceID(t *testing.T) {
	t.Parallel()
	id := func(host, profile string) string {
		o := testOptions(t, newClock(), testUID)
		o.Hostname = host
		h := NewIMDS(newSource(profile), Profile{Name: profile, AllowedUIDs: []int{testUID}}, o)
		w := request(h, "GET", pathInstanceID, "X-aws-ec2-metadata-token", token(t, h, "60"))
		return w.Body.String()
	}
	a := id("testhost", "dev")
	if !regexp.MustCompile(`^i-[0-9a-f]{17}$`).MatchString(a) {
		t.Errorf("instance-id %q is not i- and 17 hex digits", a)
	}
	if b := id("testhost", "dev"); b != a {
		t.Errorf("instance-id not stable: %q then %q", a, b)
	}
	if b := id("testhost", "prod"); b == a {
		t.Errorf("profiles dev and prod share instance-id %q", a)
	}
}

func TestUnavailable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*fakeSource)
	}{
		{"source error", func(s *fakeSource) { s.Set("dev", testCreds(), errNoCreds) }},
		{"expired credentials", func(s *fakeSource) {
			c := testCreds()
			c.Expiration = testStart
			s.Set("dev", c, nil)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, src, _ := newEC2(t, devProfile)
			tt.edit(src)
			tok := token(t, h, "60")
			for _, path := range []string{pathCreds + "/dev", pathCredsExt + "/dev", pathIAMInfo} {
				w := request(h, "GET", path, "X-aws-ec2-metadata-token", tok)
				if w.Code != 503 || w.Header().Get("Content-Type") != "application/json" {
					t.Errorf("GET %s = %d %q; want 503 application/json", path, w.Code, w.Header().Get("Content-Type"))
				}
				var e struct{ Code, Message string }
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code != "CredentialsUnavailable" || e.Message == "" {
					t.Errorf("GET %s body %q: want {Code:CredentialsUnavailable,Message}", path, w.Body)
				}
				noSecrets(t, path, w)
			}
		})
	}
	t.Run("golden", func(t *testing.T) {
		t.Parallel()
		h, src, _ := newEC2(t, devProfile)
		src.Set("dev", testCreds(), errNoCreds)
		w := request(h, "GET", pathCreds+"/dev", "X-aws-ec2-metadata-token", token(t, h, "60"))
		golden(t, "error-unavailable.golden", w.Body.Bytes())
	})
}

// TestLastUpdated: LastUpdated is when a key was first handed out; a new
// key (after a refresh) moves it.
func TestLastUpdated(t *testing.T) {
	t.Parallel()
	h, src, clk := newEC2(t, devProfile)
	get := func() map[string]string {
		w := request(h, "GET", pathCreds+"/dev", "X-aws-ec2-metadata-token", token(t, h, "60"))
		var m map[string]string
		json.Unmarshal(w.Body.Bytes(), &m)
		return m
	}
	first := get()["LastUpdated"]
	clk.Advance(time.Minute)
	if got := get()["LastUpdated"]; got != first {
		t.Errorf("LastUpdated moved without a new key: %s → %s", first, got)
	}
	c := testCreds()
	c.AccessKeyID = "ASIAFAKE00000000NEW1"
	src.Set("dev", c, nil)
	m := get()
	if m["LastUpdated"] != "2026-01-02T03:05:05Z" || m["AccessKeyId"] != c.AccessKeyID {
		t.Errorf("after refresh: %s %s; want the new key, LastUpdated 03:05:05", m["AccessKeyId"], m["LastUpdated"])
	}
}

// TestNoSecretsInLogs: the access and audit lines of every kind of request
// carry no secret, session token or IMDS token.
func TestNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	clk := newClock()
	o := testOptions(t, clk, testUID)
	o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	src := newSource("dev")
	h := NewIMDS(src, devProfile, o)
	tok := request(h, "PUT", pathToken, ttlHeader, "60").Body.String()
	request(h, "GET", pathCreds+"/dev", tokenHeader, tok)
	request(h, "GET", pathCredsExt+"/dev", tokenHeader, tok+"x")
	o.PeerUID = func(*http.Request) (int, error) { return 12345, nil }
	request(NewIMDS(src, devProfile, o), "GET", pathCreds+"/dev", tokenHeader, tok)
	src.Set("dev", testCreds(), errNoCreds)
	request(h, "GET", pathCreds+"/dev", tokenHeader, tok)

	out := logs.String()
	if !strings.Contains(out, "event=caller_refused") || !strings.Contains(out, "event=http_request") {
		t.Fatalf("expected access and audit lines, got:\n%s", out)
	}
	for _, secret := range []string{fakeSecret[:10], "FAKEsessionToken", tok[:20], fakeKeyID} {
		if strings.Contains(out, secret) {
			t.Errorf("logs carry a secret or token (%d chars)", len(secret))
		}
	}
}

// TestContainerCaller: a container (a caller from another network
// namespace on 169.254.169.254) is answered only from an address in the
// profile's container_cidrs, whatever allowed_uids and
// imds_any_local_user say; the Host check takes the listener's own
// address there.
func TestContainerCaller(t *testing.T) {
	t.Parallel()
	cidrs := []netip.Prefix{netip.MustParsePrefix("172.17.0.0/16")}
	for _, tt := range []struct {
		name  string
		cidrs []netip.Prefix
		any   bool
		from  string
		host  string
		want  int
	}{
		{"inside container_cidrs", cidrs, false, "172.17.0.2", "169.254.169.254", 200},
		{"outside container_cidrs", cidrs, false, "10.0.0.2", "169.254.169.254", 403},
		{"no container_cidrs", nil, false, "172.17.0.2", "169.254.169.254", 403},
		{"any local user is no container", nil, true, "172.17.0.2", "169.254.169.254", 403},
		{"a name for the address", cidrs, false, "172.17.0.2", "metadata.example", 403},
		{"the other link-local address", cidrs, false, "172.17.0.2", "169.254.170.2", 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := testOptions(t, newClock(), testUID)
			o.ContainerPeer = func(*http.Request) (netip.Addr, bool) { return netip.MustParseAddr(tt.from), true }
			h := NewIMDS(newSource("dev"), Profile{Name: "dev", AllowedUIDs: []int{testUID}, AnyLocalUser: tt.any, ContainerCIDRs: tt.cidrs}, o)
			r := httptest.NewRequest("PUT", "http://169.254.169.254"+pathToken, nil)
			r.Host = tt.host
			r.Header.Set("X-aws-ec2-metadata-token-ttl-seconds", "60")
			r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, net.TCPAddrFromAddrPort(netip.MustParseAddrPort("169.254.169.254:80"))))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Errorf("PUT token from container %s, Host %s = %d; want %d (%s)", tt.from, tt.host, w.Code, tt.want, w.Body)
			}
		})
	}
}

// Every endpoint shares one router: each must still answer as its own
// profile only. dev's token opens nothing on prod's endpoint, prod's paths
// on dev's endpoint are 404, and the routed answers (role list, region,
// instance id) are each endpoint's own, in either order of use.
func TestSharedRouterKeepsEndpointsApart(t *testing.T) {
	t.Parallel()
	prodProfile := Profile{Name: "prod", Region: "us-east-2", AllowedUIDs: []int{testUID}}
	dev, _, _ := newEC2(t, devProfile)
	prod, _, _ := newEC2(t, prodProfile)
	devTok, prodTok := token(t, dev, "60"), token(t, prod, "60")
	for _, h := range []struct {
		name, role, region string
		h                  http.Handler
		tok, otherTok      string
	}{
		{"dev", "dev", "eu-west-1", dev, devTok, prodTok},
		{"prod", "prod", "us-east-2", prod, prodTok, devTok},
	} {
		hdr := func(tok string) []string { return []string{"X-aws-ec2-metadata-token", tok} }
		if w := request(h.h, "GET", pathCreds+"/", hdr(h.tok)...); w.Code != 200 || w.Body.String() != h.role {
			t.Errorf("%s: role list = %d %q; want %q", h.name, w.Code, w.Body, h.role)
		}
		if w := request(h.h, "GET", pathRegion, hdr(h.tok)...); w.Code != 200 || w.Body.String() != h.region {
			t.Errorf("%s: region = %d %q; want %q", h.name, w.Code, w.Body, h.region)
		}
		if w := request(h.h, "GET", pathCreds+"/"+h.role, hdr(h.otherTok)...); w.Code != http.StatusUnauthorized {
			t.Errorf("%s: the other endpoint's token = %d; want 401", h.name, w.Code)
		}
		for _, other := range []string{"dev", "prod"} {
			if other == h.role {
				continue
			}
			for _, p := range []string{pathCreds + "/" + other, pathCredsExt + "/" + other} {
				if w := request(h.h, "GET", p, hdr(h.tok)...); w.Code != http.StatusNotFound {
					t.Errorf("%s: GET %s = %d; want 404", h.name, p, w.Code)
				}
			}
		}
	}
	devID := request(dev, "GET", pathInstanceID, "X-aws-ec2-metadata-token", devTok).Body.String()
	prodID := request(prod, "GET", pathInstanceID, "X-aws-ec2-metadata-token", prodTok).Body.String()
	if devID == prodID || devID == "" {
		t.Errorf("instance ids dev %q, prod %q: want two of their own", devID, prodID)
	}
}
