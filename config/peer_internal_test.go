package config

import (
	"strings"
	"testing"
)

// TestIMDSWithoutPeerCheck covers macOS and Windows, where no TCP peer uid
// lookup exists, from any OS.
func TestIMDSWithoutPeerCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, want string
	}{
		{
			name: "refused",
			src:  "[profiles.p]\nsource_profile = \"src\"\nimds_listen = \"127.0.0.1:9912\"\n",
			want: "config.toml:3: profiles.p.imds_listen: this OS cannot tell which local user opened a TCP connection, so any local user could read these credentials; set imds_any_local_user = true to accept that, or use credential_process",
		},
		{
			name: "accepted",
			src:  "[profiles.p]\nsource_profile = \"src\"\nimds_listen = \"127.0.0.1:9912\"\nimds_any_local_user = true\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newParser("config.toml", []byte(tt.src), Options{})
			p.tcpPeerCheck = false
			_, err := p.run()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("run() error = %q; want %q", got, tt.want)
			}
		})
	}
}

// TestLinkLocalUnsupported covers macOS and Windows, which have no
// link-local listeners, from any OS: the config says why.
func TestLinkLocalUnsupported(t *testing.T) {
	t.Parallel()
	for _, src := range []string{
		"[profiles.p]\nsource_profile = \"src\"\nimds_listen = \"169.254.169.254:80\"\n",
		"[ecs]\nlisten = \"127.0.0.1:9911\"\ntoken_dir = \"/tmp/x\"\ncontainer_listen = \"169.254.170.2:80\"\n[profiles.p]\nsource_profile = \"src\"\n",
	} {
		p := newParser("config.toml", []byte(src), Options{})
		p.linkLocal = false
		_, err := p.run()
		if err == nil || !strings.Contains(err.Error(), "link-local listeners") || !strings.Contains(err.Error(), "need Linux") || strings.Count(err.Error(), "\n") > 0 {
			t.Errorf("run() = %v; want one line saying link-local listeners need Linux", err)
		}
	}
}
