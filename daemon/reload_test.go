package daemon

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/ststest"
)

const reloadBase = `
[profiles.dev]
source_profile = "src"
duration = "1h"

[profiles.fed]
source_profile = "src"
mode = "federation"
policy_file = "POLICY"
imds_listen = "127.0.0.1:0"
`

// reloadEnv runs a daemon whose config can be edited on disk.
type reloadEnv struct {
	*testEnv
	s      *Supervisor
	sts    *ststest.Server
	c      *http.Client
	policy string
}

func newReloadEnv(t *testing.T) *reloadEnv {
	t.Helper()
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.json")
	write(t, policy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)
	env := newEnv(t, strings.Replace(reloadBase, "POLICY", policy, 1))
	sts := ststest.NewServer(t, ststest.Options{})
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	load := func() (*config.Config, error) { return config.Load(env.cfg.Path, config.Options{Hostname: "testhost"}) }
	s, c, _ := startDaemon(t, Options{Config: env.cfg, Store: env.store(t), Load: load, WatchDebounce: 50 * time.Millisecond})
	for _, p := range []string{"dev", "fed"} {
		if code, body := get(t, c, "/v1/credentials/"+p); code != 200 {
			t.Fatalf("GET %s = %d %s", p, code, body)
		}
	}
	return &reloadEnv{testEnv: env, s: s, sts: sts, c: c, policy: policy}
}

func (e *reloadEnv) key(t *testing.T, profile string) string {
	t.Helper()
	code, body := get(t, e.c, "/v1/credentials/"+profile)
	if code != 200 {
		t.Fatalf("GET %s = %d %s", profile, code, body)
	}
	return decodeCreds(t, body)["AccessKeyId"].(string)
}

// replaceFile writes like an editor: a temp file renamed over the original.
func replaceFile(t *testing.T, path, data string) {
	t.Helper()
	tmp := path + ".swp"
	write(t, tmp, data)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func (e *reloadEnv) config(t *testing.T) string {
	b, err := os.ReadFile(e.cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReloadAddedProfileByRename(t *testing.T) {
	e := newReloadEnv(t)
	devKey, calls := e.key(t, "dev"), e.sts.Calls()
	replaceFile(t, e.cfg.Path, e.config(t)+"\n[profiles.added]\nsource_profile = \"src\"\n")
	eventually(t, "profile added", func() bool { return e.s.Refresher("added") != nil })
	e.key(t, "added")
	if e.key(t, "dev") != devKey {
		t.Error("an unchanged profile was re-minted")
	}
	if got := e.sts.Calls(); got != calls+1 {
		t.Errorf("STS calls = %d; want %d (only the added profile)", got, calls+1)
	}
}

func TestReloadTruncateThenWrite(t *testing.T) {
	e := newReloadEnv(t)
	text := e.config(t) + "\n[profiles.later]\nsource_profile = \"src\"\n"
	f, err := os.OpenFile(e.cfg.Path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(text[:len(text)/2])
	f.Sync()
	time.Sleep(10 * time.Millisecond)
	f.WriteString(text[len(text)/2:])
	f.Close()
	eventually(t, "profile added", func() bool { return e.s.Refresher("later") != nil })
	if st := e.s.Status(); st.ReloadError != "" {
		t.Errorf("reload error after the whole file was written: %s", st.ReloadError)
	}
}

func TestReloadInvalidKeepsOldConfig(t *testing.T) {
	e := newReloadEnv(t)
	devKey, calls := e.key(t, "dev"), e.sts.Calls()
	replaceFile(t, e.cfg.Path, e.config(t)+"\n[profiles.broken\nsource_profile = 3\n")
	eventually(t, "reload error in status", func() bool { return e.s.Status().ReloadError != "" })
	st := e.s.Status()
	if !strings.Contains(st.ReloadError, "config.toml:13: invalid TOML") {
		t.Errorf("reload error %q does not name file:line", st.ReloadError)
	}
	if e.key(t, "dev") != devKey || e.key(t, "fed") == "" || e.sts.Calls() != calls {
		t.Error("the old config stopped serving after an invalid edit")
	}
	// Fixing the file clears the error.
	replaceFile(t, e.cfg.Path, strings.Replace(e.config(t), "\n[profiles.broken\nsource_profile = 3\n", "", 1))
	eventually(t, "reload error cleared", func() bool { return e.s.Status().ReloadError == "" })
}

func TestReloadRemovedProfileClosesListener(t *testing.T) {
	e := newReloadEnv(t)
	addr := e.s.ep.addrs(e.s.Config().Profiles["fed"])[0]
	addr = strings.TrimPrefix(addr, "imds ")
	if c, err := net.Dial("tcp", addr); err != nil {
		t.Fatalf("imds listener not up: %v", err)
	} else {
		c.Close()
	}
	text := e.config(t)
	replaceFile(t, e.cfg.Path, text[:strings.Index(text, "[profiles.fed]")])
	eventually(t, "profile removed", func() bool { return e.s.Refresher("fed") == nil })
	eventually(t, "listener closed", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	if code, _ := get(t, e.c, "/v1/credentials/fed"); code != 404 {
		t.Errorf("removed profile answered %d; want 404", code)
	}
}

func TestReloadChangedPolicyRemints(t *testing.T) {
	e := newReloadEnv(t)
	devKey, fedKey, calls := e.key(t, "dev"), e.key(t, "fed"), e.sts.Calls()
	replaceFile(t, e.policy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"*"}]}`)
	eventually(t, "fed re-minted", func() bool { return e.sts.Calls() == calls+1 })
	if e.key(t, "fed") == fedKey {
		t.Error("fed still serves credentials minted under the old policy")
	}
	if e.key(t, "dev") != devKey {
		t.Error("dev was re-minted by another profile's policy change")
	}
	last := e.sts.Requests()[len(e.sts.Requests())-1]
	if !strings.Contains(last.Params.Get("Policy"), "s3:PutObject") {
		t.Errorf("new policy not sent: %s", last.Params.Get("Policy"))
	}
}

func TestReloadAPI(t *testing.T) {
	e := newReloadEnv(t)
	// Write without the watch noticing in time is not guaranteed, so just
	// check the API path applies and reports.
	write(t, e.cfg.Path, e.config(t)+"\n[profiles.api]\nsource_profile = \"src\"\n")
	resp, err := e.c.Post("http://stsd/v1/reload", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST /v1/reload = %v %v", resp, err)
	}
	resp.Body.Close()
	if e.s.Refresher("api") == nil {
		t.Error("profile not added by POST /v1/reload")
	}
	write(t, e.cfg.Path, "bogus = [")
	resp, _ = e.c.Post("http://stsd/v1/reload", "", nil)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("invalid reload = %d; want 422", resp.StatusCode)
	}
	resp.Body.Close()
}
