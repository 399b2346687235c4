package main

import (
	"bytes"
	"flag"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// Fake credentials with characters each shell quotes differently.
const fakeCredentialProcess = `{"Version":1,"AccessKeyId":"ASIAFAKE0000000WXYZ","SecretAccessKey":"fake/Secret+it's\"q\"$x","SessionToken":"FAKEtoken//+==","Expiration":"2026-01-02T03:04:05Z"}` + "\n"

// fakeDaemon answers GET /v1/credentials/dev on a unix socket, as STSD_SOCKET.
func fakeDaemon(t *testing.T) {
	t.Helper()
	dir, err := os.MkdirTemp("", "sd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/credentials/dev", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(fakeCredentialProcess))
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	t.Setenv("STSD_SOCKET", sock)
}

func goldenFile(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

func writeConfig(t *testing.T, body string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, dir
}

// TestEnvFormats: `stsd env P --format F` for every format, from a daemon.
func TestEnvFormats(t *testing.T) {
	fakeDaemon(t)
	cfg, _ := writeConfig(t, "[profiles.dev]\nsource_profile = \"src\"\nregion = \"eu-west-1\"\n")
	for _, format := range []string{"sh", "fish", "powershell", "json"} {
		out, errOut, code := runCLI(t, "env", "dev", "--format", format, "--config", cfg)
		if code != 0 {
			t.Fatalf("stsd env --format %s = %d %s", format, code, errOut)
		}
		goldenFile(t, "env."+format+".golden", []byte(out))
	}
	_, errOut, code := runCLI(t, "env", "dev", "--format", "csh", "--config", cfg)
	if code != 2 || !strings.Contains(errOut, "sh|fish|powershell|json") {
		t.Errorf("stsd env --format csh = %d %q; want 2 and the formats", code, errOut)
	}
}

// TestEnvHint: IMDS and ECS lines, the token by file, no secret.
func TestEnvHint(t *testing.T) {
	fakeDaemon(t)
	cfg, _ := writeConfig(t, `[ecs]
listen = "127.0.0.1:9911"
token_dir = "/var/lib/stsd/ecs"

[profiles.dev]
source_profile = "src"
region = "eu-west-1"
imds_listen = "127.0.0.1:9912"

[profiles.plain]
source_profile = "src"
`)
	for _, format := range []string{"sh", "json"} {
		out, errOut, code := runCLI(t, "env-hint", "dev", "--format", format, "--config", cfg)
		if code != 0 {
			t.Fatalf("stsd env-hint = %d %s", code, errOut)
		}
		if strings.Contains(out, "fake/Secret") || strings.Contains(out, "FAKEtoken") {
			t.Error("env-hint printed a secret")
		}
		goldenFile(t, "env-hint."+format+".golden", []byte(out))
	}

	noEndpoints, _ := writeConfig(t, "[profiles.dev]\nsource_profile = \"src\"\n")
	_, errOut, code := runCLI(t, "env-hint", "dev", "--config", noEndpoints)
	if code != 1 || !strings.Contains(errOut, "no imds_listen") {
		t.Errorf("env-hint without endpoints = %d %q; want 1 and why", code, errOut)
	}
}

func TestExecUsage(t *testing.T) {
	for _, args := range [][]string{{"exec"}, {"exec", "dev"}, {"exec", "dev", "--"}, {"exec", "--", "true"}, {"exec", "a", "b", "--", "true"}} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), args, strings.NewReader(""), &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "usage: stsd exec PROFILE -- COMMAND") {
			t.Errorf("stsd %q = %d %q; want 2 and usage", args, code, stderr.String())
		}
	}
}
