//go:build !windows

package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/stsd/stsd/internal/ststest"
)

const (
	e2eRole    = "arn:aws:iam::123456789012:role/e2e-admin"
	e2eRoleARN = "arn:aws:sts::123456789012:assumed-role/e2e-admin/e2e-admin"
)

// roleConfig chains a role on a session profile and serves it over
// credential_process, IMDS and ECS (exec).
const roleConfig = `
[ecs]
listen = "127.0.0.1:0"
token_dir = "~/.local/state/stsd/ecs"

[profiles.dev]
source_profile = "src"
duration = "1h"

[profiles.admin]
mode = "role"
role_arn = "` + e2eRole + `"
via_profile = "dev"
role_session_name = "e2e-{profile}"
imds_listen = "127.0.0.1:0"
`

// createRole makes the role in moto through its IAM Query API (moto
// assumes any ARN, but names the session after an existing role's id).
func createRole(t *testing.T, motoURL string) {
	t.Helper()
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}`
	body := url.Values{"Action": {"CreateRole"}, "Version": {"2010-05-08"}, "RoleName": {"e2e-admin"},
		"AssumeRolePolicyDocument": {trust}, "MaxSessionDuration": {"43200"}}.Encode()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, motoURL+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
	if err := v4.NewSigner().SignHTTP(t.Context(), creds, req, hex.EncodeToString(sum[:]), "iam", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 {
		t.Fatalf("moto CreateRole = %d %s", resp.StatusCode, b)
	}
}

// imdsAddr is admin's bound IMDS address, from `stsd status --json`.
func (w *world) imdsAddr(t *testing.T, profile string) string {
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
		t.Fatal(err)
	}
	for _, p := range st.Profiles {
		for _, ep := range p.Endpoints {
			if a, ok := strings.CutPrefix(ep, "imds "); ok && p.Profile == profile {
				return a
			}
		}
	}
	t.Fatalf("status shows no IMDS endpoint for %s: %s", profile, out)
	return ""
}

// arnClient is one real client that prints the caller's ARN.
type arnClient struct {
	name string
	arn  func(t *testing.T, w *world, env []string) string
}

func roleClients(stsURL string, jsMode string) []arnClient {
	return []arnClient{
		{"aws-cli", func(t *testing.T, w *world, env []string) string {
			if !haveAWS(t) {
				t.Skip("aws CLI not installed")
			}
			out, errOut, code := w.runEnv(t, env, "aws", "sts", "get-caller-identity", "--output", "json")
			var id struct{ Arn string }
			if code != 0 || json.Unmarshal([]byte(out), &id) != nil {
				t.Fatalf("aws sts get-caller-identity: exit %d %s", code, errOut)
			}
			return id.Arn
		}},
		{"boto3", func(t *testing.T, w *world, env []string) string {
			if !haveBoto3() {
				t.Skip("boto3 not installed")
			}
			out, errOut, code := w.runEnv(t, env, "python3", "-c", "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])")
			if code != 0 {
				t.Fatalf("boto3: exit %d %s", code, errOut)
			}
			return strings.TrimSpace(out)
		}},
		{"go-sdk-v2", func(t *testing.T, w *world, env []string) string { return goARN(t, w, env, stsURL) }},
		{"js-" + jsMode, func(t *testing.T, w *world, env []string) string {
			haveNode(t)
			script, _ := filepath.Abs(filepath.Join(jsDir(), "clients.mjs"))
			out, errOut, code := w.runEnv(t, env, "node", script, jsMode)
			var id struct{ Arn string }
			if code != 0 || json.Unmarshal([]byte(out), &id) != nil {
				t.Fatalf("node clients.mjs %s: exit %d %s %s", jsMode, code, out, errOut)
			}
			return id.Arn
		}},
	}
}

// goARN runs aws-sdk-go-v2's default chain in this process with the
// world's HOME and XDG directories (for credential_process) plus env.
func goARN(t *testing.T, w *world, env []string, stsURL string) string {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	none := filepath.Join(t.TempDir(), "none")
	t.Setenv("AWS_CONFIG_FILE", none)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none)
	for _, kv := range w.env {
		if k, v, _ := strings.Cut(kv, "="); k == "HOME" || strings.HasPrefix(k, "XDG_") {
			t.Setenv(k, v)
		}
	}
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
	if err != nil {
		t.Fatalf("Go SDK GetCallerIdentity: %v", err)
	}
	return aws.ToString(out.Arn)
}

// TestRoleRealClients: against moto and the stand-in, the AWS CLI, boto3,
// aws-sdk-go-v2 and the JS SDK v3 use a role profile (chained on a session
// profile) through credential_process and through IMDS, and STS names the
// assumed role as the caller; so does the CLI under `stsd exec` (the
// daemon's ECS endpoint) and `stsd env`.
func TestRoleRealClients(t *testing.T) {
	for _, mk := range []func(*testing.T) backend{roleStandin, moto} {
		b := mk(t)
		t.Run(b.name, func(t *testing.T) {
			if b.calls == nil {
				createRole(t, b.url)
			}
			w := newWorld(t, b.url, roleConfig)
			cfgPath := filepath.Join(w.dir, "h", ".aws", "config")
			old, _ := os.ReadFile(cfgPath)
			writeFile(t, cfgPath, string(old)+"[profile admin]\ncredential_process = "+binDir+"/stsd-credential-process --profile admin\nregion = us-east-1\n")
			w.startDaemon(t)
			cases := []struct {
				via     string
				env     []string
				clients []arnClient
			}{
				{"credential_process", []string{"AWS_PROFILE=admin", "AWS_CONFIG_FILE=" + cfgPath}, roleClients(b.url, "chain")},
				{"imds", []string{"AWS_EC2_METADATA_SERVICE_ENDPOINT=http://" + w.imdsAddr(t, "admin")}, roleClients(b.url, "imds")},
			}
			for _, c := range cases {
				for _, cl := range c.clients {
					t.Run(c.via+"/"+cl.name, func(t *testing.T) {
						if got := cl.arn(t, w, c.env); got != e2eRoleARN {
							t.Errorf("caller ARN = %q; want %q", got, e2eRoleARN)
						}
					})
				}
			}
			if haveAWS(t) {
				stsd := filepath.Join(binDir, "stsd")
				for name, script := range map[string]string{
					"exec": stsd + " exec admin -- aws sts get-caller-identity --output json",
					"env":  `eval "$(` + stsd + ` env admin)" && aws sts get-caller-identity --output json`,
				} {
					out, errOut, code := w.run(t, "sh", "-c", script)
					var id struct{ Arn string }
					if code != 0 || json.Unmarshal([]byte(out), &id) != nil || id.Arn != e2eRoleARN {
						t.Errorf("%s: exit %d, ARN %q; want %s (%s)", name, code, id.Arn, e2eRoleARN, errOut)
					}
				}
			}
			out, _, code := w.run(t, "stsd", "status")
			if code != 0 || !strings.Contains(out, "admin") || !strings.Contains(out, "role") {
				t.Errorf("stsd status: exit %d\n%s", code, out)
			}
		})
	}
}

// roleStandin is the stand-in with the role added.
func roleStandin(t *testing.T) backend {
	s := ststest.NewServer(t, ststest.Options{})
	s.AddRole(ststest.Role{ARN: e2eRole, MaxSessionDuration: 12 * time.Hour})
	return backend{"standin", s.URL, s.Calls}
}

// consoleConfig has a session, a role and a federation profile, and the
// stand-in's sign-in endpoint.
const consoleConfig = `
signin_endpoint = "SIGNIN"

[profiles.dev]
source_profile = "src"
duration = "1h"
console_name = "{user}-console"

[profiles.admin]
mode = "role"
role_arn = "` + e2eRole + `"
via_profile = "dev"
role_session_name = "e2e-{profile}"

[profiles.fed]
source_profile = "src"
mode = "federation"
policy_arns = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
`

// TestConsolePrint: `stsd console --print` against the stand-in's sign-in
// endpoint, without and with a daemon. The getSigninToken request carries
// the profile's session JSON (a role's own credentials; a session
// profile's console GetFederationToken), SessionDuration only for roles;
// the login URL has the destination and issuer and signs in; the URL is on
// stdout and nowhere else: not stderr, not any file. Opening it runs the
// desktop opener with a page path, never the URL.
func TestConsolePrint(t *testing.T) {
	s := ststest.NewServer(t, ststest.Options{})
	s.AddRole(ststest.Role{ARN: e2eRole})
	w := newWorld(t, s.URL, strings.Replace(consoleConfig, "SIGNIN", s.SigninURL, 1))
	const dest = "https://console.aws.amazon.com/ec2/home?region=us-east-1"
	var urls []string
	console := func(t *testing.T, profile string, wantDuration string, args ...string) {
		t.Helper()
		n := len(s.SigninRequests())
		out, errOut, code := w.run(t, "stsd", append([]string{"console", profile, "--print", "--destination", dest}, args...)...)
		if code != 0 || strings.Count(out, "\n") != 1 || errOut != "" {
			t.Fatalf("stsd console %s: exit %d, %d lines, stderr %q", profile, code, strings.Count(out, "\n"), errOut)
		}
		u := strings.TrimSpace(out)
		urls = append(urls, u)
		req := s.SigninRequests()[n]
		if req.Action != "getSigninToken" || !req.SessionMatched || req.SessionDuration != wantDuration {
			t.Errorf("getSigninToken request = %+v; want the session JSON, SessionDuration %q", req, wantDuration)
		}
		pu, err := url.Parse(u)
		if err != nil || !strings.HasPrefix(u, s.SigninURL+"?") {
			t.Fatal("the printed line is not a login URL at the sign-in endpoint")
		}
		if q := pu.Query(); q.Get("Action") != "login" || q.Get("Issuer") != "stsd" || q.Get("Destination") != dest || q.Get("SigninToken") == "" {
			t.Errorf("login URL has Action %q Issuer %q Destination %q", q.Get("Action"), q.Get("Issuer"), q.Get("Destination"))
		}
		noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := noRedirect.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != dest {
			t.Errorf("login = %d to %q; want 302 to the destination", resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	roleKey := func(t *testing.T) string {
		out, errOut, code := w.run(t, "stsd-credential-process", "--profile", "admin")
		var c struct {
			AccessKeyID string `json:"AccessKeyId"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &c) != nil {
			t.Fatalf("credential_process admin: %d %s", code, errOut)
		}
		return c.AccessKeyID
	}
	t.Run("no daemon", func(t *testing.T) {
		console(t, "admin", "1800", "--duration", "30m")
		if got := s.SigninRequests()[len(s.SigninRequests())-2].SessionKeyID; got != roleKey(t) {
			t.Errorf("getSigninToken used key %s; want the role's own", got)
		}
		calls := s.CallsOf(ststest.ActionGetFederationToken)
		console(t, "dev", "")
		if s.CallsOf(ststest.ActionGetFederationToken) != calls+1 {
			t.Error("a session profile's console made no GetFederationToken")
		}
		console(t, "fed", "")
	})
	t.Run("daemon", func(t *testing.T) {
		w.startDaemon(t)
		console(t, "admin", "")
		if got := s.SigninRequests()[len(s.SigninRequests())-2].SessionKeyID; got != roleKey(t) {
			t.Errorf("getSigninToken used key %s; want the daemon's role credentials", got)
		}
	})
	t.Run("refused", func(t *testing.T) {
		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"fed", "--duration", "1h"}, "stsd console: --duration does not apply to federation profile fed: the sign-in endpoint refuses SessionDuration with federation credentials"},
			{[]string{"admin", "--duration", "2h"}, "stsd console: --duration 2h0m0s: a chained role session (via_profile) allows 15m..1h for the console session of profile admin"},
			{[]string{"nope"}, `stsd console: profile "nope" is not in `},
		} {
			out, errOut, code := w.run(t, "stsd", append([]string{"console", "--print"}, tt.args...)...)
			if code != 1 || out != "" || !strings.HasPrefix(errOut, tt.want) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("stsd console %v: exit %d, stdout %q, stderr %q; want exit 1 and one line %q…", tt.args, code, out, errOut, tt.want)
			}
		}
	})
	t.Run("opened", func(t *testing.T) {
		bin := filepath.Join(w.dir, "fakebin")
		mkdir(t, bin)
		record := filepath.Join(w.dir, "opener-args")
		writeFile(t, filepath.Join(bin, "xdg-open"), "#!/bin/sh\nprintf '%s\\n' \"$@\" > "+record+"\ncp \"$1\" "+record+".page\n")
		os.Chmod(filepath.Join(bin, "xdg-open"), 0o700)
		out, errOut, code := w.runEnv(t, []string{"PATH=" + bin + ":" + os.Getenv("PATH")}, "stsd", "console", "admin")
		if code != 0 || out != "" || !strings.Contains(errOut, "opened the AWS console for admin") {
			t.Fatalf("stsd console admin: exit %d %q %q", code, out, errOut)
		}
		args, _ := os.ReadFile(record)
		page, _ := os.ReadFile(record + ".page")
		if strings.Contains(string(args), "SigninToken") || !strings.Contains(string(page), "SigninToken=") {
			t.Errorf("the opener got %q; want a page path, the page holding the URL", args)
		}
		os.Remove(record + ".page")
		os.Remove(record)
		for _, p := range strings.Fields(string(args)) {
			os.Remove(p) // the page itself: the browser's copy, by design
		}
	})
	// The URLs printed above are nowhere else under the world's directory.
	filepath.WalkDir(w.dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(path)
		for _, u := range urls {
			tok, _ := url.Parse(u)
			if st := tok.Query().Get("SigninToken"); st != "" && bytes.Contains(b, []byte(st[:24])) {
				t.Errorf("%s holds a sign-in token", path)
			}
		}
		return nil
	})
}
