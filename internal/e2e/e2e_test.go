//go:build !windows

// Package e2e drives the built binaries with real clients: the AWS CLI,
// boto3, and moto_server or the Go STS stand-in as STS.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stsd/stsd/internal/ststest"
)

var binDir string

// childEnv marks a run of this test binary as a helper child of a test.
const childEnv = "STSD_E2E_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" { // a helper child of a test: no builds
		os.Exit(m.Run())
	}
	os.Exit(func() int {
		d, err := os.MkdirTemp("", "stsd-e2e-bin")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(d)
		for _, pkg := range []string{"./cmd/stsd", "./cmd/stsd-credential-process", "./internal/cmd/fakests"} {
			cmd := exec.Command("go", "build", "-o", d+"/", pkg)
			cmd.Dir = "../.."
			// As released: a cgo build cannot drop capabilities on every
			// thread (linklocal.DropInherited).
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "go build %s: %v\n%s", pkg, err, out)
				return 1
			}
		}
		binDir = d
		return m.Run()
	}())
}

// world is a private HOME with a long-term key, an stsd config and an AWS
// profile whose credential_process is the small binary.
type world struct {
	dir string
	env []string
}

func newWorld(t *testing.T, stsURL, profiles string) *world {
	t.Helper()
	dir, err := os.MkdirTemp("", "e2e") // short: the socket lives here
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	home := filepath.Join(dir, "h")
	w := &world{dir: dir}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "STSD_") || strings.HasPrefix(k, "XDG_") || k == "HOME" {
			continue
		}
		w.env = append(w.env, kv)
	}
	w.env = append(w.env,
		"HOME="+home,
		"XDG_CONFIG_HOME="+home+"/.config",
		"XDG_CACHE_HOME="+home+"/.cache",
		"XDG_RUNTIME_DIR="+dir+"/r",
		"AWS_ENDPOINT_URL_STS="+stsURL,
		"AWS_DEFAULT_REGION=us-east-1",
	)
	mkdir(t, home+"/.aws", home+"/.config/stsd", dir+"/r")
	writeFile(t, home+"/.aws/credentials", "[src]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n")
	writeFile(t, home+"/.aws/config", "[profile dev]\ncredential_process = "+binDir+"/stsd-credential-process --profile dev\nregion = us-east-1\n")
	writeFile(t, home+"/.config/stsd/config.toml", profiles)
	return w
}

func mkdir(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (w *world) cmd(ctx context.Context, name string, args ...string) *exec.Cmd {
	if !strings.Contains(name, "/") && (name == "stsd" || name == "stsd-credential-process") {
		name = filepath.Join(binDir, name)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = w.env
	cmd.Dir = w.dir
	return cmd
}

// run runs a command to completion and returns stdout, stderr, exit code.
func (w *world) run(t *testing.T, name string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := w.cmd(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s: %v", name, err)
		}
		code = ee.ExitCode()
	}
	return stdout.String(), stderr.String(), code
}

// startDaemon runs `stsd run` until the test ends; stopping it must be
// clean (exit 0, socket removed).
func (w *world) startDaemon(t *testing.T) func() {
	t.Helper()
	cmd := w.cmd(context.Background(), "stsd", "run")
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(w.dir, "r", "stsd", "stsd.sock")
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("stsd run did not listen on %s:\n%s", sock, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("stsd run exited with %v:\n%s", err, logs.String())
		}
		if _, err := os.Stat(sock); err == nil {
			t.Error("socket left behind after SIGTERM")
		}
	}
	t.Cleanup(stop)
	return stop
}

const sessionConfig = `
[profiles.dev]
source_profile = "src"
duration = "1h"
`

type backend struct {
	name  string
	url   string
	calls func() int // nil for moto (it has no counter)
}

func standin(t *testing.T) backend {
	s := ststest.NewServer(t, ststest.Options{})
	return backend{"standin", s.URL, s.Calls}
}

// moto starts moto_server on 127.0.0.1, port 0, for the test.
func moto(t *testing.T) backend {
	t.Helper()
	if _, err := exec.LookPath("moto_server"); err != nil {
		t.Skip("moto_server not installed")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "moto_server", "-H", "127.0.0.1", "-p", "0")
	out, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	re := regexp.MustCompile(`Running on (http://127\.0\.0\.1:\d+)`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case url := <-found:
		return backend{"moto", url, nil}
	case <-time.After(60 * time.Second):
		t.Fatal("moto_server did not start")
	}
	return backend{}
}

func haveAWS(t *testing.T) bool {
	_, err := exec.LookPath("aws")
	return err == nil
}

func haveBoto3() bool {
	return exec.Command("python3", "-c", "import boto3").Run() == nil
}

// callerAccount runs `aws sts get-caller-identity` and a boto3 one-liner
// through the dev profile and checks both see an account.
func callerIdentity(t *testing.T, w *world) {
	t.Helper()
	if haveAWS(t) {
		out, errOut, code := w.run(t, "aws", "sts", "get-caller-identity", "--profile", "dev", "--output", "json")
		if code != 0 {
			t.Fatalf("aws sts get-caller-identity: exit %d: %s", code, errOut)
		}
		var id struct{ Account, Arn string }
		if err := json.Unmarshal([]byte(out), &id); err != nil || id.Account == "" {
			t.Fatalf("aws output %q: %v", out, err)
		}
	} else {
		t.Log("aws CLI not installed: skipping the CLI step")
	}
	if haveBoto3() {
		out, errOut, code := w.run(t, "python3", "-c",
			"import boto3; print(boto3.Session(profile_name='dev').client('sts').get_caller_identity()['Account'])")
		if code != 0 || strings.TrimSpace(out) == "" {
			t.Fatalf("boto3: exit %d: %s", code, errOut)
		}
	} else {
		t.Log("boto3 not installed: skipping the boto3 step")
	}
}

func TestRealClients(t *testing.T) {
	for _, mk := range []func(*testing.T) backend{standin, moto} {
		b := mk(t)
		t.Run(b.name, func(t *testing.T) {
			t.Run("daemon", func(t *testing.T) {
				w := newWorld(t, b.url, sessionConfig)
				stop := w.startDaemon(t)
				callerIdentity(t, w)
				out, errOut, code := w.run(t, "stsd", "credential-process", "--profile", "dev")
				if code != 0 || !strings.HasPrefix(out, `{"Version":1,`) {
					t.Fatalf("stsd credential-process: exit %d %s", code, errOut)
				}
				out, _, code = w.run(t, "stsd", "status")
				if code != 0 || !strings.Contains(out, "dev") {
					t.Errorf("stsd status: exit %d:\n%s", code, out)
				}
				stop()
			})
			t.Run("no-daemon", func(t *testing.T) {
				w := newWorld(t, b.url, sessionConfig)
				before := 0
				if b.calls != nil {
					before = b.calls()
				}
				callerIdentity(t, w)
				out, errOut, code := w.run(t, "stsd-credential-process", "--profile", "dev")
				if code != 0 || !strings.HasPrefix(out, `{"Version":1,`) {
					t.Fatalf("stsd-credential-process: exit %d %s", code, errOut)
				}
				if b.calls != nil {
					if got := b.calls() - before; got != 1 {
						t.Errorf("STS calls without a daemon = %d; want 1 (then the cache)", got)
					}
				}
			})
		})
	}
}

// TestConcurrentNoDaemon: parallel credential_process runs with no daemon
// and no cache make one STS call (the profile lock) and all succeed.
func TestConcurrentNoDaemon(t *testing.T) {
	b := standin(t)
	w := newWorld(t, b.url, sessionConfig)
	var wg sync.WaitGroup
	outs := make([]string, 8)
	for i := range outs {
		wg.Go(func() {
			out, errOut, code := w.run(t, "stsd-credential-process", "--profile", "dev")
			if code != 0 {
				t.Errorf("run %d: exit %d: %s", i, code, errOut)
			}
			outs[i] = out
		})
	}
	wg.Wait()
	if got := b.calls(); got != 1 {
		t.Errorf("STS calls = %d; want 1", got)
	}
	for i := range outs {
		if outs[i] != outs[0] {
			t.Errorf("run %d printed other credentials", i)
		}
	}
}

func TestNoDaemonStatusExits1(t *testing.T) {
	w := newWorld(t, "http://127.0.0.1:1", sessionConfig)
	_, errOut, code := w.run(t, "stsd", "status")
	if code != 1 || !strings.Contains(errOut, "no stsd daemon is running") {
		t.Errorf("stsd status with no daemon: exit %d %q", code, errOut)
	}
}

func TestCheckReportsEveryProblem(t *testing.T) {
	w := newWorld(t, "http://127.0.0.1:1", `
[profiles.dev]
source_profile = "src"
duration = "40h"
bogus = 1
`)
	_, errOut, code := w.run(t, "stsd", "check")
	if code != 2 {
		t.Fatalf("stsd check: exit %d; want 2\n%s", code, errOut)
	}
	for _, want := range []string{"config.toml:4: profiles.dev.duration", "config.toml:5: profiles.dev.bogus"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stsd check output lacks %q:\n%s", want, errOut)
		}
	}
}

// TestDemo runs `make demo`'s script in its one-shot mode so it cannot rot.
func TestDemo(t *testing.T) {
	cmd := exec.Command("bash", "../../scripts/demo.sh", "--once")
	cmd.Env = append(os.Environ(), "STSD_BIN="+binDir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	for _, want := range []string{"STS stand-in at http://127.0.0.1:", `"Version":1`, "done (one-shot mode)"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if haveAWS(t) && !strings.Contains(string(out), `"Account": "123456789012"`) {
		t.Errorf("demo: the AWS CLI did not get an identity:\n%s", out)
	}
}

const federationConfig = `
[profiles.dev]
source_profile = "src"
mode = "federation"
name = "app-{profile}"
duration = "1h"
policy = '{ "Version": "2012-10-17", "Statement": [ { "Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*" } ] }'
policy_arns = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
tags = { team = "e2e" }
`

// TestFederationRealClients: GetFederationToken end to end through the
// daemon and without it, against moto and the stand-in, read by the aws
// CLI and boto3.
func TestFederationRealClients(t *testing.T) {
	for _, mk := range []func(*testing.T) backend{standin, moto} {
		b := mk(t)
		t.Run(b.name, func(t *testing.T) {
			w := newWorld(t, b.url, federationConfig)
			stop := w.startDaemon(t)
			callerIdentity(t, w)
			out, _, code := w.run(t, "stsd", "status", "--json")
			if code != 0 || !strings.Contains(out, `"mode": "federation"`) || !strings.Contains(out, "federated-user/app-dev") {
				t.Errorf("status: exit %d\n%s", code, out)
			}
			stop()
			w2 := newWorld(t, b.url, federationConfig)
			callerIdentity(t, w2)
		})
	}
}

// TestReloadCommandAndSIGHUP: `stsd reload` applies an edit, refuses a
// broken config with exit 2 (the old one keeps serving, status says why),
// and SIGHUP does the same as the command.
func TestReloadCommandAndSIGHUP(t *testing.T) {
	b := standin(t)
	w := newWorld(t, b.url, sessionConfig)
	w.startDaemon(t)
	cfgPath := filepath.Join(w.dir, "h", ".config", "stsd", "config.toml")
	writeFile(t, cfgPath, sessionConfig+"\n[profiles.more]\nsource_profile = \"src\"\n")
	out, errOut, code := w.run(t, "stsd", "reload")
	if code != 0 || !strings.Contains(out, "config reloaded") {
		t.Fatalf("stsd reload: exit %d %s %s", code, out, errOut)
	}
	if out, _, _ := w.run(t, "stsd", "status"); !strings.Contains(out, "more") {
		t.Errorf("added profile not in status:\n%s", out)
	}
	writeFile(t, cfgPath, sessionConfig+"\nduration = \"40h\"\n")
	_, errOut, code = w.run(t, "stsd", "reload")
	if code != 2 || !strings.Contains(errOut, "config.toml:6: ") {
		t.Errorf("stsd reload of a broken config: exit %d %q; want 2 naming file:line", code, errOut)
	}
	out, _, _ = w.run(t, "stsd", "status")
	if !strings.Contains(out, "reload failed, previous config still running") {
		t.Errorf("status does not show the reload error:\n%s", out)
	}
	if _, errOut, code := w.run(t, "stsd-credential-process", "--profile", "dev"); code != 0 {
		t.Errorf("old config stopped serving: %s", errOut)
	}

	// SIGHUP reloads too.
	writeFile(t, cfgPath, sessionConfig+"\n[profiles.viahup]\nsource_profile = \"src\"\n")
	out, _, _ = w.run(t, "stsd", "status", "--json")
	var st struct{ PID int }
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.PID == 0 {
		t.Fatalf("status --json: %v", err)
	}
	syscall.Kill(st.PID, syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _, _ = w.run(t, "stsd", "status")
		if strings.Contains(out, "viahup") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SIGHUP did not reload:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
