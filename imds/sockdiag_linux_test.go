package imds

import (
	"net"
	"net/netip"
	"os"
	"testing"
)

// TestDiagMatchesProc: for a live loopback connection, sock_diag and the
// /proc tables name the same owner; an unknown pair is not found.
func TestDiagMatchesProc(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		addr := "127.0.0.1:0"
		if network == "tcp6" {
			addr = "[::1]:0"
		}
		ln, err := net.Listen(network, addr)
		if err != nil {
			t.Logf("%s: %v (skipped)", network, err)
			continue
		}
		defer ln.Close()
		c, err := net.Dial(network, ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		local := netip.MustParseAddrPort(s.LocalAddr().String())
		remote := netip.MustParseAddrPort(s.RemoteAddr().String())
		got, err := diagLookup(remote, local)
		if err != nil {
			t.Fatalf("%s: diagLookup: %v", network, err)
		}
		want, err := procLookup(local, remote)
		if err != nil {
			t.Fatalf("%s: procLookup: %v", network, err)
		}
		if got != want || got != os.Getuid() {
			t.Errorf("%s: sock_diag uid %d, /proc uid %d; want %d", network, got, want, os.Getuid())
		}
		bogus := netip.AddrPortFrom(remote.Addr(), 1)
		if _, err := diagLookup(bogus, local); err == nil {
			t.Errorf("%s: found a socket that does not exist", network)
		}
	}
}

func BenchmarkPeerLookup(b *testing.B) {
	ln, _ := net.Listen("tcp4", "127.0.0.1:0")
	defer ln.Close()
	c, _ := net.Dial("tcp4", ln.Addr().String())
	defer c.Close()
	s, _ := ln.Accept()
	defer s.Close()
	local := netip.MustParseAddrPort(s.LocalAddr().String())
	remote := netip.MustParseAddrPort(s.RemoteAddr().String())
	b.Run("sock_diag", func(b *testing.B) {
		for b.Loop() {
			diagLookup(remote, local)
		}
	})
	b.Run("proc", func(b *testing.B) {
		for b.Loop() {
			procLookup(local, remote)
		}
	})
}
