//go:build !windows

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
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
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/stsd/stsd/internal/nobody"
	"github.com/stsd/stsd/internal/ststest"
)

// endpointConfig serves dev over IMDS and ECS on ports the kernel picks.
const endpointConfig = `
[ecs]
listen = "127.0.0.1:0"
token_dir = "~/.local/state/stsd/ecs"

[profiles.dev]
source_profile = "src"
duration = "1h"
imds_listen = "127.0.0.1:0"
`

// endpoints are the daemon's bound addresses and dev's ECS token file.
type endpoints struct {
	imds, ecs, tokenFile string
}

func (e endpoints) ecsURL() string { return "http://" + e.ecs + "/v1/credentials/dev" }

func (e endpoints) token(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(e.tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// endpointsOf reads the bound addresses from `stsd status --json`.
func (w *world) endpointsOf(t *testing.T) endpoints {
	t.Helper()
	out, errOut, code := w.run(t, "stsd", "status", "--json")
	if code != 0 {
		t.Fatalf("stsd status: %d %s", code, errOut)
	}
	var st struct {
		Profiles []struct {
			Profile   string   `json:"profile"`
			Endpoints []string `json:"endpoints"`
		} `json:"profiles"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status JSON: %v", err)
	}
	e := endpoints{tokenFile: filepath.Join(w.dir, "h/.local/state/stsd/ecs/dev.token")}
	for _, p := range st.Profiles {
		for _, ep := range p.Endpoints {
			if a, ok := strings.CutPrefix(ep, "imds "); ok {
				e.imds = a
			}
			if a, ok := strings.CutPrefix(ep, "ecs "); ok {
				e.ecs = a
			}
		}
	}
	if e.imds == "" || e.ecs == "" {
		t.Fatalf("status shows no endpoints: %s", out)
	}
	return e
}

// runEnv is run with extra environment variables.
func (w *world) runEnv(t *testing.T, extra []string, name string, args ...string) (string, string, int) {
	t.Helper()
	saved := w.env
	w.env = append(append([]string(nil), w.env...), extra...)
	defer func() { w.env = saved }()
	return w.run(t, name, args...)
}

// imdsKey fetches dev's key id straight from the IMDS endpoint.
func imdsKey(t *testing.T, addr string) string {
	t.Helper()
	req, _ := http.NewRequest("PUT", "http://"+addr+"/latest/api/token", nil)
	req.Header.Set("X-aws-ec2-metadata-token-ttl-seconds", "60")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	req, _ = http.NewRequest("GET", "http://"+addr+"/latest/meta-data/iam/security-credentials/dev", nil)
	req.Header.Set("X-aws-ec2-metadata-token", string(tok))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c struct {
		AccessKeyID string `json:"AccessKeyId"`
	}
	json.NewDecoder(resp.Body).Decode(&c)
	return c.AccessKeyID
}

// lastCaller is the key id of the stand-in's last GetCallerIdentity, and
// whether it came with a session token.
func lastCaller(s *ststest.Server) (string, bool) {
	reqs := s.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Action == ststest.ActionGetCallerIdentity {
			return reqs[i].AccessKeyID, reqs[i].SessionToken
		}
	}
	return "", false
}

func jsDir() string { return filepath.Join("..", "..", "testdata", "js") }

// haveNode reports whether node and the pinned SDK (make js-deps) are there.
func haveNode(t *testing.T) bool {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed: skipping the JavaScript SDK client")
	}
	if _, err := os.Stat(filepath.Join(jsDir(), "node_modules", "@aws-sdk", "credential-providers")); err != nil {
		t.Skip("testdata/js/node_modules missing (run `make js-deps`): skipping the JavaScript SDK client")
	}
	return true
}

// client is one real client run with env; it must call STS with what it
// got (the stand-in records the key).
type client struct {
	name string
	run  func(t *testing.T, w *world, env []string)
}

func cliClient() client {
	return client{"aws-cli", func(t *testing.T, w *world, env []string) {
		if !haveAWS(t) {
			t.Skip("aws CLI not installed")
		}
		out, errOut, code := w.runEnv(t, env, "aws", "sts", "get-caller-identity", "--output", "json")
		if code != 0 || !strings.Contains(out, `"Account"`) {
			t.Fatalf("aws sts get-caller-identity: exit %d %s", code, errOut)
		}
	}}
}

func boto3Client() client {
	return client{"boto3", func(t *testing.T, w *world, env []string) {
		if !haveBoto3() {
			t.Skip("boto3 not installed")
		}
		out, errOut, code := w.runEnv(t, env, "python3", "-c",
			"import boto3; print(boto3.client('sts').get_caller_identity()['Account'])")
		if code != 0 || strings.TrimSpace(out) == "" {
			t.Fatalf("boto3: exit %d %s", code, errOut)
		}
	}}
}

func jsClient(mode string) client {
	return client{"js-" + mode, func(t *testing.T, w *world, env []string) {
		haveNode(t)
		script, _ := filepath.Abs(filepath.Join(jsDir(), "clients.mjs"))
		out, errOut, code := w.runEnv(t, env, "node", script, mode)
		if code != 0 || !strings.Contains(out, `"account":"123456789012"`) {
			t.Fatalf("node clients.mjs %s: exit %d %s %s", mode, code, out, errOut)
		}
	}}
}

// goClient is aws-sdk-go-v2's default chain, in this process, with only
// env's variables (and no shared files).
func goClient(stsURL string) client {
	return client{"go-sdk-v2", func(t *testing.T, w *world, env []string) {
		for _, kv := range os.Environ() {
			if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
				t.Setenv(k, "")
				os.Unsetenv(k)
			}
		}
		none := filepath.Join(t.TempDir(), "none")
		t.Setenv("AWS_CONFIG_FILE", none)
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none)
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"))
		if err != nil {
			t.Fatal(err)
		}
		out, err := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(stsURL) }).
			GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil || aws.ToString(out.Account) == "" {
			t.Fatalf("Go SDK GetCallerIdentity: %v", err)
		}
	}}
}

// TestEndpointsRealClients: the AWS CLI, boto3, aws-sdk-go-v2 and the JS
// SDK v3 get credentials from the IMDS and ECS endpoints and call STS with
// them; after `stsd refresh` every one of them uses the new key.
func TestEndpointsRealClients(t *testing.T) {
	s := ststest.NewServer(t, ststest.Options{})
	w := newWorld(t, s.URL, endpointConfig)
	w.startDaemon(t)
	ep := w.endpointsOf(t)

	imdsEnv := []string{"AWS_EC2_METADATA_SERVICE_ENDPOINT=http://" + ep.imds}
	fileEnv := []string{"AWS_CONTAINER_CREDENTIALS_FULL_URI=" + ep.ecsURL(), "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=" + ep.tokenFile}
	tokenEnv := []string{"AWS_CONTAINER_CREDENTIALS_FULL_URI=" + ep.ecsURL(), "AWS_CONTAINER_AUTHORIZATION_TOKEN=" + ep.token(t)}
	cases := []struct {
		via     string
		env     []string
		clients []client
	}{
		{"imds", imdsEnv, []client{cliClient(), boto3Client(), goClient(s.URL), jsClient("imds"), jsClient("chain")}},
		{"ecs-token-file", fileEnv, []client{cliClient(), boto3Client(), goClient(s.URL), jsClient("chain")}},
		{"ecs-token", tokenEnv, []client{cliClient(), boto3Client(), goClient(s.URL), jsClient("container"), jsClient("chain")}},
	}
	for round := range 2 {
		key := imdsKey(t, ep.imds)
		if !strings.HasPrefix(key, "ASIA") {
			t.Fatalf("IMDS key %q", key)
		}
		for _, c := range cases {
			for _, cl := range c.clients {
				t.Run(c.via+"/"+cl.name, func(t *testing.T) {
					cl.run(t, w, c.env)
					got, withToken := lastCaller(s)
					if got != key || !withToken {
						t.Errorf("round %d: STS saw key %s (session token %v); want the endpoint's %s", round, got, withToken, key)
					}
				})
			}
		}
		if round == 0 {
			if out, errOut, code := w.run(t, "stsd", "refresh", "dev"); code != 0 {
				t.Fatalf("stsd refresh: %d %s %s", code, out, errOut)
			}
			deadline := time.Now().Add(15 * time.Second)
			for imdsKey(t, ep.imds) == key {
				if time.Now().After(deadline) {
					t.Fatal("no new key after stsd refresh")
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
}

// rawRequest sends req as written (no client-side cleaning) and returns
// the status code and body.
func rawRequest(t *testing.T, addr, req string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, req)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestEndpointProbes: a table of hostile or broken requests against the
// running daemon, each answered with the right status and no credential
// bytes.
func TestEndpointProbes(t *testing.T) {
	s := ststest.NewServer(t, ststest.Options{})
	w := newWorld(t, s.URL, endpointConfig)
	w.startDaemon(t)
	ep := w.endpointsOf(t)
	key := imdsKey(t, ep.imds)
	ecsToken := ep.token(t)

	put := func(ttl string, extra ...string) string {
		h := "PUT /latest/api/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
		if ttl != "" {
			h += "X-aws-ec2-metadata-token-ttl-seconds: " + ttl + "\r\n"
		}
		return h + strings.Join(extra, "") + "Connection: close\r\n\r\n"
	}
	_, token := rawRequest(t, ep.imds, put("60"))
	_, short := rawRequest(t, ep.imds, put("1"))
	credsPath := "/latest/meta-data/iam/security-credentials/dev"
	get := func(path, host string, extra ...string) string {
		return "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n" + strings.Join(extra, "") + "Connection: close\r\n\r\n"
	}
	tokenHdr := func(tok string) string { return "X-aws-ec2-metadata-token: " + tok + "\r\n" }

	// A 127.0.0.1 name that really resolves there, to prove Host is never
	// resolved.
	rebind := "localtest.me"

	// An exec token whose command has exited.
	out, errOut, code := w.run(t, "stsd", "exec", "dev", "--", "sh", "-c", `printf %s "$AWS_CONTAINER_AUTHORIZATION_TOKEN"`)
	if code != 0 || out == "" {
		t.Fatalf("stsd exec: %d %s", code, errOut)
	}
	deadExec := out
	time.Sleep(1100 * time.Millisecond) // let the 1 s IMDS token expire (and the exec token be revoked)

	tests := []struct {
		name string
		addr string
		req  string
		want int
	}{
		{"imds no token", ep.imds, get(credsPath, "127.0.0.1"), 401},
		{"imds forged token", ep.imds, get(credsPath, "127.0.0.1", tokenHdr("AQAEAFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE==")), 401},
		{"imds expired token", ep.imds, get(credsPath, "127.0.0.1", tokenHdr(short)), 401},
		{"imds valid token", ep.imds, get(credsPath, "127.0.0.1", tokenHdr(token)), 200},
		{"ttl 0", ep.imds, put("0"), 400},
		{"ttl 21601", ep.imds, put("21601"), 400},
		{"ttl abc", ep.imds, put("abc"), 400},
		{"ttl missing", ep.imds, put(""), 400},
		{"xff on put", ep.imds, put("60", "X-Forwarded-For: 10.1.2.3\r\n"), 403},
		{"xff on get", ep.imds, get(credsPath, "127.0.0.1", tokenHdr(token), "X-Forwarded-For: 127.0.0.1\r\n"), 403},
		{"foreign host", ep.imds, get(credsPath, "evil.example", tokenHdr(token)), 403},
		{"host resolving to 127.0.0.1", ep.imds, get(credsPath, rebind, tokenHdr(token)), 403},
		{"metadata ip host", ep.imds, get(credsPath, "169.254.169.254", tokenHdr(token)), 403},
		{"wrong method", ep.imds, "DELETE " + credsPath + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + tokenHdr(token) + "Connection: close\r\n\r\n", 405},
		{"path traversal", ep.imds, get("/latest/meta-data/iam/security-credentials/../security-credentials/dev", "127.0.0.1", tokenHdr(token)), 404},
		{"encoded traversal", ep.imds, get("/latest/meta-data/iam/security-credentials/%2e%2e/dev", "127.0.0.1", tokenHdr(token)), 404},
		{"oversized headers", ep.imds, get(credsPath, "127.0.0.1", tokenHdr(token), "X-Big: "+strings.Repeat("a", 64<<10)+"\r\n"), 431},
		{"unknown role", ep.imds, get("/latest/meta-data/iam/security-credentials/prod", "127.0.0.1", tokenHdr(token)), 404},
		{"ecs no token", ep.ecs, get("/v1/credentials/dev", "127.0.0.1"), 401},
		{"ecs wrong token", ep.ecs, get("/v1/credentials/dev", "127.0.0.1", "Authorization: WRONGWRONGWRONGWRONGWRONGX\r\n"), 403},
		{"ecs exec token after exit", ep.ecs, get("/v1/credentials/dev", "127.0.0.1", "Authorization: "+deadExec+"\r\n"), 403},
		{"ecs unknown profile", ep.ecs, get("/v1/credentials/prod", "127.0.0.1", "Authorization: "+ecsToken+"\r\n"), 404},
		{"ecs foreign host", ep.ecs, get("/v1/credentials/dev", "evil.example:80", "Authorization: "+ecsToken+"\r\n"), 403},
		{"ecs xff", ep.ecs, get("/v1/credentials/dev", "127.0.0.1", "Authorization: "+ecsToken+"\r\n", "X-Forwarded-For: 1.2.3.4\r\n"), 403},
		{"ecs valid", ep.ecs, get("/v1/credentials/dev", "localhost", "Authorization: "+ecsToken+"\r\n"), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := rawRequest(t, tt.addr, tt.req)
			if code != tt.want {
				t.Errorf("%s: %d; want %d (%.200s)", tt.name, code, tt.want, body)
			}
			if code != 200 && strings.Contains(body, key) {
				t.Errorf("%s: a %d body carries the key", tt.name, code)
			}
		})
	}

	t.Run("caller running as nobody", func(t *testing.T) {
		if os.Getuid() != 0 {
			t.Skip("needs root to run a client as nobody")
		}
		curl, err := exec.LookPath("curl")
		if err != nil {
			t.Skip("curl not installed: skipping the other-uid probe")
		}
		for _, args := range [][]string{
			{"-X", "PUT", "-H", "X-aws-ec2-metadata-token-ttl-seconds: 60", "http://" + ep.imds + "/latest/api/token"},
			{"-H", "Authorization: " + ecsToken, ep.ecsURL()},
		} {
			cmd := exec.Command(curl, append([]string{"-s", "-o", "/dev/null", "-w", "%{http_code}"}, args...)...)
			nobody.Run(cmd)
			out, err := cmd.Output()
			if err != nil || string(out) != "403" {
				t.Errorf("curl %s as nobody = %q, %v; want 403", args[len(args)-1], out, err)
			}
		}
	})
}

// TestExec: `stsd exec` with a daemon (token from the daemon, revoked at
// exit), with a daemon that has no [ecs], and with no daemon at all.
func TestExec(t *testing.T) {
	s := ststest.NewServer(t, ststest.Options{})
	envCheck := `test -z "${AWS_PROFILE+x}${AWS_ACCESS_KEY_ID+x}${AWS_CONTAINER_CREDENTIALS_RELATIVE_URI+x}" || exit 9
case "$AWS_CONTAINER_CREDENTIALS_FULL_URI" in http://127.0.0.1:*/v1/credentials/dev) ;; *) exit 8 ;; esac
test -n "$AWS_CONTAINER_AUTHORIZATION_TOKEN" && test "$AWS_REGION" = us-east-1 && test "$AWS_DEFAULT_REGION" = us-east-1 || exit 7
case "$AWS_CREDENTIAL_EXPIRATION" in 20*Z) ;; *) exit 6 ;; esac
exit 3`
	parent := []string{"AWS_PROFILE=dev", "AWS_ACCESS_KEY_ID=AKIAFAKE000000000000", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/x"}
	check := func(t *testing.T, w *world) {
		t.Helper()
		if _, errOut, code := w.runEnv(t, parent, "stsd", "exec", "dev", "--", "sh", "-c", envCheck); code != 3 {
			t.Errorf("stsd exec environment check: exit %d (want the child's 3) %s", code, errOut)
		}
		if haveAWS(t) {
			out, errOut, code := w.runEnv(t, parent, "stsd", "exec", "dev", "--", "aws", "sts", "get-caller-identity")
			if code != 0 || !strings.Contains(out, "123456789012") {
				t.Errorf("stsd exec dev -- aws sts get-caller-identity: exit %d %s", code, errOut)
			}
		} else {
			t.Log("aws CLI not installed: skipping the CLI under exec")
		}
		if _, err := exec.LookPath("node"); err == nil {
			if _, err := os.Stat(filepath.Join(jsDir(), "node_modules")); err == nil {
				script, _ := filepath.Abs(filepath.Join(jsDir(), "clients.mjs"))
				out, errOut, code := w.runEnv(t, parent, "stsd", "exec", "dev", "--", "node", script, "container")
				if code != 0 || !strings.Contains(out, "123456789012") {
					t.Errorf("stsd exec -- node clients.mjs container: exit %d %s %s", code, out, errOut)
				}
			}
		}
		if _, _, code := w.run(t, "stsd", "exec", "dev", "--", "stsd-no-such-command"); code != 127 {
			t.Errorf("exec of a missing command: exit %d; want 127", code)
		}
	}
	t.Run("daemon", func(t *testing.T) {
		w := newWorld(t, s.URL, endpointConfig+`region = "us-east-1"`+"\n")
		w.startDaemon(t)
		check(t, w)
	})
	t.Run("daemon without ecs", func(t *testing.T) {
		w := newWorld(t, s.URL, sessionConfig)
		w.startDaemon(t)
		check(t, w)
	})
	t.Run("no daemon", func(t *testing.T) {
		w := newWorld(t, s.URL, sessionConfig)
		check(t, w)
	})
	t.Run("usage", func(t *testing.T) {
		w := newWorld(t, s.URL, sessionConfig)
		if _, errOut, code := w.run(t, "stsd", "exec", "dev", "true"); code != 2 || !strings.Contains(errOut, "stsd exec PROFILE -- COMMAND") {
			t.Errorf("exec without --: %d %q; want 2 and usage", code, errOut)
		}
	})
}

// TestEnvAndHint: `stsd env` output evaluated by sh gives the CLI working
// credentials; `stsd env-hint` output points it at the endpoints.
func TestEnvAndHint(t *testing.T) {
	s := ststest.NewServer(t, ststest.Options{})
	w := newWorld(t, s.URL, endpointConfig)
	if !haveAWS(t) {
		t.Skip("aws CLI not installed: skipping env/env-hint with the CLI")
	}
	stsd := filepath.Join(binDir, "stsd")
	// No daemon: env fetches directly.
	out, errOut, code := w.run(t, "sh", "-c", `eval "$(`+stsd+` env dev)" && aws sts get-caller-identity --output json`)
	if code != 0 || !strings.Contains(out, "123456789012") {
		t.Fatalf("eval stsd env (no daemon): exit %d %s", code, errOut)
	}
	w.startDaemon(t)
	out, errOut, code = w.run(t, "sh", "-c", `eval "$(`+stsd+` env dev)" && aws sts get-caller-identity --output json`)
	if code != 0 || !strings.Contains(out, "123456789012") {
		t.Fatalf("eval stsd env (daemon): exit %d %s", code, errOut)
	}
	hint, errOut, code := w.run(t, "stsd", "env-hint", "dev")
	if code != 0 || !strings.Contains(hint, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=") || strings.Contains(hint, w.endpointsOf(t).token(t)) {
		t.Fatalf("stsd env-hint: %d %s %s", code, hint, errOut)
	}
	// The hint names the configured port (0 here): point it at the bound one.
	ep := w.endpointsOf(t)
	hint = strings.ReplaceAll(hint, "127.0.0.1:0/", ep.ecs+"/")
	hint = strings.ReplaceAll(hint, "http://127.0.0.1:0", "http://"+ep.imds)
	out, errOut, code = w.run(t, "sh", "-c", hint+"\naws sts get-caller-identity --output json")
	if code != 0 || !strings.Contains(out, "123456789012") {
		t.Fatalf("sh with env-hint: exit %d %s\n%s", code, errOut, hint)
	}
}
