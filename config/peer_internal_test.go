package config

import "testing"

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
