//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/stsd/stsd/internal/netns"
	"github.com/stsd/stsd/internal/nobody"
	"github.com/stsd/stsd/internal/servetest"
)

// llConfig serves dev on the instance address and both profiles on the
// container address; dev is readable from containers in 192.0.2.0/28
// (which holds the host's own end of the link, 192.0.2.1, as
// 172.17.0.0/16 holds docker0's 172.17.0.1), other from 198.51.100.0/24
// only.
const llConfig = `
[ecs]
listen = "127.0.0.1:0"
container_listen = "169.254.170.2:80"

[profiles.dev]
source_profile = "src"
duration = "1h"
region = "us-east-1"
imds_listen = "169.254.169.254:80"
container_cidrs = ["192.0.2.0/28"]

[profiles.other]
source_profile = "src"
duration = "1h"
container_cidrs = ["198.51.100.0/24"]
`

// agentRefusal is the ECS agent's answer to an id it does not know.
const agentRefusal = `{"code":"InvalidIdInRequest","message":"CredentialsV2Request: Credentials not found","HTTPErrorCode":400}`

// llWorld is a "host" network namespace running stsd on the link-local
// addresses and the STS stand-in on 192.0.2.1, and a "container"
// namespace linked to it by a veth pair (192.0.2.2 and 192.0.2.20, default
// route through the host), as a bridged container is.
type llWorld struct {
	*world
	host, ctr *netns.NS
	stsURL    string
}

func newLLWorld(t *testing.T, config string) *llWorld {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed: the link-local tests probe with it")
	}
	host, ctr := netns.New(t), netns.New(t)
	_, ctrIf := netns.Link(host, "192.0.2.1/24", ctr, "192.0.2.2/24")
	ctr.IP("addr", "add", "192.0.2.20/24", "dev", ctrIf)
	ctr.IP("route", "add", "default", "via", "192.0.2.1")
	sts := host.Command(filepath.Join(binDir, "fakests"), "-listen", "192.0.2.1:0")
	out, _ := sts.StdoutPipe()
	sts.Stderr = io.Discard
	if err := sts.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sts.Process.Signal(syscall.SIGTERM); sts.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "STS_URL=")
	if err != nil || !ok {
		t.Fatalf("fakests in the host namespace: %q %v", line, err)
	}
	return &llWorld{world: newWorld(t, url, config), host: host, ctr: ctr, stsURL: url}
}

// nsDaemon is one `stsd run` in the host namespace.
type nsDaemon struct {
	cmd  *exec.Cmd
	logs *bytes.Buffer    // read once it has exited
	live servetest.Buffer // the same, safe to read while it runs
}

// startDaemon runs `stsd run` in the host namespace until the test ends
// or stop/kill is called, and waits for its socket.
func (w *llWorld) startDaemon(t *testing.T) *nsDaemon {
	t.Helper()
	cmd := w.host.Command(filepath.Join(binDir, "stsd"), "run")
	cmd.Env, cmd.Dir = w.env, w.dir
	d := &nsDaemon{cmd: cmd, logs: &bytes.Buffer{}}
	cmd.Stderr = io.MultiWriter(d.logs, &d.live)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.kill() })
	sock := filepath.Join(w.dir, "r", "stsd", "stsd.sock")
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return d
		}
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			d.kill()
			t.Fatalf("stsd run did not listen on %s:\n%s", sock, d.logs)
		}
	}
}

// stop sends SIGTERM and wants a clean exit.
func (d *nsDaemon) stop(t *testing.T) {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	if err := d.cmd.Wait(); err != nil {
		t.Errorf("stsd run exited with %v:\n%s", err, d.logs)
	}
}

func (d *nsDaemon) kill() {
	if d.cmd.ProcessState == nil {
		d.cmd.Process.Kill()
		d.cmd.Wait()
	}
}

// cleanEnv is what a client gets: no AWS variable but the STS endpoint
// and the region (botocore never takes the region from IMDS), a HOME with
// no AWS files, plus extra.
func (w *llWorld) cleanEnv(t *testing.T, extra ...string) []string {
	home := t.TempDir()
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home,
		"AWS_ENDPOINT_URL_STS=" + w.stsURL, "AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1"}, extra...)
}

// runIn runs name in ns with env and returns stdout, stderr and the exit
// code.
func runIn(t *testing.T, ns *netns.NS, env []string, name string, args ...string) (string, string, int) {
	t.Helper()
	cmd := ns.Command(name, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return stdout.String(), stderr.String(), code
}

// key is dev's current access key id, as the daemon hands it out.
func (w *llWorld) key(t *testing.T) string {
	t.Helper()
	out, errOut, code := w.run(t, "stsd", "credential-process", "--profile", "dev")
	var c struct{ AccessKeyId string }
	if code != 0 || json.Unmarshal([]byte(out), &c) != nil || c.AccessKeyId == "" {
		t.Fatalf("stsd credential-process: %d %s", code, errOut)
	}
	return c.AccessKeyId
}

// mint runs `stsd container-env P` and returns the id and the env lines.
func (w *llWorld) mint(t *testing.T, profile string) (string, []string) {
	t.Helper()
	out, errOut, code := w.run(t, "stsd", "container-env", profile)
	if code != 0 {
		t.Fatalf("stsd container-env %s: %d %s", profile, code, errOut)
	}
	lines := strings.Fields(out)
	id := ""
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/"); ok {
			id = v
		}
	}
	if len(id) < 26 || !strings.Contains(out, "AWS_REGION=us-east-1\n") || !strings.Contains(out, "AWS_DEFAULT_REGION=us-east-1\n") {
		t.Fatalf("stsd container-env %s printed %q", profile, out)
	}
	return id, lines
}

// curl fetches url in ns (from the address src, when set) and returns the
// status and body.
func curl(t *testing.T, ns *netns.NS, src, method, url string, hdr ...string) (string, string) {
	t.Helper()
	args := []string{"-s", "-m", "5", "-X", method, "-w", "\n%{http_code}", url}
	if src != "" {
		args = append(args, "--interface", src)
	}
	for _, h := range hdr {
		args = append(args, "-H", h)
	}
	out, _, _ := runIn(t, ns, []string{"PATH=" + os.Getenv("PATH")}, "curl", args...)
	i := strings.LastIndexByte(out, '\n')
	if i < 0 {
		return out, ""
	}
	return out[i+1:], out[:i]
}

const boto3Script = `import boto3
s = boto3.Session()
c = s.get_credentials()
print(c.method, c.get_frozen_credentials().access_key, s.client('sts').get_caller_identity()['Account'])`

// TestLinkLocalEndpoints: in a namespace standing for a host, stsd serves
// 169.254.169.254:80 and 169.254.170.2:80, putting both addresses on lo.
// The aws CLI and boto3 there get credentials with no metadata or
// container variable at all, and a child running as nobody is refused. In
// a second namespace standing for a bridged container, boto3,
// aws-sdk-go-v2 and the JS SDK v3 get credentials through the relative
// URI `stsd container-env` prints; a wrong, revoked or other profile's id
// and a source outside container_cidrs get the agent's refusal and no
// credential; after a refresh the container gets the new key; at exit
// the addresses are gone.
func TestLinkLocalEndpoints(t *testing.T) {
	w := newLLWorld(t, llConfig)
	d := w.startDaemon(t)
	key := w.key(t)
	hostAddrs := w.host.Output("-4", "addr", "show", "dev", "lo")
	for _, want := range []string{"169.254.169.254/32", "169.254.170.2/32", "lo:stsd"} {
		if !strings.Contains(hostAddrs, want) {
			t.Fatalf("host lo lacks %s:\n%s", want, hostAddrs)
		}
	}

	t.Run("host/aws-cli", func(t *testing.T) {
		if !haveAWS(t) {
			t.Skip("aws CLI not installed")
		}
		out, errOut, code := runIn(t, w.host, w.cleanEnv(t), "aws", "sts", "get-caller-identity", "--output", "json")
		if code != 0 || !strings.Contains(out, `"Account": "123456789012"`) {
			t.Fatalf("aws sts get-caller-identity in the host namespace: %d %s %s", code, out, errOut)
		}
	})
	t.Run("host/boto3", func(t *testing.T) {
		if !haveBoto3() {
			t.Skip("boto3 not installed")
		}
		out, errOut, code := runIn(t, w.host, w.cleanEnv(t), "python3", "-c", boto3Script)
		if code != 0 || strings.TrimSpace(out) != "iam-role "+key+" 123456789012" {
			t.Fatalf("boto3 in the host namespace: %d %q %s; want iam-role %s", code, out, errOut, key)
		}
	})
	t.Run("host/nobody refused", func(t *testing.T) {
		if _, err := exec.LookPath("setpriv"); err != nil {
			t.Skip("setpriv (util-linux) not installed")
		}
		out, _, _ := runIn(t, w.host, []string{"PATH=" + os.Getenv("PATH")}, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
			"curl", "-s", "-w", "\n%{http_code}", "-X", "PUT", "-H", "X-aws-ec2-metadata-token-ttl-seconds: 60", "http://169.254.169.254/latest/api/token")
		if !strings.HasSuffix(out, "\n403") {
			t.Errorf("IMDS token PUT as nobody: %q; want 403", out)
		}
	})

	id, _ := w.mint(t, "dev")
	ctrEnv := w.cleanEnv(t, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/"+id)
	t.Run("host/nobody from an address in container_cidrs", func(t *testing.T) {
		// A local user is a local caller whatever its source: the uid check
		// applies, never the container rule, even with a live id.
		if _, err := exec.LookPath("setpriv"); err != nil {
			t.Skip("setpriv (util-linux) not installed")
		}
		asNobody := func(args ...string) string {
			out, _, _ := runIn(t, w.host, []string{"PATH=" + os.Getenv("PATH")}, "setpriv",
				append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "curl", "-s", "-w", "\n%{http_code}", "--interface", "192.0.2.1"}, args...)...)
			return out
		}
		if out := asNobody("http://169.254.170.2/v2/credentials/" + id); out != agentRefusal+"\n400" {
			t.Errorf("container id as nobody from 192.0.2.1: %q; want the agent's refusal", out)
		}
		if out := asNobody("-X", "PUT", "-H", "X-aws-ec2-metadata-token-ttl-seconds: 60", "http://169.254.169.254/latest/api/token"); !strings.HasSuffix(out, "\n403") {
			t.Errorf("IMDS as nobody from 192.0.2.1: %q; want 403", out)
		}
		// Nor can it borrow a container's address: IP_FREEBIND lets a local
		// socket bind a source it does not have, but the kernel routes no
		// local packet from it (only IP_TRANSPARENT, which needs
		// CAP_NET_ADMIN, would), and any answer would go to that address's
		// owner: no connection either way.
		out, errOut, _ := runIn(t, w.host, []string{"PATH=" + os.Getenv("PATH"), childEnv + "=freebind 192.0.2.5 " + id},
			"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", nobody.TestBinary(t), "-test.run=^TestFreebindChild$")
		if !strings.HasPrefix(out, "no connection: ") || !strings.Contains(out, "connect: ") {
			t.Errorf("a freebind socket as nobody from 192.0.2.5: %q %s; want a bound socket that cannot connect", out, errOut)
		}
	})
	containerClients(t, w, ctrEnv, key)

	t.Run("container refusals", func(t *testing.T) {
		revoked, _ := w.mint(t, "dev")
		rev := w.cmd(t.Context(), "stsd", "container-env", "--revoke", "-")
		rev.Stdin = strings.NewReader(revoked + "\n")
		if out, err := rev.CombinedOutput(); err != nil || !strings.Contains(string(out), "revoked") {
			t.Fatalf("container-env --revoke -: %v %s", err, out)
		}
		other, _ := w.mint(t, "other")
		for _, tt := range []struct{ name, src, id string }{
			{"wrong id", "192.0.2.2", "WRONG" + id[5:]},
			{"revoked id", "192.0.2.2", revoked},
			{"another profile's id", "192.0.2.2", other},
			{"outside container_cidrs", "192.0.2.20", id},
		} {
			status, body := curl(t, w.ctr, tt.src, "GET", "http://169.254.170.2/v2/credentials/"+tt.id)
			if status != "400" || body != agentRefusal {
				t.Errorf("%s: %s %q; want 400 %s", tt.name, status, body, agentRefusal)
			}
		}
		// IMDS answers a container only from container_cidrs.
		if status, _ := curl(t, w.ctr, "192.0.2.20", "PUT", "http://169.254.169.254/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds: 60"); status != "403" {
			t.Errorf("IMDS from outside container_cidrs: %s; want 403", status)
		}
		if status, tok := curl(t, w.ctr, "192.0.2.2", "PUT", "http://169.254.169.254/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds: 60"); status != "200" || tok == "" {
			t.Errorf("IMDS from container_cidrs: %s; want 200", status)
		}
		// The list shows ids shortened, never whole.
		out, _, _ := w.run(t, "stsd", "container-env", "--list")
		if !strings.Contains(out, id[:4]+"…"+id[len(id)-4:]) || strings.Contains(out, id) || strings.Contains(out, revoked[:4]+"…") {
			t.Errorf("container-env --list:\n%s", out)
		}
	})

	t.Run("refresh reaches the container", func(t *testing.T) {
		if out, errOut, code := w.run(t, "stsd", "refresh", "dev"); code != 0 {
			t.Fatalf("stsd refresh: %d %s %s", code, out, errOut)
		}
		newKey := key
		for deadline := time.Now().Add(15 * time.Second); newKey == key; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("no new key after stsd refresh")
			}
			newKey = w.key(t)
		}
		if !haveBoto3() {
			t.Skip("boto3 not installed")
		}
		out, errOut, code := runIn(t, w.ctr, ctrEnv, "python3", "-c", boto3Script)
		if code != 0 || strings.TrimSpace(out) != "container-role "+newKey+" 123456789012" {
			t.Errorf("boto3 in the container after a refresh: %d %q %s; want the new key %s", code, out, errOut, newKey)
		}
	})

	d.stop(t)
	for _, s := range []string{id, "fakeSecret"} {
		if strings.Contains(d.logs.String(), s) {
			t.Errorf("the daemon log holds %q", s)
		}
	}
	for _, event := range []string{"event=linklocal_added", "event=container_id_refused", "reason=outside_container_cidrs", "reason=uid_not_allowed", "event=container_id_issued", "event=container_id_revoked", "event=linklocal_removed"} {
		if !strings.Contains(d.logs.String(), event) {
			t.Errorf("daemon log lacks %s", event)
		}
	}
	if after := w.host.Output("-4", "addr", "show", "dev", "lo"); strings.Contains(after, "169.254.") {
		t.Errorf("addresses left on lo after stsd stopped:\n%s", after)
	}
}

// containerClients runs boto3, aws-sdk-go-v2 and the JS SDK v3 in the
// container namespace with env; each must get key.
func containerClients(t *testing.T, w *llWorld, env []string, key string) {
	t.Run("container/boto3", func(t *testing.T) {
		if !haveBoto3() {
			t.Skip("boto3 not installed")
		}
		out, errOut, code := runIn(t, w.ctr, env, "python3", "-c", boto3Script)
		if code != 0 || strings.TrimSpace(out) != "container-role "+key+" 123456789012" {
			t.Fatalf("boto3 in the container: %d %q %s; want container-role %s", code, out, errOut, key)
		}
	})
	t.Run("container/go-sdk-v2", func(t *testing.T) {
		out, errOut, code := runIn(t, w.ctr, append(env, childEnv+"=go-sdk"), os.Args[0], "-test.run=^TestGoSDKChild$")
		if code != 0 || !strings.Contains(out, "key="+key+" account=123456789012") {
			t.Fatalf("aws-sdk-go-v2 in the container: %d %s %s; want key %s", code, out, errOut, key)
		}
	})
	for _, mode := range []string{"chain", "container"} {
		t.Run("container/js-"+mode, func(t *testing.T) {
			haveNode(t)
			script, _ := filepath.Abs(filepath.Join(jsDir(), "clients.mjs"))
			out, errOut, code := runIn(t, w.ctr, env, "node", script, mode)
			if code != 0 || !strings.Contains(out, `"accessKeyId":"`+key+`"`) || !strings.Contains(out, `"account":"123456789012"`) {
				t.Fatalf("node clients.mjs %s in the container: %d %s %s", mode, code, out, errOut)
			}
		})
	}
}

// TestGoSDKChild is aws-sdk-go-v2's default chain run inside a test's
// container namespace: it prints the key it got and the account STS
// (AWS_ENDPOINT_URL_STS) names.
func TestGoSDKChild(t *testing.T) {
	if os.Getenv(childEnv) != "go-sdk" {
		t.Skip("child helper")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	key, account, err := goSDKIdentity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("key=%s account=%s\n", key, account)
}

// goSDKIdentity resolves credentials through aws-sdk-go-v2's default chain
// and calls GetCallerIdentity with them.
func goSDKIdentity(ctx context.Context) (key, account string, err error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return "", "", err
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return "", "", err
	}
	out, err := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(os.Getenv("AWS_ENDPOINT_URL_STS")) }).
		GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", "", err
	}
	return creds.AccessKeyID, aws.ToString(out.Account), nil
}

// loAddrs is the host namespace's lo addresses.
func (w *llWorld) loAddrs() string { return w.host.Output("-4", "addr", "show", "dev", "lo") }

// TestLinkLocalAddressLifecycle: the address stsd adds is removed at exit;
// after a SIGKILL it stays, carrying stsd's label, and the next start
// adopts it and removes it at its exit (or removes it at once when the
// config no longer uses it); an address that was there before is used and
// left alone. Where a real instance metadata service answers
// (a third namespace stands for the cloud's), stsd refuses to start
// unless replace_instance_metadata = true, and `stsd check` says so; a
// server already on port 80 is "in use" to `stsd check`.
func TestLinkLocalAddressLifecycle(t *testing.T) {
	const cfg = "[profiles.dev]\nsource_profile = \"src\"\nduration = \"1h\"\nimds_listen = \"169.254.169.254:80\"\n"
	w := newLLWorld(t, cfg)
	imdsUp := func(t *testing.T) {
		t.Helper()
		if status, _ := curl(t, w.host, "", "PUT", "http://169.254.169.254/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds: 60"); status != "200" {
			t.Fatalf("IMDS token PUT: %s; want 200", status)
		}
	}

	t.Run("sigkill leftover adopted at the next start", func(t *testing.T) {
		d := w.startDaemon(t)
		imdsUp(t)
		d.kill()
		if a := w.loAddrs(); !strings.Contains(a, "169.254.169.254/32") || !strings.Contains(a, "lo:stsd") {
			t.Fatalf("after SIGKILL the labelled address should remain:\n%s", a)
		}
		d = w.startDaemon(t)
		imdsUp(t)
		d.stop(t)
		if !strings.Contains(d.logs.String(), "event=linklocal_adopted") {
			t.Errorf("the next start did not adopt the leftover:\n%s", d.logs)
		}
		if a := w.loAddrs(); strings.Contains(a, "169.254.169.254") {
			t.Errorf("the leftover was not removed at exit:\n%s", a)
		}
	})
	t.Run("a leftover the config no longer uses is swept", func(t *testing.T) {
		w.host.IP("addr", "add", "169.254.170.2/32", "dev", "lo", "label", "lo:stsd")
		d := w.startDaemon(t)
		d.stop(t)
		if a := w.loAddrs(); strings.Contains(a, "169.254.170.2") {
			t.Errorf("a crashed daemon's unused leftover stayed:\n%s", a)
		}
	})
	t.Run("address there before is left alone", func(t *testing.T) {
		w.host.IP("addr", "add", "169.254.169.254/32", "dev", "lo")
		defer w.host.IP("addr", "del", "169.254.169.254/32", "dev", "lo")
		d := w.startDaemon(t)
		imdsUp(t)
		d.stop(t)
		if a := w.loAddrs(); !strings.Contains(a, "169.254.169.254/32") {
			t.Errorf("stsd removed an address it did not add:\n%s", a)
		}
	})
	t.Run("port 80 in use", func(t *testing.T) {
		ln := w.host.Command("python3", "-c", "import socket,sys,time\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('0.0.0.0',80));s.listen();print('up',flush=True);sys.stdin.read()")
		stdin, _ := ln.StdinPipe()
		out, _ := ln.StdoutPipe()
		if err := ln.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { stdin.Close(); ln.Wait() }()
		bufio.NewReader(out).ReadString('\n')
		_, errOut, code := runIn(t, w.host, w.env, filepath.Join(binDir, "stsd"), "check")
		if code != 2 || !strings.Contains(errOut, "profiles.dev.imds_listen: 169.254.169.254:80 is in use: something already listens on 0.0.0.0:80") {
			t.Errorf("stsd check with port 80 taken: %d %s", code, errOut)
		}
	})
	t.Run("real metadata service", func(t *testing.T) {
		cloud := netns.New(t)
		netns.Link(w.host, "198.51.100.1/24", cloud, "198.51.100.2/24")
		cloud.IP("addr", "add", "169.254.169.254/32", "dev", "lo")
		w.host.IP("route", "add", "169.254.169.254/32", "via", "198.51.100.2")
		srv := cloud.Command("python3", "-m", "http.server", "--bind", "169.254.169.254", "80")
		srv.Stdout, srv.Stderr = io.Discard, io.Discard
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { srv.Process.Kill(); srv.Wait() }()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if status, _ := curl(t, w.host, "", "GET", "http://169.254.169.254/"); status == "200" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the cloud's metadata stand-in did not come up")
			}
		}
		_, errOut, code := runIn(t, w.host, w.env, filepath.Join(binDir, "stsd"), "check")
		if code != 2 || !strings.Contains(errOut, "a real instance metadata service answers at 169.254.169.254") {
			t.Errorf("stsd check with a real metadata service: %d %s", code, errOut)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		run := exec.CommandContext(ctx, "ip", "netns", "exec", w.host.Name, filepath.Join(binDir, "stsd"), "run")
		run.Env, run.Dir = w.env, w.dir
		out, err := run.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "replace_instance_metadata = true") {
			t.Errorf("stsd run where a metadata service answers: %v\n%s", err, out)
		}
		if a := w.loAddrs(); strings.Contains(a, "169.254.169.254") {
			t.Errorf("a refused start left the address:\n%s", a)
		}
		writeFile(t, filepath.Join(w.dir, "h/.config/stsd/config.toml"), cfg+"replace_instance_metadata = true\n")
		d := w.startDaemon(t)
		if status, _ := curl(t, w.host, "", "GET", "http://169.254.169.254/"); status != "401" {
			t.Errorf("with replace_instance_metadata the host should reach stsd (401: no token), got %s", status)
		}
		d.stop(t)
		if status, _ := curl(t, w.host, "", "GET", "http://169.254.169.254/"); status != "200" {
			t.Errorf("after stsd stopped the host should reach its metadata service again, got %s", status)
		}
	})
}

// capsScript records the capability sets it runs with in caps-<what> beside
// itself, then does a child's job: a source credential_process (a
// long-term key), an mfa_process (a code), or notify_command (nothing).
const capsScript = `#!/bin/sh
grep -E '^Cap(Inh|Prm|Eff|Amb)' /proc/self/status > "$(dirname "$0")/caps-$1.tmp"
mv "$(dirname "$0")/caps-$1.tmp" "$(dirname "$0")/caps-$1"
case $1 in
src) printf '{"Version":1,"AccessKeyId":"AKIAIOSFODNN7EXAMPLE","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}' ;;
mfa) echo 123456 ;;
esac
`

// TestLinkLocalCapabilities: stsd runs as nobody with only CAP_NET_ADMIN
// and CAP_NET_BIND_SERVICE in its ambient set, as the system unit starts
// it. It adds 169.254.169.254 to lo, serves port 80 and removes the
// address at exit; yet its own threads hold no effective, inheritable or
// ambient capability, and its children (a source credential_process,
// mfa_process, notify_command) start with none at all. Without the
// capabilities `stsd check` says which are missing.
func TestLinkLocalCapabilities(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run stsd as nobody with capabilities")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv (util-linux) not installed")
	}
	host := netns.New(t)
	sts := host.Command(filepath.Join(binDir, "fakests"))
	out, _ := sts.StdoutPipe()
	if err := sts.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sts.Process.Signal(syscall.SIGTERM); sts.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	stsURL := strings.TrimPrefix(strings.TrimSpace(line), "STS_URL=")

	dir, err := os.MkdirTemp("", "e2ecap")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	home := filepath.Join(dir, "h")
	mkdir(t, home+"/.aws", home+"/.config/stsd", dir+"/r")
	script := filepath.Join(dir, "caps.sh")
	if err := os.WriteFile(script, []byte(capsScript), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, home+"/.aws/config", "[profile src]\ncredential_process = "+script+" src\n")
	writeFile(t, home+"/.config/stsd/config.toml", `
[profiles.dev]
source_profile = "src"
duration = "1h"
imds_listen = "169.254.169.254:80"
allowed_uids = [0]

[profiles.ask]
source_profile = "src"
mfa_serial = "arn:aws:iam::123456789012:mfa/alice"
mfa_prompt = "none"
notify_command = "`+script+` notify"

[profiles.code]
source_profile = "src"
mfa_serial = "arn:aws:iam::123456789012:mfa/bob"
mfa_process = "`+script+` mfa"
`)
	if err := filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err == nil {
			err = os.Lchown(p, 65534, 65534)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + home + "/.config",
		"XDG_CACHE_HOME=" + home + "/.cache", "XDG_STATE_HOME=" + home + "/.local/state", "XDG_RUNTIME_DIR=" + dir + "/r",
		"AWS_ENDPOINT_URL_STS=" + stsURL, "AWS_DEFAULT_REGION=us-east-1"}
	asNobody := func(caps bool, args ...string) *exec.Cmd {
		pre := []string{"--reuid=65534", "--regid=65534", "--clear-groups"}
		if caps {
			pre = append(pre, "--inh-caps=+net_admin,+net_bind_service", "--ambient-caps=+net_admin,+net_bind_service")
		}
		cmd := host.Command("setpriv", append(append(pre, filepath.Join(binDir, "stsd")), args...)...)
		cmd.Env, cmd.Dir = env, dir
		return cmd
	}

	if out, err := asNobody(false, "check").CombinedOutput(); err == nil || !strings.Contains(string(out), "needs CAP_NET_ADMIN and CAP_NET_BIND_SERVICE, which this process lacks") {
		t.Errorf("stsd check without capabilities: %v\n%s", err, out)
	}
	if out, err := asNobody(true, "check").CombinedOutput(); err != nil {
		t.Errorf("stsd check with the capabilities: %v\n%s", err, out)
	}

	run := asNobody(true, "run")
	var logs bytes.Buffer
	run.Stderr = &logs
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	d := &nsDaemon{cmd: run, logs: &logs}
	t.Cleanup(d.kill)
	waitUntil(t, "the daemon's IMDS", func() bool {
		status, _ := curl(t, host, "", "PUT", "http://169.254.169.254/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds: 60")
		return status == "200"
	}, &logs)
	_, tok := curl(t, host, "", "PUT", "http://169.254.169.254/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds: 60")
	if status, body := curl(t, host, "", "GET", "http://169.254.169.254/latest/meta-data/iam/security-credentials/dev", "X-aws-ec2-metadata-token: "+tok); status != "200" || !strings.Contains(body, `"Code" : "Success"`) {
		t.Errorf("IMDS credentials from the daemon running as nobody: %s", status)
	}

	// The daemon's own threads: uid nobody, only a permitted set.
	threads, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", run.Process.Pid))
	if len(threads) < 2 {
		t.Fatalf("daemon threads: %v", threads)
	}
	for _, th := range threads {
		b, _ := os.ReadFile(th)
		st := string(b)
		for _, want := range []string{"Uid:\t65534\t65534\t65534\t65534", "CapInh:\t0000000000000000", "CapEff:\t0000000000000000", "CapAmb:\t0000000000000000", "CapPrm:\t0000000000001400"} {
			if !strings.Contains(st, want) {
				t.Errorf("daemon thread %s lacks %q:\n%s", th, want, st)
			}
		}
	}
	for _, child := range []string{"src", "notify", "mfa"} {
		path := filepath.Join(dir, "caps-"+child)
		waitUntil(t, "the "+child+" child", func() bool { _, err := os.Stat(path); return err == nil }, &logs)
		b, _ := os.ReadFile(path)
		if n := strings.Count(string(b), "\t0000000000000000"); n != 4 {
			t.Errorf("child %s ran with capabilities:\n%s", child, b)
		}
	}
	d.stop(t)
	if a := host.Output("-4", "addr", "show", "dev", "lo"); strings.Contains(a, "169.254.169.254") {
		t.Errorf("the daemon running as nobody left the address:\n%s\n%s", a, logs.String())
	}
}

// waitUntil polls cond for up to 15 s.
func waitUntil(t *testing.T, what string, cond func() bool, logs *bytes.Buffer) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not come up:\n%s", what, logs)
		}
	}
}

// dockerStub stands for docker: it records its arguments, fetches the
// container credentials from inside the container namespace as a
// container would, and runs until the test creates its exit file (or
// kills it).
const dockerStub = `#!/bin/sh
printf '%s\n' "$@" > "$STUB_DIR/args"
echo $$ > "$STUB_DIR/pid"
echo "$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" > "$STUB_DIR/uri"
ip netns exec "$STUB_NS" curl -s -o /dev/null -w '%{http_code}' "http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" > "$STUB_DIR/during.tmp"
mv "$STUB_DIR/during.tmp" "$STUB_DIR/during"
while [ ! -e "$STUB_DIR/exit" ]; do sleep 0.05; done
exit 3
`

// TestContainerRun: ids survive a daemon restart; `stsd container-run P --
// ARGS` runs docker (a stub on PATH) as `docker run -e NAME… ARGS` with
// the id only in its environment; the id works while docker runs and is
// revoked when it exits, also when it is killed, and also when
// container-run itself is killed (SIGKILL: nothing of it runs after), even
// after a daemon restart in between, which the id outlives.
func TestContainerRun(t *testing.T) {
	w := newLLWorld(t, llConfig)
	d := w.startDaemon(t)
	id, _ := w.mint(t, "dev")
	d.stop(t)
	d = w.startDaemon(t)
	if status, _ := curl(t, w.ctr, "", "GET", "http://169.254.170.2/v2/credentials/"+id); status != "200" {
		t.Errorf("an id minted before a restart: %s; want 200", status)
	}
	stubs := t.TempDir()
	if err := os.WriteFile(filepath.Join(stubs, "docker"), []byte(dockerStub), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name        string
		kill        bool // docker
		killWrapper bool // container-run
		restart     bool // the daemon, while container-run runs
		wantCode    int
	}{
		{"exits", false, false, false, 3},
		{"killed", true, false, false, 128 + int(syscall.SIGKILL)},
		{"container-run killed", false, true, false, -1},
		// Last: the daemon it starts ends with its subtest.
		{"container-run killed after a daemon restart", false, true, true, -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sd := t.TempDir()
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			cmd := w.cmd(ctx, "stsd", "container-run", "dev", "--", "--rm", "alpine", "sh")
			cmd.Env = append(cmd.Env, "PATH="+stubs+":"+os.Getenv("PATH"), "STUB_DIR="+sd, "STUB_NS="+w.ctr.Name)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// However the subtest ends, the stub ends too.
			defer os.WriteFile(filepath.Join(sd, "exit"), nil, 0o644)
			waitUntil(t, "the docker stub", func() bool { _, err := os.Stat(filepath.Join(sd, "during")); return err == nil }, &stderr)
			read := func(name string) string {
				b, _ := os.ReadFile(filepath.Join(sd, name))
				return strings.TrimSpace(string(b))
			}
			uri := read("uri")
			if got := read("during"); got != "200" {
				t.Errorf("the container's fetch while docker runs: %s; want 200", got)
			}
			if status, _ := curl(t, w.ctr, "", "GET", "http://169.254.170.2"+uri); status != "200" {
				t.Errorf("the id while docker runs: %s; want 200", status)
			}
			wantArgs := "run\n-e\nAWS_CONTAINER_CREDENTIALS_RELATIVE_URI\n-e\nAWS_REGION\n-e\nAWS_DEFAULT_REGION\n--rm\nalpine\nsh"
			if args := read("args"); args != wantArgs || strings.Contains(args, strings.TrimPrefix(uri, "/v2/credentials/")) {
				t.Errorf("docker args:\n%s\nwant:\n%s", args, wantArgs)
			}
			if tt.restart {
				d.stop(t)
				d = w.startDaemon(t)
				if status, _ := curl(t, w.ctr, "", "GET", "http://169.254.170.2"+uri); status != "200" {
					t.Errorf("the id after a daemon restart: %s; want 200 (a restart must not cut off a running container)", status)
				}
				waitUntil(t, "container-run holding its id again", func() bool { return strings.Contains(d.live.String(), "container_id_held") }, &stderr)
			}
			switch {
			case tt.killWrapper:
				cmd.Process.Kill()
				// The orphaned stub holds container-run's stderr open;
				// its end revokes nothing (container-run is gone).
				writeFile(t, filepath.Join(sd, "exit"), "")
			case tt.kill:
				var pid int
				fmt.Sscan(read("pid"), &pid)
				syscall.Kill(pid, syscall.SIGKILL)
			default:
				writeFile(t, filepath.Join(sd, "exit"), "")
			}
			err := cmd.Wait()
			if ee, ok := err.(*exec.ExitError); tt.wantCode != -1 && (!ok || ee.ExitCode() != tt.wantCode) {
				t.Errorf("container-run exit: %v; want %d\n%s", err, tt.wantCode, stderr.String())
			}
			revoked := func() bool {
				status, body := curl(t, w.ctr, "", "GET", "http://169.254.170.2"+uri)
				return status == "400" && body == agentRefusal
			}
			if tt.killWrapper {
				// The daemon sees the held connection close.
				waitUntil(t, "the id revoked after container-run was killed", revoked, &stderr)
			} else if !revoked() {
				t.Errorf("the id after docker ended: want it revoked")
			}
		})
	}
}

// TestContainerIDOtherUser: another user who may reach the control socket
// (as socket_group opens it) and knows a live id of a profile it may not
// read can neither revoke nor hold it: both answer as for an unknown id,
// and the id keeps working.
func TestContainerIDOtherUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run the caller as nobody")
	}
	w := newLLWorld(t, llConfig)
	w.startDaemon(t)
	id, _ := w.mint(t, "dev")
	sock := filepath.Join(w.dir, "r", "stsd", "stsd.sock")
	for d := filepath.Dir(sock); len(d) >= len(w.dir); d = filepath.Dir(d) {
		os.Chmod(d, 0o711)
	}
	os.Chmod(sock, 0o666)
	for _, path := range []string{"/v1/container-id-revoke", "/v1/container-id-hold"} {
		cmd := nobody.Run(exec.Command("curl", "-s", "-m", "5", "--unix-socket", sock, "-w", " %{http_code}",
			"-X", "POST", "--data-binary", "@-", "http://stsd"+path))
		cmd.Stdin = strings.NewReader(`{"id":"` + id + `"}`)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.HasSuffix(string(out), " 404") || !strings.Contains(string(out), "NoSuchContainerID") {
			t.Errorf("nobody POST %s with dev's id: %v %s; want 404 NoSuchContainerID", path, err, out)
		}
	}
	if status, _ := curl(t, w.ctr, "", "GET", "http://169.254.170.2/v2/credentials/"+id); status != "200" {
		t.Errorf("the id after nobody's attempts: %s; want 200", status)
	}
}

// TestFreebindChild connects from a source address this host does not
// have (IP_FREEBIND, which needs no privilege) to the container listener
// and asks for an id's credentials; it prints what it got, or "no
// connection".
func TestFreebindChild(t *testing.T) {
	args := strings.Fields(os.Getenv(childEnv))
	if len(args) != 3 || args[0] != "freebind" {
		t.Skip("child helper")
	}
	d := net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(args[1])},
		Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_FREEBIND, 1) })
			return serr
		}}
	c, err := d.Dial("tcp4", "169.254.170.2:80")
	if err != nil {
		// bind took the source; connect is what fails.
		fmt.Printf("no connection: %v\n", err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET /v2/credentials/%s HTTP/1.0\r\nHost: 169.254.170.2\r\n\r\n", args[2])
	b, _ := io.ReadAll(c)
	fmt.Println(string(b))
}
