package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/testca"
)

const k8sDir = "../../deploy/kubernetes"

// k8s holds the manifests, each decoded strictly (an unknown or
// duplicate field is an error) into its k8s.io/api type.
type k8s struct {
	deployment appsv1.Deployment
	service    corev1.Service
	configMap  corev1.ConfigMap
	secret     corev1.Secret
	pdb        policyv1.PodDisruptionBudget
	namespace  corev1.Namespace
}

func loadK8s(t *testing.T) *k8s {
	t.Helper()
	var m k8s
	for file, into := range map[string]any{
		"deployment.yaml": &m.deployment, "service.yaml": &m.service, "configmap.yaml": &m.configMap,
		"secret.yaml": &m.secret, "pdb.yaml": &m.pdb, "namespace.yaml": &m.namespace,
	} {
		data, err := os.ReadFile(filepath.Join(k8sDir, file))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.UnmarshalStrict(data, into); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	entries, _ := os.ReadDir(k8sDir)
	if len(entries) != 6 {
		t.Errorf("%s has %d files; this test decodes 6", k8sDir, len(entries))
	}
	return &m
}

// TestKubernetesManifests: what the broker's Deployment, Service and
// budget promise.
func TestKubernetesManifests(t *testing.T) {
	m := loadK8s(t)
	d := m.deployment.Spec
	if d.Replicas == nil || *d.Replicas < 2 {
		t.Errorf("replicas = %v; want several", d.Replicas)
	}
	pod := d.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container security context = %+v", sc)
	}
	if ps := pod.SecurityContext; ps == nil || ps.RunAsUser == nil || *ps.RunAsUser != imageUID || ps.FSGroup == nil || *ps.FSGroup != imageUID {
		t.Errorf("pod security context = %+v; want the image's uid and fsGroup %d", ps, imageUID)
	}
	if p := c.ReadinessProbe; p == nil || p.TCPSocket == nil || p.TCPSocket.Port.String() != "broker" {
		t.Errorf("readiness probe = %+v; want TCP on the broker port", p)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 9443 || c.Ports[0].Name != "broker" {
		t.Errorf("ports = %+v", c.Ports)
	}
	sources := map[string]string{}
	for _, v := range pod.Volumes {
		switch {
		case v.ConfigMap != nil:
			sources[v.Name] = "configmap/" + v.ConfigMap.Name
		case v.Secret != nil:
			sources[v.Name] = "secret/" + v.Secret.SecretName
		}
	}
	if sources["config"] != "configmap/"+m.configMap.Name || sources["secret"] != "secret/"+m.secret.Name {
		t.Errorf("volumes = %v; want the ConfigMap and the Secret", sources)
	}
	if m.pdb.Spec.MinAvailable == nil || m.pdb.Spec.MinAvailable.IntValue() < 1 || m.pdb.Spec.Selector.MatchLabels["app.kubernetes.io/name"] != d.Template.Labels["app.kubernetes.io/name"] {
		t.Errorf("PodDisruptionBudget = %+v", m.pdb.Spec)
	}
	s := m.service
	if s.Spec.Type != corev1.ServiceTypeLoadBalancer || s.Annotations["service.beta.kubernetes.io/aws-load-balancer-proxy-protocol"] != "*" || s.Spec.Ports[0].TargetPort.String() != "broker" {
		t.Errorf("service = %+v", s)
	}
	cfg := m.configMap.Data["config.toml"]
	for _, want := range []string{"trusted_proxies", `name = "{client}"`, `mode = "federation"`} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config.toml lacks %s", want)
		}
	}
}

// podChecks runs inside a private root laid out as the Deployment lays
// out the pod: the ConfigMap and Secret at their mount paths (the Secret's
// files root:65532 0440, as fsGroup and defaultMode make them), emptyDirs
// for the writable paths, the image's user. It starts the broker with the
// Deployment's arguments, waits for the readiness probe's TCP port, and
// fetches credentials as a client would.
const podChecks = `set -e
ip link set lo up
mkdir -p /etc/stsd/config /etc/stsd/secret
cp /tmp/in/config.toml /tmp/in/app-readonly.json /etc/stsd/config/
chmod 0644 /etc/stsd/config/*
cp /tmp/in/credentials /tmp/in/tls.crt /tmp/in/tls.key /etc/stsd/secret/
chown 0:65532 /etc/stsd/secret/*
chmod 0440 /etc/stsd/secret/*
for d in /var/cache /var/lib /run; do mount -t tmpfs -o mode=0777 tmpfs $d; done
/tmp/in/fakests > /tmp/sts.env 2>/tmp/sts.log &
for i in $(seq 100); do grep -q STS_URL /tmp/sts.env && break; sleep 0.1; done
export AWS_ENDPOINT_URL_STS=$(sed -n 's/^STS_URL=//p' /tmp/sts.env)
eval "$(cat /tmp/in/env)"
export HOME=/var/lib/stsd # the runtime sets it from the image's /etc/passwd
setpriv --reuid=65532 --regid=65532 --clear-groups /tmp/in/stsd $(cat /tmp/in/args) >/tmp/stsd.log 2>&1 &
ready=no
for i in $(seq 300); do
	if curl -s -o /dev/null --max-time 1 telnet://127.0.0.1:9443 </dev/null 2>/dev/null || [ $? = 28 ]; then ready=yes; break; fi
	sleep 0.1
done
echo "== ready"
echo $ready
echo "== fetch"
curl -sS --cacert /tmp/in/ca.pem --resolve stsd-broker:9443:127.0.0.1 -H "Authorization: $(cat /tmp/in/token)" https://stsd-broker:9443/v1/credentials/app-readonly || true
echo
echo "== log"
cat /tmp/stsd.log
`

// TestBrokerPodStarts: the broker the manifests describe starts from the
// ConfigMap's config (plus one test client) with the Deployment's
// arguments, user and file modes, and serves a client.
func TestBrokerPodStarts(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	m := loadK8s(t)
	dir := t.TempDir()
	token := "test-client-token-0123456789"
	sum := sha256.Sum256([]byte(token))
	cfg, err := config.AddBrokerClient([]byte(m.configMap.Data["config.toml"]), "tester", hex.EncodeToString(sum[:]), []string{"app-readonly"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ca := testca.New(t, "stsd test CA")
	ca.Server(t, "stsd-broker").Write(t, filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	ca.WriteCA(t, filepath.Join(dir, "ca.pem"))
	c := m.deployment.Spec.Template.Spec.Containers[0]
	var env []string
	for _, e := range c.Env {
		env = append(env, fmt.Sprintf("export %s=%q", e.Name, e.Value))
	}
	files := map[string]string{
		"config.toml":       string(cfg),
		"app-readonly.json": m.configMap.Data["app-readonly.json"],
		"credentials":       m.secret.StringData["credentials"],
		"token":             token,
		"args":              strings.Join(c.Args, " "),
		"env":               strings.Join(env, "\n") + "\n",
	}
	in := map[string]string{"stsd": built.bins.stsd, "fakests": buildFakeSTS(t, dir)}
	for _, f := range []string{"tls.crt", "tls.key", "ca.pem"} {
		in[f] = filepath.Join(dir, f)
	}
	for name, data := range files {
		in[name] = filepath.Join(dir, name)
		os.WriteFile(in[name], []byte(data), 0o600)
	}
	s := runPrivateRoot(t, in, podChecks)
	if strings.TrimSpace(s["ready"]) != "yes" {
		t.Fatalf("the readiness probe's port never opened; log:\n%s", s["log"])
	}
	if !strings.Contains(s["fetch"], `"AccessKeyId":"ASIA`) || !strings.Contains(s["log"], "broker_issued") {
		t.Errorf("fetch = %s\nlog:\n%s", s["fetch"], s["log"])
	}
	if strings.Contains(s["log"], token) {
		t.Error("the client token reached the log")
	}
}

func buildFakeSTS(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "fakests")
	cmd := exec.CommandContext(context.Background(), "go", "build", "-o", out, "./internal/cmd/fakests")
	cmd.Dir = built.o.Root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build fakests: %v\n%s", err, b)
	}
	return out
}
