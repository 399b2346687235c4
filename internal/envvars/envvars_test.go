package envvars

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stsd/stsd/internal/wire"
)

// tricky values every format must carry through its shell unchanged.
var tricky = []string{
	"plain", "with space", `it's`, `a"b`, `back\slash`, `\'`, "$HOME", "`id`", "a;b|c&d", "",
	"ünïcode", "tab\there", "new\nline", "‘curly’", "FAKEsession//+==",
}

func trickyEnv() Env {
	var e Env
	for i, v := range tricky {
		e.Set = append(e.Set, Var{"STSD_T" + string(rune('A'+i)), v})
	}
	return e
}

// TestShellRoundTrip evaluates each format's output in its real shell and
// checks every value arrives unchanged. Shells not installed are skipped,
// saying so.
func TestShellRoundTrip(t *testing.T) {
	t.Parallel()
	shells := []struct {
		format string
		argv   []string
		dump   string
	}{
		{"sh", []string{"sh", "-c"}, `env -0`},
		{"fish", []string{"fish", "-c"}, `env -0`},
		{"powershell", []string{"pwsh", "-NoProfile", "-Command"}, "Get-ChildItem Env: | ForEach-Object { [Console]::Out.Write(\"$($_.Name)=$($_.Value)`0\") }"},
	}
	for _, sh := range shells {
		t.Run(sh.format, func(t *testing.T) {
			t.Parallel()
			if _, err := exec.LookPath(sh.argv[0]); err != nil {
				t.Skipf("%s not installed: skipping the %s round trip", sh.argv[0], sh.format)
			}
			e := trickyEnv()
			e.Unset = []string{"STSD_GONE"}
			var script bytes.Buffer
			if err := Write(&script, sh.format, e); err != nil {
				t.Fatal(err)
			}
			script.WriteString(sh.dump + "\n")
			cmd := exec.Command(sh.argv[0], append(sh.argv[1:], script.String())...)
			cmd.Env = append(os.Environ(), "STSD_GONE=1")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: %v", sh.argv[0], err)
			}
			got := map[string]string{}
			for kv := range strings.SplitSeq(string(out), "\x00") {
				if k, v, ok := strings.Cut(kv, "="); ok {
					got[k] = v
				}
			}
			for _, v := range e.Set {
				if v.Value == "" && sh.format == "powershell" {
					continue // PowerShell removes a variable set to ''
				}
				if got[v.Name] != v.Value {
					t.Errorf("%s: %s = %q; want %q", sh.format, v.Name, got[v.Name], v.Value)
				}
			}
			if _, ok := got["STSD_GONE"]; ok {
				t.Errorf("%s: STSD_GONE still set", sh.format)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	t.Parallel()
	e := trickyEnv()
	e.Unset = []string{"AWS_PROFILE"}
	var b bytes.Buffer
	if err := Write(&b, "json", e); err != nil {
		t.Fatal(err)
	}
	var got map[string]*string
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("json output does not parse: %v\n%s", err, b.String())
	}
	for _, v := range e.Set {
		if got[v.Name] == nil || *got[v.Name] != v.Value {
			t.Errorf("%s = %v; want %q", v.Name, got[v.Name], v.Value)
		}
	}
	if v, ok := got["AWS_PROFILE"]; !ok || v != nil {
		t.Errorf("AWS_PROFILE = %v, %v; want null", v, ok)
	}
	if err := Write(&b, "csh", e); err == nil || !strings.Contains(err.Error(), "sh, fish, powershell, json") {
		t.Errorf("Write(csh) = %v; want the list of formats", err)
	}
}

func TestContainer(t *testing.T) {
	t.Parallel()
	exp := time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("x", 3600))
	e := Container(ECS{URL: "http://127.0.0.1:9911/v1/credentials/dev", Token: "TOKEN", Region: "eu-west-1", Expiration: exp})
	environ := []string{
		"PATH=/bin", "AWS_PROFILE=dev", "AWS_DEFAULT_PROFILE=x", "AWS_ACCESS_KEY_ID=AKIAFAKE", "AWS_SECRET_ACCESS_KEY=s",
		"AWS_SESSION_TOKEN=t", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/x", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=/f",
		"AWS_REGION=us-west-2", "HOME=/h",
	}
	got := Apply(environ, e)
	want := []string{
		"PATH=/bin", "HOME=/h",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:9911/v1/credentials/dev",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN=TOKEN",
		"AWS_REGION=eu-west-1", "AWS_DEFAULT_REGION=eu-west-1",
		"AWS_CREDENTIAL_EXPIRATION=2026-01-02T02:04:05Z",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Apply(Container) (-want +got):\n%s", diff)
	}

	hint := Container(ECS{URL: "u", TokenFile: "/t/dev.token"})
	if !slices.Contains(hint.Unset, "AWS_CONTAINER_AUTHORIZATION_TOKEN") || slices.ContainsFunc(hint.Set, func(v Var) bool { return v.Name == "AWS_CONTAINER_AUTHORIZATION_TOKEN" }) {
		t.Errorf("token-file env %+v must unset AWS_CONTAINER_AUTHORIZATION_TOKEN (JS prefers it)", hint)
	}
}

func TestMerge(t *testing.T) {
	t.Parallel()
	e := Merge(IMDS("http://127.0.0.1:9912", "eu-west-1"), Container(ECS{URL: "u", TokenFile: "f", Region: "eu-west-1"}))
	names := func(vs []Var) (out []string) {
		for _, v := range vs {
			out = append(out, v.Name)
		}
		return out
	}
	wantSet := []string{"AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"}
	if diff := cmp.Diff(wantSet, names(e.Set)); diff != "" {
		t.Errorf("Merge set (-want +got):\n%s", diff)
	}
	for _, u := range e.Unset {
		if slices.Contains(wantSet, u) {
			t.Errorf("%s is both set and unset", u)
		}
	}
	if slices.Index(e.Unset, "AWS_PROFILE") < 0 || len(e.Unset) != len(slices.Compact(slices.Clone(e.Unset))) {
		t.Errorf("unset %v: want AWS_PROFILE once", e.Unset)
	}
}

func TestCredentials(t *testing.T) {
	t.Parallel()
	c := wire.Credentials{AccessKeyID: "ASIAFAKE0000000WXYZ", SecretAccessKey: "s", SessionToken: "t", Expiration: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	e := Credentials(c, "")
	if len(e.Set) != 4 || e.Set[3].Value != "2026-01-02T03:04:05Z" || len(e.Unset) != 0 {
		t.Errorf("Credentials without region = %+v", e)
	}
}

func TestRunExitCodes(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("uses sh")
	}
	tests := []struct {
		name string
		argv []string
		want int
	}{
		{"ok", []string{"sh", "-c", "exit 0"}, 0},
		{"code", []string{"sh", "-c", "exit 7"}, 7},
		{"killed", []string{"sh", "-c", "kill -TERM $$"}, 128 + int(syscall.SIGTERM)},
		{"not found", []string{"stsd-no-such-command"}, 127},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, _ := Run(tt.argv, os.Environ(), nil, nil, nil)
			if code != tt.want {
				t.Errorf("Run(%q) = %d; want %d", tt.argv, code, tt.want)
			}
		})
	}
	var out bytes.Buffer
	if code, err := Run([]string{"sh", "-c", `printf %s "$STSD_X"`}, []string{"STSD_X=v", "PATH=" + os.Getenv("PATH")}, nil, &out, nil); code != 0 || err != nil || out.String() != "v" {
		t.Errorf("Run with env = %d, %v, %q; want 0, v", code, err, out.String())
	}
}

// TestRunForwardsSignals: a SIGTERM sent to the process running Run
// reaches the child, whose exit code Run returns. The process is this test
// binary as a helper.
func TestRunForwardsSignals(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("no SIGTERM on Windows")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunHelper$")
	cmd.Env = append(os.Environ(), "STSD_RUN_HELPER=1")
	var out bytes.Buffer
	cmd.Stderr = &out
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := stdout.Read(buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("helper did not start: %q %v", buf, err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 42 {
		t.Errorf("helper exited %v; want 42 (the child's trap)\n%s", err, out.String())
	}
}

// TestRunHelper runs a child that traps SIGTERM and exits 42, and exits
// with Run's code.
func TestRunHelper(t *testing.T) {
	if os.Getenv("STSD_RUN_HELPER") == "" {
		t.Skip("helper")
	}
	code, err := Run([]string{"sh", "-c", `trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done`}, os.Environ(), nil, os.Stdout, os.Stderr)
	if err != nil {
		os.Exit(99)
	}
	os.Exit(code)
}

// TestContainerIDFormats: what `stsd container-env` prints, and the
// docker command line `stsd container-run` builds, which names the
// variables only.
func TestContainerIDFormats(t *testing.T) {
	t.Parallel()
	e := ContainerID("/v2/credentials/ABCDEFGHIJKLMNOPQRSTUVWXYZ", "eu-west-1")
	tests := []struct{ format, want string }{
		{"env", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/ABCDEFGHIJKLMNOPQRSTUVWXYZ\nAWS_REGION=eu-west-1\nAWS_DEFAULT_REGION=eu-west-1\n"},
		{"docker", "-e AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/ABCDEFGHIJKLMNOPQRSTUVWXYZ -e AWS_REGION=eu-west-1 -e AWS_DEFAULT_REGION=eu-west-1\n"},
		{"json", "{\n  \"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI\": \"/v2/credentials/ABCDEFGHIJKLMNOPQRSTUVWXYZ\",\n  \"AWS_REGION\": \"eu-west-1\",\n  \"AWS_DEFAULT_REGION\": \"eu-west-1\"\n}\n"},
	}
	for _, tt := range tests {
		var b strings.Builder
		if err := WriteContainer(&b, tt.format, e); err != nil || b.String() != tt.want {
			t.Errorf("WriteContainer(%s) = %q, %v; want %q", tt.format, b.String(), err, tt.want)
		}
	}
	if err := WriteContainer(io.Discard, "sh", e); err == nil {
		t.Error("WriteContainer(sh) = nil; want an unknown-format error")
	}
	argv := strings.Join(DockerRun(e, []string{"--rm", "alpine"}), " ")
	if want := "docker run -e AWS_CONTAINER_CREDENTIALS_RELATIVE_URI -e AWS_REGION -e AWS_DEFAULT_REGION --rm alpine"; argv != want {
		t.Errorf("DockerRun = %q; want %q", argv, want)
	}
	env := strings.Join(Apply([]string{"AWS_PROFILE=x", "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:1/", "HOME=/h"}, e), " ")
	if strings.Contains(env, "AWS_PROFILE") || strings.Contains(env, "FULL_URI") || !strings.Contains(env, "HOME=/h") {
		t.Errorf("Apply(ContainerID) = %q", env)
	}
}
