//go:build !windows

package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/stsd/stsd/internal/ststest"
	"github.com/stsd/stsd/internal/testca"
)

// goClientEnv makes this test binary act as a Go SDK client instead of
// running tests: SSL_CERT_FILE is read once per process, so the Go SDK
// client that trusts the broker's CA through it must be a process of its
// own.
const goClientEnv = "STSD_E2E_GO_CLIENT"

func init() {
	if os.Getenv(goClientEnv) == "" {
		return
	}
	os.Exit(goSDKClient())
}

// goSDKClient is aws-sdk-go-v2's default chain from the environment, then
// GetCallerIdentity at AWS_ENDPOINT_URL_STS. It prints the account.
func goSDKClient() int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion("us-east-1"))
	if err == nil {
		var out *sts.GetCallerIdentityOutput
		out, err = sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(os.Getenv("AWS_ENDPOINT_URL_STS")) }).
			GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err == nil {
			fmt.Println(aws.ToString(out.Account))
			return 0
		}
	}
	fmt.Fprintln(os.Stderr, "go sdk client:", err)
	return 1
}

// brokerProfiles are two broker-only federation profiles; the broker
// listens on 127.0.0.2 and trusts PROXY headers from 127.0.0.3 only.
func brokerConfig(certFile, keyFile string) string {
	return fmt.Sprintf(`
[broker]
listen = "127.0.0.2:0"
tls_cert_file = %q
tls_key_file = %q
trusted_proxies = ["127.0.0.3/32"]

[profiles.app-billing]
source_profile = "src"
mode = "federation"
name = "{client}"
duration = "1h"
policy_arns = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]

[profiles.app-search]
source_profile = "src"
mode = "federation"
name = "{client}-s"
duration = "1h"
policy_arns = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
`, certFile, keyFile)
}

// brokerAddrOf reads the bound broker address from `stsd status --json`.
func (w *world) brokerAddrOf(t *testing.T) string {
	t.Helper()
	out, errOut, code := w.run(t, "stsd", "status", "--json")
	var st struct {
		Broker string `json:"broker"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Broker == "" {
		t.Fatalf("stsd status: %d %s %s", code, out, errOut)
	}
	return st.Broker
}

// addClient runs `stsd broker add-client` and returns the token it prints.
func (w *world) addClient(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := w.run(t, "stsd", append([]string{"broker", "add-client"}, args...)...)
	tok := strings.TrimSuffix(out, "\n")
	if code != 0 || len(tok) != 26 {
		t.Fatalf("stsd broker add-client %v: %d %s", args, code, errOut)
	}
	return tok
}

// botocoreCABundle makes what a corporate image does for botocore, whose
// container provider verifies against certifi's bundle only: a copy of
// that bundle with the CA appended, and (since the test must not touch
// site-packages) a sitecustomize on PYTHONPATH that points certifi.where
// at the copy. It returns the PYTHONPATH directory.
func botocoreCABundle(t *testing.T, caPEM []byte) string {
	t.Helper()
	out, err := exec.Command("python3", "-c", "import certifi; print(certifi.where())").Output()
	if err != nil {
		t.Skipf("python3 with certifi not available: %v", err)
	}
	orig, err := os.ReadFile(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bundle := filepath.Join(dir, "cacert.pem")
	writeFile(t, bundle, string(orig)+"\n"+string(caPEM))
	writeFile(t, filepath.Join(dir, "sitecustomize.py"), fmt.Sprintf(`# stsd e2e: certifi's bundle plus the test CA, as a corporate image ships it.
import certifi, certifi.core
def where():
    return %q
certifi.where = where
certifi.core.where = where
`, bundle))
	return dir
}

// brokerGet fetches url with tok (if any) over HTTPS trusting pool.
func brokerGet(t *testing.T, pool *x509.CertPool, url, tok string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer c.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if tok != "" {
		req.Header.Set("Authorization", tok)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// keyIn is the AccessKeyId of a credentials body.
func keyIn(t *testing.T, body string) string {
	t.Helper()
	var c struct {
		AccessKeyID string `json:"AccessKeyId"`
	}
	if err := json.Unmarshal([]byte(body), &c); err != nil || !strings.HasPrefix(c.AccessKeyID, "ASIA") {
		t.Fatalf("not a credentials body (%d bytes)", len(body))
	}
	return c.AccessKeyID
}

// noCredentialBytes fails if a refused answer carries credentials.
func noCredentialBytes(t *testing.T, what, body string) {
	t.Helper()
	for _, s := range []string{"ASIA", "SecretAccessKey", "Token\""} {
		if strings.Contains(body, s) {
			t.Errorf("%s: the answer carries credential bytes", what)
		}
	}
}

// TestBrokerRealClients: clients made with `stsd broker add-client` fetch
// their own federated credentials over HTTPS from a throwaway CA's
// certificate with the Go SDK (SSL_CERT_FILE), the JS SDK's default chain
// (NODE_EXTRA_CA_CERTS), boto3 and the AWS CLI (the CA in botocore's
// bundle), then call STS with them. Refusals carry no credential bytes;
// removed and rotated clients lose access at once, and after a restart.
func TestBrokerRealClients(t *testing.T) {
	s := ststest.NewServer(t, ststest.Options{})
	ca := testca.New(t, "stsd e2e CA")
	tlsDir := t.TempDir()
	certFile, keyFile := ca.WriteServer(t, tlsDir, "127.0.0.2")
	caFile := filepath.Join(tlsDir, "ca.pem")
	ca.WriteCA(t, caFile)
	w := newWorld(t, s.URL, brokerConfig(certFile, keyFile))
	billing := w.addClient(t, "billing", "--profiles", "app-billing")
	search := w.addClient(t, "search", "--profiles", "app-search")
	far := w.addClient(t, "far", "--profiles", "app-billing", "--cidrs", "10.20.0.0/16")
	stop := w.startDaemon(t)
	addr := w.brokerAddrOf(t)
	url := func(p string) string { return "https://" + addr + "/v1/credentials/" + p }
	pool := ca.Pool()

	code, body := brokerGet(t, pool, url("app-billing"), billing)
	if code != 200 {
		t.Fatalf("billing: %d %s", code, body)
	}
	billingKey := keyIn(t, body)
	code, body = brokerGet(t, pool, url("app-search"), search)
	if code != 200 || keyIn(t, body) == billingKey {
		t.Fatalf("search: %d; want 200 with a key of its own", code)
	}
	names := map[string]bool{}
	for _, r := range s.Requests() {
		if r.Action == ststest.ActionGetFederationToken {
			names[r.Params.Get("Name")] = true
		}
	}
	if len(names) != 2 || !names["billing"] || !names["search-s"] {
		t.Errorf("federated names %v; want billing and search-s", names)
	}

	env := []string{"AWS_CONTAINER_CREDENTIALS_FULL_URI=" + url("app-billing"), "AWS_CONTAINER_AUTHORIZATION_TOKEN=" + billing}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	clients := []struct {
		name  string
		extra []string
		run   func(t *testing.T, env []string)
	}{
		{"go-sdk-v2 (SSL_CERT_FILE)", []string{"SSL_CERT_FILE=" + caFile, goClientEnv + "=1"}, func(t *testing.T, env []string) {
			out, errOut, code := w.runEnv(t, env, self)
			if code != 0 || strings.TrimSpace(out) != ststest.DefaultAccount {
				t.Fatalf("Go SDK client: exit %d %s", code, errOut)
			}
		}},
		{"js-sdk-v3 chain (NODE_EXTRA_CA_CERTS)", []string{"NODE_EXTRA_CA_CERTS=" + caFile}, func(t *testing.T, env []string) {
			haveNode(t)
			script, _ := filepath.Abs(filepath.Join(jsDir(), "clients.mjs"))
			out, errOut, code := w.runEnv(t, env, "node", script, "chain")
			if code != 0 || !strings.Contains(out, `"account":"123456789012"`) {
				t.Fatalf("node clients.mjs chain: exit %d %s %s", code, out, errOut)
			}
		}},
		{"boto3 (CA in botocore's bundle)", nil, func(t *testing.T, env []string) {
			if !haveBoto3() {
				t.Skip("boto3 not installed")
			}
			env = append(env, "PYTHONPATH="+botocoreCABundle(t, ca.PEM))
			out, errOut, code := w.runEnv(t, env, "python3", "-c",
				"import boto3; print(boto3.client('sts').get_caller_identity()['Account'])")
			if code != 0 || strings.TrimSpace(out) != ststest.DefaultAccount {
				t.Fatalf("boto3: exit %d %s", code, errOut)
			}
		}},
		{"aws-cli (CA in botocore's bundle)", nil, func(t *testing.T, env []string) {
			if !haveAWS(t) {
				t.Skip("aws CLI not installed")
			}
			env = append(env, "PYTHONPATH="+botocoreCABundle(t, ca.PEM))
			out, errOut, code := w.runEnv(t, env, "aws", "sts", "get-caller-identity", "--output", "json")
			if code != 0 || !strings.Contains(out, `"Account"`) {
				t.Fatalf("aws sts get-caller-identity: exit %d %s", code, errOut)
			}
		}},
	}
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) {
			cl.run(t, append(append([]string(nil), env...), cl.extra...))
			if got, withToken := lastCaller(s); got != billingKey || !withToken {
				t.Errorf("STS saw key %s (session token %v); want billing's broker key %s", got, withToken, billingKey)
			}
		})
	}

	t.Run("go sdk that does not trust the CA gets nothing", func(t *testing.T) {
		system := "/etc/ssl/certs/ca-certificates.crt" // any bundle without the test CA
		_, errOut, code := w.runEnv(t, append(env, "SSL_CERT_FILE="+system, "AWS_MAX_ATTEMPTS=1", goClientEnv+"=1"), self)
		if code == 0 || !strings.Contains(errOut, "certificate") {
			t.Errorf("the Go SDK without the test CA: exit %d %s; want a certificate error", code, errOut)
		}
		noCredentialBytes(t, "go sdk stderr", errOut)
	})
	t.Run("botocore ignores AWS_CA_BUNDLE and REQUESTS_CA_BUNDLE for the container provider", func(t *testing.T) {
		if !haveBoto3() {
			t.Skip("boto3 not installed")
		}
		_, errOut, code := w.runEnv(t, append(env, "AWS_CA_BUNDLE="+caFile, "REQUESTS_CA_BUNDLE="+caFile), "python3", "-c",
			"import boto3; print(boto3.client('sts').get_caller_identity()['Account'])")
		if code == 0 || !strings.Contains(errOut, "CERTIFICATE_VERIFY_FAILED") {
			t.Errorf("boto3 with AWS_CA_BUNDLE and REQUESTS_CA_BUNDLE only: exit %d; want a certificate verify failure (else update the README's CA section)", code)
		}
		noCredentialBytes(t, "boto3 stderr", errOut)
	})

	t.Run("refused", func(t *testing.T) {
		missing := func() (int, string) { return brokerGet(t, pool, url("no-such-profile"), billing) }
		mc, mbody := missing()
		for _, tt := range []struct {
			name string
			get  func() (int, string)
			want int
		}{
			{"billing reads search's profile", func() (int, string) { return brokerGet(t, pool, url("app-search"), billing) }, 403},
			{"search reads billing's profile", func() (int, string) { return brokerGet(t, pool, url("app-billing"), search) }, 403},
			{"no token", func() (int, string) { return brokerGet(t, pool, url("app-billing"), "") }, 401},
			{"wrong token", func() (int, string) { return brokerGet(t, pool, url("app-billing"), "WRONGWRONGWRONGWRONGWRONG0") }, 403},
			{"client outside its cidrs", func() (int, string) { return brokerGet(t, pool, url("app-billing"), far) }, 403},
		} {
			code, body := tt.get()
			if code != tt.want {
				t.Errorf("%s: %d; want %d", tt.name, code, tt.want)
			}
			noCredentialBytes(t, tt.name, body)
			if tt.name == "billing reads search's profile" && (code != mc || body != mbody) {
				t.Errorf("another client's profile answers %d %s, a missing one %d %s; want the same", code, body, mc, mbody)
			}
		}
	})

	// Raw connections: a PROXY header from an untrusted address, one from
	// the trusted proxy, plain HTTP, a client that distrusts the
	// certificate.
	dialFrom := func(from string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		return c
	}
	request := func(tok, profile string) string {
		return "GET /v1/credentials/" + profile + " HTTP/1.1\r\nHost: broker\r\nAuthorization: " + tok + "\r\nConnection: close\r\n\r\n"
	}
	tlsRequest := func(c net.Conn, req string) (string, error) {
		tc := tls.Client(c, &tls.Config{RootCAs: pool, ServerName: "127.0.0.2", NextProtos: []string{"http/1.1"}})
		defer tc.Close()
		if _, err := io.WriteString(tc, req); err != nil {
			return "", err
		}
		b, err := io.ReadAll(tc)
		return string(b), err
	}
	t.Run("proxy header from an untrusted address", func(t *testing.T) {
		c := dialFrom("127.0.0.1")
		io.WriteString(c, "PROXY TCP4 10.20.3.4 127.0.0.2 40000 443\r\n")
		got, err := tlsRequest(c, request(far, "app-billing"))
		if err == nil || got != "" {
			t.Errorf("got %q, %v; want the connection dropped", got, err)
		}
	})
	t.Run("proxy header from the trusted proxy", func(t *testing.T) {
		c := dialFrom("127.0.0.3")
		io.WriteString(c, "PROXY TCP4 10.20.3.4 127.0.0.2 40000 443\r\n")
		got, err := tlsRequest(c, request(far, "app-billing"))
		if err != nil || !strings.HasPrefix(got, "HTTP/1.1 200") {
			t.Errorf("far via the trusted proxy from 10.20.3.4: %.40q, %v; want 200", got, err)
		}
	})
	t.Run("plain http to the tls port", func(t *testing.T) {
		c := dialFrom("127.0.0.1")
		defer c.Close()
		io.WriteString(c, request(billing, "app-billing"))
		b, _ := io.ReadAll(c)
		if !strings.HasPrefix(string(b), "HTTP/1.0 400") {
			t.Errorf("plain HTTP: %q; want 400", b)
		}
		noCredentialBytes(t, "plain http", string(b))
	})
	t.Run("client that distrusts the certificate", func(t *testing.T) {
		c := dialFrom("127.0.0.1")
		tc := tls.Client(c, &tls.Config{ServerName: "127.0.0.2"}) // system roots only
		defer tc.Close()
		if err := tc.Handshake(); err == nil {
			t.Error("the handshake succeeded without trusting the test CA")
		}
	})

	// Remove search, rotate billing: both take effect at once (the
	// commands have the daemon reload), and hold after a restart.
	if _, errOut, code := w.run(t, "stsd", "broker", "remove-client", "search"); code != 0 || !strings.Contains(errOut, "the running daemon applied it") {
		t.Fatalf("remove-client: %d %s", code, errOut)
	}
	out, errOut, code := w.run(t, "stsd", "broker", "rotate-client", "billing")
	rotated := strings.TrimSpace(out)
	if code != 0 || rotated == billing {
		t.Fatalf("rotate-client: %d %s", code, errOut)
	}
	if out, _, _ := w.run(t, "stsd", "broker", "list-clients"); strings.Contains(out, "search") || !strings.Contains(out, "billing") {
		t.Errorf("list-clients after remove: %s", out)
	}
	revoked := func(when string) {
		for _, tt := range []struct {
			name, tok, profile string
			want               int
		}{
			{"removed client", search, "app-search", 403},
			{"old token of a rotated client", billing, "app-billing", 403},
			{"new token of a rotated client", rotated, "app-billing", 200},
		} {
			code, body := brokerGet(t, pool, url(tt.profile), tt.tok)
			if code != tt.want {
				t.Errorf("%s, %s: %d; want %d", when, tt.name, code, tt.want)
			}
			if tt.want == 200 && keyIn(t, body) != billingKey {
				t.Errorf("%s, %s: a new key; want the cached one", when, tt.name)
			}
			if tt.want != 200 {
				noCredentialBytes(t, tt.name, body)
			}
		}
	}
	revoked("right after the commands")
	stop()
	calls := s.Calls()
	w.startDaemon(t)
	addr = w.brokerAddrOf(t)
	revoked("after a restart")
	if s.Calls() != calls {
		t.Errorf("the restart made %d STS calls; want none (per-client cache)", s.Calls()-calls)
	}
}
