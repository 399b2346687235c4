//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/stsd/stsd/daemon"
)

// world is a private HOME: a long-term key, an stsd config, an AWS
// profile per stsd profile whose credential_process is the small binary,
// and (when started) a daemon. Nothing outside its directory is read or
// written by the programs it runs.
type world struct {
	name string
	dir  string // short: the control socket lives under it
	home string
	bin  string   // directory of stsd and stsd-credential-process
	env  []string // the environment every program of this world gets

	daemon  *exec.Cmd
	logFile *os.File
	exited  chan struct{}
	// ready, when set, replaces "every profile ok" as the sign that a
	// started daemon is ready.
	ready func(*daemonStatus) bool
	// runArgs are extra arguments of `stsd run` (--cpu-profile).
	runArgs []string
}

// longTermKey is AWS's documented example key: never a real one.
const (
	longTermKeyID  = "AKIAIOSFODNN7EXAMPLE"
	longTermSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// newWorld makes a world under root whose STS is stsURL. profiles are the
// stsd profile names (each gets an AWS profile of the same name);
// stsdConfig is the config.toml.
func newWorld(root, name, bin, stsURL, stsdConfig string, profiles []string) (*world, error) {
	dir, err := os.MkdirTemp(root, name)
	if err != nil {
		return nil, err
	}
	w := &world{name: name, dir: dir, home: filepath.Join(dir, "h"), bin: bin}
	w.env = cleanEnv()
	w.env = append(w.env,
		"HOME="+w.home,
		"XDG_CONFIG_HOME="+w.home+"/.config",
		"XDG_CACHE_HOME="+w.home+"/.cache",
		"XDG_STATE_HOME="+w.home+"/.local/state",
		"XDG_RUNTIME_DIR="+dir+"/r",
		"AWS_ENDPOINT_URL_STS="+stsURL,
		"AWS_DEFAULT_REGION=us-east-1",
	)
	for _, d := range []string{w.home + "/.aws", w.home + "/.config/stsd", dir + "/r"} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	var awsConfig strings.Builder
	for _, p := range profiles {
		fmt.Fprintf(&awsConfig, "[profile %s]\ncredential_process = %s/stsd-credential-process --profile %s\nregion = us-east-1\n", p, bin, p)
	}
	files := map[string]string{
		w.home + "/.aws/credentials":         "[src]\naws_access_key_id = " + longTermKeyID + "\naws_secret_access_key = " + longTermSecret + "\n",
		w.home + "/.aws/config":              awsConfig.String(),
		w.home + "/.config/stsd/config.toml": stsdConfig,
	}
	for path, data := range files {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// cleanEnv is this process's environment without anything that would
// point a program at the real HOME, AWS profiles or an stsd.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "STSD_") || strings.HasPrefix(k, "XDG_") ||
			k == "HOME" || k == "GOMAXPROCS" || k == "GODEBUG" || k == "GOGC" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (w *world) socket() string { return filepath.Join(w.dir, "r", "stsd", "stsd.sock") }

// command is name (a binary of bin, or a PATH name) with w's environment.
// It dies with us.
func (w *world) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	if name == "stsd" || name == "stsd-credential-process" {
		name = filepath.Join(w.bin, name)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = w.env
	cmd.Dir = w.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// run runs a program of w to completion within a minute.
func (w *world) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := w.command(ctx, name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// startDaemon runs `stsd run` (on cpus when set) and waits until every
// profile has valid credentials.
func (w *world) startDaemon(ctx context.Context, cpus string) error {
	if w.daemon != nil {
		return errors.New("daemon already running")
	}
	lf, err := os.CreateTemp(w.dir, "daemon-*.log")
	if err != nil {
		return err
	}
	cmd := w.command(context.WithoutCancel(ctx), "stsd", append([]string{"run"}, w.runArgs...)...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := startOn(cmd, cpus); err != nil {
		lf.Close()
		return err
	}
	w.daemon, w.logFile, w.exited = cmd, lf, make(chan struct{})
	go func() { cmd.Wait(); close(w.exited) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := w.status(ctx)
		if err == nil && (w.ready == nil && st.allOK() || w.ready != nil && w.ready(st)) {
			return nil
		}
		select {
		case <-w.exited:
			return fmt.Errorf("stsd run exited: %s", w.logTail())
		case <-ctx.Done():
			w.stopDaemon()
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			w.stopDaemon()
			return fmt.Errorf("daemon of %s not ready within 20s (last: %v): %s", w.name, err, w.logTail())
		}
	}
}

// stopDaemon sends SIGTERM and waits (SIGKILL after 10 s).
func (w *world) stopDaemon() error {
	if w.daemon == nil {
		return nil
	}
	defer func() { w.daemon, w.logFile = nil, nil }()
	defer w.logFile.Close()
	w.daemon.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.exited:
	case <-time.After(10 * time.Second):
		w.daemon.Process.Kill()
		<-w.exited
		return errors.New("daemon did not stop within 10s of SIGTERM")
	}
	if !w.daemon.ProcessState.Success() {
		return fmt.Errorf("daemon exited with %v: %s", w.daemon.ProcessState, w.logTail())
	}
	return nil
}

func (w *world) daemonPID() int { return w.daemon.Process.Pid }

// logTail is the end of the daemon's log, for error messages (the daemon
// never logs a secret).
func (w *world) logTail() string {
	if w.logFile == nil {
		return ""
	}
	b, _ := os.ReadFile(w.logFile.Name())
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// control is an HTTP client for w's control socket.
func (w *world) control() *http.Client {
	sock := w.socket()
	return &http.Client{
		Timeout: 20 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", sock)
			},
			DisableKeepAlives: true,
		},
	}
}

// daemonStatus is the daemon's status as the bench reads it.
type daemonStatus struct{ *daemon.Status }

func (s *daemonStatus) allOK() bool {
	for _, p := range s.Profiles {
		if p.State != daemon.StateOK {
			return false
		}
	}
	return len(s.Profiles) > 0
}

// endpoint is the bound address of the named endpoint kind ("imds",
// "ecs") of profile, from status.
func (s *daemonStatus) endpoint(profile, kind string) string {
	for _, p := range s.Profiles {
		if p.Profile != profile {
			continue
		}
		for _, e := range p.Endpoints {
			if a, ok := strings.CutPrefix(e, kind+" "); ok {
				return a
			}
		}
	}
	return ""
}

func (w *world) status(ctx context.Context) (*daemonStatus, error) {
	st, err := daemon.NewClient(w.socket()).Status(ctx)
	if err != nil {
		return nil, err
	}
	return &daemonStatus{st}, nil
}

// get is a GET on the control socket; any status but 200 is an error.
func (w *world) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://stsd"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := w.control().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return b, nil
}

// ecsToken is profile's ECS token from the token_dir the bench configures.
func (w *world) ecsToken(profile string) (string, error) {
	b, err := os.ReadFile(filepath.Join(w.home, ".local/state/stsd/ecs", profile+".token"))
	return strings.TrimSpace(string(b)), err
}

// remove stops the daemon and deletes the world.
func (w *world) remove() {
	w.stopDaemon()
	os.RemoveAll(w.dir)
}
