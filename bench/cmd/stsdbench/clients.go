//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

//go:embed botocore_creds.py
var botocoreScript []byte

// Client-cost case names; the first of each list is the floor.
const (
	boStatic = "static env credentials (floor)"
	boCP     = "credential_process (stsd-credential-process, daemon warm)"
	boIMDS   = "IMDS (token PUT + role GET + credentials GET)"
	boECS    = "ECS (credentials GET)"

	cliStatic  = "static env credentials (floor)"
	cliStatic2 = "static env credentials again (A/A control)"
	cliCP      = "credential_process (daemon warm)"
)

// clientsResult is the cost seen by real clients.
type clientsResult struct {
	BotocoreSkip string // why the botocore part did not run
	Botocore     string // versions
	BotoCases    []string
	BotoSamples  [][]float64 // seconds, paired by round

	CLISkip    string
	CLIVersion string
	CLICases   []string
	CLISamples [][]float64
}

// staticKey is the floor's static key: a fake that moto accepts.
const (
	staticKeyID  = "ASIAFAKESTATIC000001"
	staticSecret = "fakeSecretAccessKeyForTheBenchFloor00000"
)

func (b *bench) benchClients(ctx context.Context, a *world) (*clientsResult, error) {
	if err := a.startDaemon(ctx, ""); err != nil {
		return nil, err
	}
	defer a.stopDaemon()
	res := &clientsResult{}
	if err := b.botocore(ctx, a, res); err != nil {
		return nil, err
	}
	if err := b.awsCLI(ctx, a, res); err != nil {
		return nil, err
	}
	return res, nil
}

// envMap turns KEY=VALUE lines into a map.
func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// noFiles points botocore away from every shared file: the case's env
// alone decides the source.
func noFiles(dir string) map[string]string {
	return map[string]string{
		"AWS_CONFIG_FILE":             filepath.Join(dir, "none-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "none-credentials"),
	}
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func (b *bench) botocore(ctx context.Context, a *world, res *clientsResult) error {
	if exec.Command("python3", "-c", "import botocore").Run() != nil {
		res.BotocoreSkip = "python3 with botocore is not installed"
		b.notef("botocore client cost skipped: %s.", res.BotocoreSkip)
		return nil
	}
	st, err := a.status(ctx)
	if err != nil {
		return err
	}
	key, err := keyOf(a.get(ctx, "/v1/credentials/dev"))
	if err != nil {
		return err
	}
	ecsTok, err := a.ecsToken("dev")
	if err != nil {
		return err
	}
	base := envMap(a.env)
	delete(base, "AWS_ENDPOINT_URL_STS")
	type bcase struct {
		Env map[string]string `json:"env"`
		Key string            `json:"key"`
	}
	cases := map[string]bcase{
		boStatic: {merge(noFiles(a.dir), map[string]string{
			"AWS_ACCESS_KEY_ID": staticKeyID, "AWS_SECRET_ACCESS_KEY": staticSecret, "AWS_SESSION_TOKEN": "fake-session-token",
		}), staticKeyID},
		boCP: {map[string]string{"AWS_PROFILE": "dev"}, key},
		boIMDS: {merge(noFiles(a.dir), map[string]string{
			"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://" + st.endpoint("dev", "imds"),
		}), key},
		boECS: {merge(noFiles(a.dir), map[string]string{
			"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://" + st.endpoint("dev", "ecs") + "/v1/credentials/dev",
			"AWS_CONTAINER_AUTHORIZATION_TOKEN":  ecsTok,
		}), key},
	}
	spec, _ := json.Marshal(map[string]any{"rounds": b.botoRounds, "warm": 5, "base_env": base, "cases": cases})
	script := filepath.Join(b.root, "botocore_creds.py")
	if err := os.WriteFile(script, botocoreScript, 0o600); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, "python3", script)
	cmd.Env = a.env
	cmd.Dir = a.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stdin = bytes.NewReader(spec)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("botocore script: %w: %s", err, stderr.String())
	}
	var got struct {
		Botocore, Python string
		Samples          map[string][]float64
	}
	if err := json.Unmarshal(out, &got); err != nil {
		return fmt.Errorf("botocore script output: %w", err)
	}
	res.Botocore = "botocore " + got.Botocore + ", Python " + got.Python
	res.BotoCases = []string{boStatic, boCP, boIMDS, boECS}
	for _, c := range res.BotoCases {
		res.BotoSamples = append(res.BotoSamples, got.Samples[c])
		b.logf("  botocore %-60s median %.2f ms", c, summarize(got.Samples[c]).Median*1e3)
	}
	return nil
}

// awsCLI times whole `aws sts get-caller-identity` runs against moto:
// static env credentials (twice: the A/A pair shows the noise) and the
// credential_process profile, interleaved.
func (b *bench) awsCLI(ctx context.Context, a *world, res *clientsResult) error {
	aws, err := exec.LookPath("aws")
	if err != nil {
		res.CLISkip = "the AWS CLI is not installed"
	}
	motoBin, merr := exec.LookPath("moto_server")
	if merr != nil && res.CLISkip == "" {
		res.CLISkip = "moto_server is not installed"
	}
	if res.CLISkip != "" {
		b.notef("AWS CLI whole-process cost skipped: %s.", res.CLISkip)
		return nil
	}
	if v, err := exec.Command(aws, "--version").CombinedOutput(); err == nil {
		res.CLIVersion = strings.TrimSpace(string(v))
	}
	motoURL, stop, err := startMoto(ctx, motoBin)
	if err != nil {
		return err
	}
	defer stop()
	args := []string{aws, "sts", "get-caller-identity", "--output", "json"}
	static := merge(envMap(a.env), noFiles(a.dir), map[string]string{
		"AWS_ACCESS_KEY_ID": staticKeyID, "AWS_SECRET_ACCESS_KEY": staticSecret,
		"AWS_ENDPOINT_URL_STS": motoURL,
	})
	cp := merge(envMap(a.env), map[string]string{"AWS_PROFILE": "dev", "AWS_ENDPOINT_URL_STS": motoURL})
	specs := []procSpec{
		{name: cliStatic, argv: args, env: envList(static), dir: a.dir},
		{name: cliStatic2, argv: args, env: envList(static), dir: a.dir},
		{name: cliCP, argv: args, env: envList(cp), dir: a.dir},
	}
	samples, err := pairedRuns(ctx, specs, 2, b.cliRounds, 2*time.Minute)
	if err != nil {
		return err
	}
	res.CLICases = []string{cliStatic, cliStatic2, cliCP}
	res.CLISamples = samples
	for i, c := range res.CLICases {
		b.logf("  aws CLI %-45s median %.0f ms", c, summarize(samples[i]).Median*1e3)
	}
	return nil
}

func envList(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// startMoto runs moto_server on 127.0.0.1, port 0, and returns its URL.
func startMoto(ctx context.Context, bin string) (string, func(), error) {
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	cmd := exec.CommandContext(cctx, bin, "-H", "127.0.0.1", "-p", "0")
	cmd.Env = cleanEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StderrPipe()
	if err != nil {
		cancel()
		return "", nil, err
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		cancel()
		return "", nil, err
	}
	stop := func() { cancel(); cmd.Wait() }
	re := regexp.MustCompile(`Running on (http://127\.0\.0\.1:\d+)`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case u := <-found:
		return u, stop, nil
	case <-time.After(60 * time.Second):
		stop()
		return "", nil, fmt.Errorf("moto_server did not start within 60s")
	}
}
