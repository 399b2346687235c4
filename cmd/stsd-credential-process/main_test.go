package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stsd/stsd/cache"
	"github.com/stsd/stsd/internal/wire"
)

func TestRunUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "no args", args: nil, wantCode: 2, wantStderr: "--profile is required"},
		{name: "empty profile", args: []string{"--profile="}, wantCode: 2, wantStderr: "--profile is required"},
		{name: "unknown flag", args: []string{"--bogus"}, wantCode: 2, wantStderr: "flag provided but not defined"},
		{name: "missing value", args: []string{"--profile"}, wantCode: 2, wantStderr: "needs an argument"},
		{name: "extra arg", args: []string{"--profile", "dev", "extra"}, wantCode: 2, wantStderr: `unexpected argument "extra"`},
		{name: "help", args: []string{"-h"}, wantCode: 0, wantStderr: "usage: stsd-credential-process --profile P"},
		{name: "version", args: []string{"--version"}, wantCode: 0, wantStdout: "stsd-credential-process dev " + runtime.Version() + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("run(%q) = %d; want %d", tt.args, code, tt.wantCode)
			}
			if stdout.String() != tt.wantStdout {
				t.Errorf("run(%q) stdout = %q; want %q", tt.args, stdout.String(), tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("run(%q) stderr = %q; want it to contain %q", tt.args, stderr.String(), tt.wantStderr)
			}
			if tt.wantCode == 2 && strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("run(%q) stderr = %q; want one line", tt.args, stderr.String())
			}
		})
	}
}

// TestBinary builds the real binary and runs it with no daemon: from the
// cache, then (cache stale) by exec'ing an "stsd" next to it.
func TestBinary(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("uses a shell script as stsd")
	}
	bin := t.TempDir()
	exe := filepath.Join(bin, "stsd-credential-process")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=v9.9.9", "-o", exe, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if fi, err := os.Stat(exe); err == nil && fi.Size() > 8<<20 {
		t.Errorf("binary is %d bytes; want under 8 MiB", fi.Size())
	}
	// A stand-in stsd that prints its arguments.
	if err := os.WriteFile(filepath.Join(bin, "stsd"), []byte("#!/bin/sh\necho \"stsd $*\"\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	env := []string{
		"HOME=" + home,
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"STSD_SOCKET=" + filepath.Join(home, "no.sock"),
		"PATH=/usr/bin:/bin",
	}
	runBin := func(args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(exe, args...)
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return stdout.String(), stderr.String(), code
	}

	if out, _, code := runBin("--version"); code != 0 || !strings.HasPrefix(out, "stsd-credential-process v9.9.9 ") {
		t.Errorf("--version = %q, %d", out, code)
	}

	// No daemon, no cache: exec stsd next to the binary.
	out, errOut, code := runBin("--profile=dev")
	if want := "stsd credential-process --profile dev\n"; out != want || code != 3 {
		t.Errorf("fallback: stdout %q, exit %d (stderr %q); want %q, 3", out, code, errOut, want)
	}

	// A fresh cache entry is printed as is.
	c := wire.Credentials{
		AccessKeyID:     "ASIAFAKEEXAMPLE12345",
		SecretAccessKey: "fakeSecretAccessKeyDoNotUse0123456789abcd",
		SessionToken:    "fakeSessionTokenDoNotUse",
		Expiration:      time.Now().Add(time.Hour).Truncate(time.Second).UTC(),
	}
	s, err := cache.Open(filepath.Join(home, ".cache", "stsd"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(&cache.Entry{Profile: "dev", Credentials: c, Issued: time.Now()}); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runBin("--profile", "dev")
	if code != 0 || out != string(wire.Marshal(c)) || errOut != "" {
		t.Errorf("cache: exit %d, stderr %q, stdout matches Marshal: %v", code, errOut, out == string(wire.Marshal(c)))
	}
}

// TestParseArgsLikeFlag: parseArgs reads arguments as package flag did
// (same profile, version, help and failure), without its cost.
func TestParseArgsLikeFlag(t *testing.T) {
	t.Parallel()
	viaFlag := func(args []string) (cmdArgs, string) {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		profile := fs.String("profile", "", "")
		version := fs.Bool("version", false, "")
		err := fs.Parse(args)
		switch {
		case errors.Is(err, flag.ErrHelp):
			return cmdArgs{}, "help"
		case err != nil:
			return cmdArgs{}, err.Error()
		case fs.NArg() > 0:
			return cmdArgs{}, fmt.Sprintf("unexpected argument %q", fs.Arg(0))
		}
		return cmdArgs{profile: *profile, version: *version}, ""
	}
	for _, args := range [][]string{
		nil, {"--profile", "dev"}, {"-profile", "dev"}, {"--profile=dev"}, {"-profile=a=b"}, {"--profile="},
		{"--profile", "-x"}, {"--profile", "a", "--profile", "b"}, {"--version"}, {"-version=false"},
		{"--version=1"}, {"--version=maybe"}, {"--version", "false"}, {"-h"}, {"--help"}, {"-help=x"},
		{"--profile"}, {"--bogus"}, {"---profile"}, {"-=x"}, {"-"}, {"--"}, {"--", "dev"},
		{"dev"}, {"--profile", "dev", "extra"}, {"--profile", "dev", "--", "x"}, {"--profile", "dev", "--"},
	} {
		want, wantErr := viaFlag(args)
		got, err := parseArgs(args)
		gotErr := ""
		switch {
		case errors.Is(err, errHelp):
			got, gotErr = cmdArgs{}, "help"
		case err != nil:
			got, gotErr = cmdArgs{}, err.Error()
		}
		if got != want || gotErr != wantErr {
			t.Errorf("parseArgs(%q) = %+v, %q; package flag reads %+v, %q", args, got, gotErr, want, wantErr)
		}
	}
}
