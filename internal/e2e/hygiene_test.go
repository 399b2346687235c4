//go:build !windows

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stsd/stsd/cache"
	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/daemon"
	"github.com/stsd/stsd/internal/httpserve"
	"github.com/stsd/stsd/internal/servetest"
	"github.com/stsd/stsd/internal/ststest"
)

// hygieneConfig: dev over all three paths, a federation profile, and an
// MFA profile without mfa_process (codes come from `stsd mfa`).
const hygieneConfig = `
log_level = "debug"
signin_endpoint = "SIGNIN"

[ecs]
listen = "127.0.0.1:0"
token_dir = "TOKENDIR"

[profiles.dev]
source_profile = "src"
duration = "1h"
imds_listen = "127.0.0.1:0"

[profiles.fed]
source_profile = "src"
mode = "federation"
policy_arns = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]

[profiles.role]
mode = "role"
role_arn = "` + hygieneRole + `"
via_profile = "dev"

[profiles.mfa]
source_profile = "src"
duration = "1h"
mfa_serial = "` + mfaSerial + `"
mfa_prompt = "none"
`

// hygieneSource is the long-term key; its secret must never show either.
const (
	hygieneRole         = "arn:aws:iam::123456789012:role/hygiene"
	hygieneSourceKey    = "AKIAFAKEHYGIENE00001"
	hygieneSourceSecret = "hygieneSourceSecretHygieneSourceSecret00"
)

// issuedSecrets records every credential the stand-in hands out, read from
// its responses, so the test knows every secret that could leak.
type issuedSecrets struct {
	mu      sync.Mutex
	keys    map[string]bool
	secrets map[string]bool
}

// xmlField finds STS's credentials and the sign-in endpoint's token.
var xmlField = regexp.MustCompile(`<(AccessKeyId|SecretAccessKey|SessionToken)>([^<]+)</|"(SigninToken)":"([^"]+)"`)

func (s *issuedSecrets) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &teeWriter{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, m := range xmlField.FindAllStringSubmatch(rec.buf.String(), -1) {
			switch {
			case m[1] == "AccessKeyId":
				s.keys[m[2]] = true
			case m[1] != "":
				s.secrets[m[2]] = true
			default:
				s.secrets[m[4]] = true
			}
		}
	})
}

func (s *issuedSecrets) add(secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[secret] = true
}

func (s *issuedSecrets) snapshot() (keys, secrets []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.keys {
		keys = append(keys, k)
	}
	for v := range s.secrets {
		secrets = append(secrets, v)
	}
	return keys, secrets
}

type teeWriter struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (t *teeWriter) Write(b []byte) (int, error) {
	t.buf.Write(b)
	return t.ResponseWriter.Write(b)
}

func (t *teeWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// TestSecretHygiene runs a daemon at debug level, logging through a text
// and a JSON handler, through refreshes, an MFA profile (needs-mfa, a
// rejected code, a good one), every STS fault that answers, and every
// endpoint (control API incl. /v1/status and /metrics, all IMDS paths, ECS
// incl. 401/403/404/503, an exec token), and the CLI's status, refresh, mfa
// and clear. Then no secret access key, session token, ECS/exec token, IMDS
// token or source secret appears in the logs, status output, error
// strings, HTTP error bodies or the metrics page, and key ids appear only
// as ASIA…WXYZ.
func TestSecretHygiene(t *testing.T) {
	issued := &issuedSecrets{keys: map[string]bool{}, secrets: map[string]bool{}}
	issued.add(hygieneSourceSecret)
	sts := ststest.NewHandler(ststest.Options{})
	sts.SetMFA(mfaSerial, "424242")
	sts.AddRole(ststest.Role{ARN: hygieneRole})
	mux := http.NewServeMux()
	mux.Handle(ststest.SigninPath, issued.wrap(sts.SigninHandler()))
	mux.Handle("/", issued.wrap(sts))
	stsSrv := httptest.NewServer(mux)
	t.Cleanup(func() { sts.Close(); stsSrv.Close() })

	dir, err := os.MkdirTemp("", "hy") // short: the socket lives here
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	tokenDir := filepath.Join(dir, "ecs")
	sock := filepath.Join(dir, "r", "stsd.sock")
	env := []string{
		"HOME=" + dir,
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"),
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "aws-config"),
		"AWS_ENDPOINT_URL_STS=" + stsSrv.URL,
		"STSD_SOCKET=" + sock,
		"XDG_CACHE_HOME=" + filepath.Join(dir, "cache"),
	}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "STSD_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	writeFile(t, filepath.Join(dir, "credentials"), "[src]\naws_access_key_id = "+hygieneSourceKey+"\naws_secret_access_key = "+hygieneSourceSecret+"\n")
	writeFile(t, filepath.Join(dir, "aws-config"), "")
	cfgPath := filepath.Join(dir, "config.toml")
	writeFile(t, cfgPath, strings.NewReplacer("TOKENDIR", tokenDir, "SIGNIN", stsSrv.URL+ststest.SigninPath).Replace(hygieneConfig))
	cfg, err := config.Load(cfgPath, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	store, err := cache.Open(filepath.Join(dir, "cache", "stsd"))
	if err != nil {
		t.Fatal(err)
	}
	var textLog, jsonLog servetest.Buffer
	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	// As stsd run logs: the access lines batched, every other line at once.
	textBuf, jsonBuf := httpserve.NewLogBuffer(&textLog, httpserve.LogBufferOptions{}), httpserve.NewLogBuffer(&jsonLog, httpserve.LogBufferOptions{})
	logger := slog.New(slog.NewMultiHandler(slog.NewTextHandler(textBuf.Direct(), opts), slog.NewJSONHandler(jsonBuf.Direct(), opts)))
	access := slog.New(slog.NewMultiHandler(slog.NewTextHandler(textBuf.Batched(), opts), slog.NewJSONHandler(jsonBuf.Batched(), opts)))
	s, err := daemon.New(daemon.Options{Config: cfg, Store: store, Socket: sock, Logger: logger, AccessLogger: access, Version: "test", WaitTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run() = %v", err)
			}
		}
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("daemon did not listen")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Everything the test saw: answers that may hold secrets (200s to
	// credential requests) separately from those that must not.
	seen := map[string]string{}
	note := func(what, text string) { seen[what] += text + "\n" }
	ctl := func(method, path, body string) (int, string) {
		code, b := socketRequestBody(sock, method, path, body)
		if !(code == 200 && strings.HasPrefix(path, "/v1/credentials/")) {
			note("ctl "+method+" "+path, b)
		}
		return code, b
	}
	run := func(args ...string) (string, string, int) {
		t.Helper()
		cctx, ccancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer ccancel()
		cmd := exec.CommandContext(cctx, filepath.Join(binDir, args[0]), args[1:]...)
		cmd.Env = append(os.Environ(), env...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		code := exitCode(t, cmd.Run())
		// credential_process and console --print write secrets to stdout
		// by design; everything else must not.
		if args[0] != "stsd-credential-process" && !(len(args) > 1 && args[1] == "console") {
			note(strings.Join(args, " ")+" stdout", stdout.String())
		}
		note(strings.Join(args, " ")+" stderr", stderr.String())
		return stdout.String(), stderr.String(), code
	}
	settle := func(profile string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for s.Refresher(profile).Status().State == daemon.StateRefreshing {
			if time.Now().After(deadline) {
				t.Fatalf("%s still refreshing", profile)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// Refreshes.
	for _, p := range []string{"dev", "fed", "role"} {
		if code, b := ctl("GET", "/v1/credentials/"+p, ""); code != 200 {
			t.Fatalf("%s credentials = %d %s", p, code, b)
		}
	}
	for range 2 {
		calls := sts.Calls()
		if _, errOut, code := run("stsd", "refresh", "dev"); code != 0 {
			t.Fatalf("stsd refresh: %d %s", code, errOut)
		}
		waitFor(t, func() bool { return sts.Calls() > calls })
		settle("dev")
	}

	// MFA: needs-mfa, a rejected code, a good one.
	if code, _ := ctl("GET", "/v1/credentials/mfa", ""); code != 409 {
		t.Errorf("mfa credentials before a code = %d; want 409", code)
	}
	if _, _, code := run("stsd-credential-process", "--profile", "mfa"); code != 1 {
		t.Errorf("credential_process for needs-mfa with mfa_prompt none: exit %d; want 1", code)
	}
	if _, _, code := run("stsd", "mfa", "mfa", "000000"); code != 1 {
		t.Errorf("stsd mfa with a wrong code: exit %d; want 1", code)
	}
	if _, errOut, code := run("stsd", "mfa", "mfa", "424242"); code != 0 {
		t.Errorf("stsd mfa with the code: exit %d %s", code, errOut)
	}
	if out, _, code := run("stsd-credential-process", "--profile", "mfa"); code != 0 || !strings.HasPrefix(out, `{"Version":1`) {
		t.Errorf("credential_process mfa after the code: exit %d", code)
	}

	// Failures: every fault that answers (a hang would only wait for the
	// 30 s timeout), each through one forced refresh.
	for _, f := range []ststest.Fault{ststest.FaultServerError, ststest.FaultUnavailable, ststest.FaultThrottling,
		ststest.FaultAccessDenied, ststest.FaultInvalidClientTokenId, ststest.FaultReset, ststest.FaultMalformed,
		ststest.FaultExpired, ststest.FaultFarFuture} {
		calls := sts.Calls()
		sts.Fail(f)
		ctl("POST", "/v1/refresh/dev", "")
		waitFor(t, func() bool { return sts.Calls() > calls })
		settle("dev")
		st := s.Refresher("dev").Status()
		note("status after "+f.String(), st.LastError+" "+st.Reason)
		if _, err := s.Credentials(t.Context(), "dev"); err != nil {
			note("Credentials error after "+f.String(), err.Error())
		}
		if _, b := ctl("GET", "/v1/status", ""); b == "" {
			t.Error("empty status")
		}
		run("stsd", "status")
	}
	sts.Clear()
	calls := sts.Calls()
	ctl("POST", "/v1/refresh/dev", "")
	waitFor(t, func() bool { return sts.Calls() > calls && s.Refresher("dev").Status().State == daemon.StateOK })

	// Every endpoint.
	// The bound addresses, from the control API (Status() itself is not
	// safe to call while Run starts up).
	_, stBody := ctl("GET", "/v1/status", "")
	var st daemon.Status
	if err := json.Unmarshal([]byte(stBody), &st); err != nil {
		t.Fatal(err)
	}
	var imdsAddr, ecsAddr string
	for _, p := range st.Profiles {
		for _, e := range p.Endpoints {
			if a, ok := strings.CutPrefix(e, "imds "); ok {
				imdsAddr = a
			}
			if a, ok := strings.CutPrefix(e, "ecs "); ok {
				ecsAddr = a
			}
		}
	}
	if imdsAddr == "" || ecsAddr == "" {
		t.Fatalf("no endpoints in status")
	}
	for _, p := range []string{"dev", "fed", "mfa"} {
		b, err := os.ReadFile(filepath.Join(tokenDir, p+".token"))
		if err != nil {
			t.Fatal(err)
		}
		issued.add(strings.TrimSpace(string(b)))
	}
	devToken, _ := os.ReadFile(filepath.Join(tokenDir, "dev.token"))
	for _, p := range []string{"/livez", "/readyz", "/metrics", "/v1/status", "/v1/credentials/dev", "/v1/credentials/fed", "/v1/credentials/nope", "/nope"} {
		ctl("GET", p, "")
	}
	ctl("POST", "/v1/mfa/dev", "123456")
	ctl("POST", "/v1/mfa/mfa", "12ab56")
	ctl("POST", "/v1/reload", "")
	ctl("POST", "/v1/clear/nope", "")
	xt, err := daemon.NewClient(sock).ExecToken(t.Context(), "dev")
	if err != nil {
		t.Fatalf("exec token: %v", err)
	}
	issued.add(xt.Token)
	http1 := func(addr, method, path string, hdr ...string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+addr+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Add(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		// 200s to credential paths and the token PUT carry secrets.
		if resp.StatusCode != 200 || !strings.Contains(path, "security-credentials") && !strings.HasPrefix(path, "/v1/credentials/") && method != "PUT" {
			note(fmt.Sprintf("%s %s%s %d", method, addr, path, resp.StatusCode), string(b))
		}
		return resp.StatusCode, string(b)
	}
	code, imdsTok := http1(imdsAddr, "PUT", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds", "300")
	if code != 200 {
		t.Fatalf("IMDS token = %d", code)
	}
	issued.add(imdsTok)
	tk := []string{"X-aws-ec2-metadata-token", imdsTok}
	for _, p := range []string{"/latest/meta-data/", "/latest/meta-data/iam/", "/latest/meta-data/iam/security-credentials/",
		"/latest/meta-data/iam/security-credentials/dev", "/latest/meta-data/iam/security-credentials-extended/dev",
		"/latest/meta-data/iam/info", "/latest/meta-data/placement/region", "/latest/meta-data/placement/availability-zone",
		"/latest/meta-data/instance-id", "/latest/dynamic/instance-identity/document", "/latest/meta-data/iam/security-credentials/nope"} {
		http1(imdsAddr, "GET", p, tk...)
	}
	http1(imdsAddr, "GET", "/latest/meta-data/iam/security-credentials/dev")                                               // 401
	http1(imdsAddr, "GET", "/latest/meta-data/iam/security-credentials/dev", "X-aws-ec2-metadata-token", imdsTok+"x")      // 401
	http1(imdsAddr, "GET", "/latest/meta-data/iam/security-credentials/dev", append(tk, "X-Forwarded-For", "10.0.0.1")...) // 403
	http1(imdsAddr, "DELETE", "/latest/meta-data/iam/security-credentials/dev", tk...)                                     // 405
	http1(imdsAddr, "PUT", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds", "0")                               // 400
	http1(ecsAddr, "GET", "/v1/credentials/dev", "Authorization", strings.TrimSpace(string(devToken)))                     // 200
	http1(ecsAddr, "GET", "/v1/credentials/dev", "Authorization", xt.Token)                                                // 200
	http1(ecsAddr, "GET", "/v1/credentials/dev")                                                                           // 401
	http1(ecsAddr, "GET", "/v1/credentials/dev", "Authorization", strings.TrimSpace(string(devToken))+"x")                 // 403
	http1(ecsAddr, "GET", "/v1/credentials/fed", "Authorization", strings.TrimSpace(string(devToken)))                     // 403
	http1(ecsAddr, "GET", "/v1/credentials/nope", "Authorization", strings.TrimSpace(string(devToken)))                    // 404
	xt.Close()
	waitFor(t, func() bool {
		c, _ := http1(ecsAddr, "GET", "/v1/credentials/dev", "Authorization", xt.Token)
		return c == 403
	})
	// 503: mfa's credentials dropped, so it needs a code again.
	if _, errOut, code := run("stsd", "clear", "mfa"); code != 0 {
		t.Errorf("stsd clear mfa: %d %s", code, errOut)
	}
	mfaToken, _ := os.ReadFile(filepath.Join(tokenDir, "mfa.token"))
	waitFor(t, func() bool {
		c, _ := http1(ecsAddr, "GET", "/v1/credentials/mfa", "Authorization", strings.TrimSpace(string(mfaToken)))
		return c == 503
	})
	if _, err := s.Credentials(t.Context(), "mfa"); err != nil {
		note("Credentials error for mfa", err.Error())
	} else {
		t.Error("mfa still has credentials after clear")
	}
	// Console sign-in URLs: stdout only (the sign-in token is recorded
	// as a secret from the endpoint's answer).
	var signinTokens []string
	for _, p := range []string{"role", "fed", "dev"} {
		out, errOut, code := run("stsd", "console", p, "--print", "--config", cfgPath)
		u, err := url.Parse(strings.TrimSpace(out))
		if code != 0 || err != nil || u.Query().Get("SigninToken") == "" {
			t.Fatalf("stsd console %s --print: exit %d %s", p, code, errOut)
		}
		signinTokens = append(signinTokens, u.Query().Get("SigninToken"))
		issued.add(u.Query().Get("SigninToken"))
	}
	run("stsd", "console", "fed", "--print", "--duration", "1h", "--config", cfgPath) // refused
	statusText, _, _ := run("stsd", "status")
	statusJSON, _, _ := run("stsd", "status", "--json")
	_, metrics := ctl("GET", "/metrics", "")
	stop()
	textBuf.Close()
	jsonBuf.Close()

	// The verdict.
	keys, secrets := issued.snapshot()
	if len(keys) < 6 || len(secrets) < 12 {
		t.Fatalf("the stand-in issued %d keys, %d secrets; want the refreshes above", len(keys), len(secrets))
	}
	outputs := map[string]string{
		"text log": textLog.String(), "json log": jsonLog.String(),
		"status": statusText, "status --json": statusJSON, "metrics": metrics,
	}
	for what, text := range seen {
		outputs[what] = text
	}
	// Any leakWindow characters in a row of a secret, token or key id count: a
	// leak of part of one is a leak.
	secretParts := windows(secrets, leakWindow)
	keyParts := windows(append(keys, hygieneSourceKey), leakWindow)
	for name, text := range outputs {
		if v, ok := leak(text, secretParts); ok {
			t.Errorf("%s holds part of a secret or token (%d chars long)", name, len(v))
		}
		if k, ok := leak(text, keyParts); ok {
			t.Errorf("%s holds a key id beyond its first and last 4 characters (%s)", name, k[:4]+"…"+k[len(k)-4:])
		}
	}
	// Key ids do appear, redacted.
	redacted := regexp.MustCompile(`ASIA…[A-Z0-9]{4}`)
	for _, name := range []string{"text log", "json log", "status", "status --json"} {
		if !redacted.MatchString(outputs[name]) {
			t.Errorf("%s shows no key id as ASIA…WXYZ", name)
		}
	}
	if !strings.Contains(textLog.String(), "event=refreshed") || !strings.Contains(jsonLog.String(), `"event":"refreshed"`) {
		t.Error("no refreshed events in the logs")
	}
	for _, ev := range []string{"needs_mfa", "refresh_failed", "exec_token_issued", "token_refused", "http_request"} {
		if !strings.Contains(textLog.String(), "event="+ev) {
			t.Errorf("the text log has no %s event: the test did not reach it", ev)
		}
	}
	// No file stsd wrote (cache, tokens, state) holds a sign-in token.
	signinParts := windows(signinTokens, leakWindow)
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if b, err := os.ReadFile(path); err == nil {
			if _, ok := leak(string(b), signinParts); ok {
				t.Errorf("%s holds part of a sign-in token", path)
			}
		}
		return nil
	})
}

// leakWindow is how many characters in a row of a secret make a leak.
const leakWindow = 12

// windows maps every n-character run of each value to its value.
func windows(values []string, n int) map[string]string {
	out := map[string]string{}
	for _, v := range values {
		for i := 0; i+n <= len(v); i++ {
			out[v[i:i+n]] = v
		}
	}
	return out
}

// leak returns a value one of whose leakWindow-long runs occurs in text.
func leak(text string, parts map[string]string) (string, bool) {
	for i := 0; i+leakWindow <= len(text); i++ {
		if v, ok := parts[text[i:i+leakWindow]]; ok {
			return v, true
		}
	}
	return "", false
}

// socketRequestBody is socketRequest with a request body.
func socketRequestBody(sock, method, path, body string) (int, string) {
	if body == "" {
		return socketRequest(sock, method, path)
	}
	c, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		return 0, err.Error()
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "%s %s HTTP/1.0\r\nHost: stsd\r\nContent-Length: %d\r\n\r\n%s", method, path, len(body), body)
	b, err := io.ReadAll(c)
	if err != nil {
		return 0, err.Error()
	}
	head, rest, _ := strings.Cut(string(b), "\r\n\r\n")
	var code int
	fmt.Sscanf(head, "HTTP/1.%d %d", new(int), &code)
	return code, rest
}

func waitFor(t *testing.T, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return ee.ExitCode()
}
