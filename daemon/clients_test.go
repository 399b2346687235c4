package daemon

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stsd/stsd/internal/ststest"
	"github.com/stsd/stsd/internal/testca"
)

func brokerConfig(t *testing.T) string {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	testca.New(t, "test CA").Server(t, "127.0.0.1").Write(t, cert, key) // the broker serves it
	return `
[broker]
listen = "127.0.0.1:0"
tls_cert_file = "` + cert + `"
tls_key_file = "` + key + `"

[broker.clients.billing]
token_sha256 = "` + strings.Repeat("a", 64) + `"
profiles = ["app"]

[broker.clients.search]
token_sha256 = "` + strings.Repeat("b", 64) + `"
profiles = ["app"]

[profiles.app]
source_profile = "src"
mode = "federation"
name = "{client}"
duration = "1h"
policy_arns = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
`
}

// TestClientCredentialsPerClient: one federated identity and one cache
// entry per (client, profile); repeated requests and a restart make no
// further STS call.
func TestClientCredentialsPerClient(t *testing.T) {
	env := newEnv(t, brokerConfig(t))
	sts := ststest.NewServer(t, ststest.Options{})
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	store := env.store(t)
	s, _, stop := startDaemon(t, Options{Config: env.cfg, Store: store})
	keys := map[string]string{}
	for _, client := range []string{"billing", "search", "billing"} {
		c, err := s.ClientCredentials(t.Context(), "app", client)
		if err != nil {
			t.Fatalf("ClientCredentials(app, %s) = %v", client, err)
		}
		if k, ok := keys[client]; ok && k != c.Credentials.AccessKeyID {
			t.Errorf("client %s got a new key on its second request", client)
		}
		if !strings.HasSuffix(c.ARN, ":federated-user/"+client) {
			t.Errorf("client %s: ARN %q; want its federated user", client, c.ARN)
		}
		keys[client] = c.Credentials.AccessKeyID
	}
	if keys["billing"] == keys["search"] {
		t.Error("two clients share credentials")
	}
	var names []string
	for _, r := range sts.Requests() {
		if r.Action == ststest.ActionGetFederationToken {
			names = append(names, r.Params.Get("Name"))
		}
	}
	if strings.Join(names, ",") != "billing,search" {
		t.Errorf("federated names = %v; want billing,search", names)
	}
	if st := s.Status(); len(st.Clients) != 2 || st.Clients[0].Profile != "app/billing" {
		t.Errorf("status clients = %+v", st.Clients)
	}
	if _, err := s.ClientCredentials(t.Context(), "nope", "billing"); err == nil {
		t.Error("unknown profile served")
	}
	stop()

	s2, _, _ := startDaemon(t, Options{Config: env.cfg, Store: store})
	calls := sts.Calls()
	c, err := s2.ClientCredentials(t.Context(), "app", "search")
	if err != nil || c.Credentials.AccessKeyID != keys["search"] || sts.Calls() != calls {
		t.Errorf("after restart: %v, same key %v, calls %d→%d; want the cached key and no call", err, c.Credentials.AccessKeyID == keys["search"], calls, sts.Calls())
	}
	if _, err := s2.ClientCredentials(t.Context(), "app", "stranger"); err == nil {
		t.Error("a client the config does not name was served")
	}
}
