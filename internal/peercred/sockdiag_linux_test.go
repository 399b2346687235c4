package peercred

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"testing"

	"golang.org/x/sys/unix"
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

// TestParseDiagReply: only an ESTABLISHED reply for exactly the asked
// address pair names an owner; a listener's reply (what the kernel sends
// when a device-pinned socket is missed) or another pair is not found.
func TestParseDiagReply(t *testing.T) {
	t.Parallel()
	src := netip.MustParseAddrPort("127.0.0.1:40000")
	dst := netip.MustParseAddrPort("127.0.0.1:9912")
	msg := func(state byte, s, d netip.AddrPort, inode uint32) []byte {
		b := make([]byte, sizeofNlMsghdr+sizeofInetDiagMsg)
		ne := binary.NativeEndian
		ne.PutUint32(b[0:], uint32(len(b)))
		ne.PutUint16(b[4:], unix.SOCK_DIAG_BY_FAMILY)
		m := b[sizeofNlMsghdr:]
		m[0], m[1] = unix.AF_INET, state
		binary.BigEndian.PutUint16(m[4:], s.Port())
		binary.BigEndian.PutUint16(m[6:], d.Port())
		putAddr(m[8:24], s.Addr())
		putAddr(m[24:40], d.Addr())
		ne.PutUint32(m[64:], 1000)
		ne.PutUint32(m[68:], inode)
		return b
	}
	any4 := netip.MustParseAddrPort("0.0.0.0:0")
	tests := []struct {
		name string
		b    []byte
		uid  int
	}{
		{"exact established", msg(1, src, dst, 7), 1000},
		{"listener on the client's port", msg(10, netip.AddrPortFrom(src.Addr(), src.Port()), any4, 7), -1},
		{"listener, any address", msg(10, netip.MustParseAddrPort("0.0.0.0:40000"), any4, 7), -1},
		{"established, other peer", msg(1, src, netip.MustParseAddrPort("127.0.0.1:9913"), 7), -1},
		{"established, other source", msg(1, netip.MustParseAddrPort("127.0.0.2:40000"), dst, 7), -1},
		{"time wait", msg(6, src, dst, 0), -1},
		{"established, no inode", msg(1, src, dst, 0), -1},
	}
	for _, tt := range tests {
		uid, err := parseDiagReply(tt.b, src, dst)
		if uid != tt.uid || (tt.uid < 0) != (err != nil) {
			t.Errorf("%s: parseDiagReply = %d, %v; want %d", tt.name, uid, err, tt.uid)
		}
	}
}
