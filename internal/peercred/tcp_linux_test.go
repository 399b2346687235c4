package peercred

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func TestFindSocket(t *testing.T) {
	t.Parallel()
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the testdata tables were captured on a little-endian host")
	}
	ap := netip.MustParseAddrPort
	tests := []struct {
		file          string
		local, remote netip.AddrPort
		wantUID       int
		wantFound     bool
	}{
		// The client's row, not the TIME_WAIT row with the same addresses.
		{"proc_net_tcp", ap("127.0.0.1:42548"), ap("127.0.0.1:9920"), 1000, true},
		{"proc_net_tcp", ap("127.0.0.1:9920"), ap("127.0.0.1:42548"), 0, true},
		{"proc_net_tcp", ap("192.168.1.2:22"), ap("192.168.1.1:50000"), 500, true},
		{"proc_net_tcp", ap("127.0.0.1:1"), ap("127.0.0.1:9920"), -1, false},
		{"proc_net_tcp6", ap("[::1]:45056"), ap("[::1]:9921"), 65534, true},
		// An IPv4 client of a dual-stack socket matches in either form.
		{"proc_net_tcp6", ap("127.0.0.1:45057"), ap("127.0.0.1:9922"), 1001, true},
		{"proc_net_tcp6", ap("[::ffff:127.0.0.1]:45057"), ap("[::ffff:127.0.0.1]:9922"), 1001, true},
	}
	for _, tt := range tests {
		f, err := os.Open(filepath.Join("testdata", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		uid, found, err := findSocket(f, tt.local, tt.remote)
		f.Close()
		if err != nil || uid != tt.wantUID || found != tt.wantFound {
			t.Errorf("findSocket(%s, %s, %s) = %d, %v, %v; want %d, %v", tt.file, tt.local, tt.remote, uid, found, err, tt.wantUID, tt.wantFound)
		}
	}
}

// TestLookupPeerLive: the peer of a real loopback connection is this
// process's uid, over IPv4 and IPv6.
func TestLookupPeerLive(t *testing.T) {
	t.Parallel()
	for _, network := range []string{"127.0.0.1:0", "[::1]:0"} {
		ln, err := net.Listen("tcp", network)
		if err != nil {
			t.Logf("skipping %s: %v", network, err)
			continue
		}
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		uid, err := lookupPeer(s.LocalAddr().(*net.TCPAddr).AddrPort(), s.RemoteAddr().(*net.TCPAddr).AddrPort())
		if err != nil || uid != os.Getuid() {
			t.Errorf("lookupPeer on %s = %d, %v; want %d", network, uid, err, os.Getuid())
		}
		c.Close()
		s.Close()
		ln.Close()
	}
}
