package peercred

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
)

// Supported: Linux tells which uid owns a TCP socket.
const Supported = true

// procTCP are the socket tables of this network namespace. A loopback
// client is always in it: loopback never leaves the namespace.
var procTCP = []string{"/proc/net/tcp", "/proc/net/tcp6"}

// lookupPeer finds the client's socket, the established one whose local
// address is the connection's remote end and whose remote address is our
// end, and returns its owner's uid. sock_diag answers first; when it has
// no exact answer (no inet_diag, a seccomp filter, a socket pinned to a
// device) the /proc tables are scanned; when they have none either, the
// caller is unknown and refused.
func lookupPeer(local, remote netip.AddrPort) (int, error) {
	if uid, err := diagLookup(remote, local); err == nil {
		return uid, nil
	}
	return procLookup(local, remote)
}

// procLookup is lookupPeer through /proc/net/tcp{,6}.
func procLookup(local, remote netip.AddrPort) (int, error) {
	for _, path := range procTCP {
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue // no IPv6 in this kernel
		}
		if err != nil {
			return -1, fmt.Errorf("peer lookup: %w", err)
		}
		uid, found, err := findSocket(bytes.NewReader(b), remote, local)
		if err != nil {
			return -1, fmt.Errorf("peer lookup in %s: %w", path, err)
		}
		if found {
			return uid, nil
		}
	}
	return -1, fmt.Errorf("peer lookup: no socket %s -> %s in /proc/net/tcp{,6}", remote, local)
}

// findSocket scans a /proc/net/tcp{,6} table for the established socket
// with the given local and remote addresses. Addresses compare unmapped, so an IPv4 client
// of a dual-stack socket matches either table's form.
//
// Format (Documentation/networking/proc_net_tcp.rst): "sl local_address
// rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
// …", addresses as hex words in host byte order, ports as hex numbers.
func findSocket(r io.Reader, local, remote netip.AddrPort) (uid int, found bool, err error) {
	local = unmap(local)
	remote = unmap(remote)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	first := true
	for sc.Scan() {
		if first { // header line
			first = false
			continue
		}
		f := bytes.Fields(sc.Bytes())
		if len(f) < 10 {
			continue
		}
		if string(f[3]) != "01" { // TCP_ESTABLISHED
			continue
		}
		l, err := parseProcAddr(f[1])
		if err != nil || l != local {
			continue
		}
		rem, err := parseProcAddr(f[2])
		if err != nil || rem != remote {
			continue
		}
		// Inode 0: a TIME_WAIT or orphaned socket, whose uid column reads 0
		// whoever owned it. Never take that for root.
		if string(f[9]) == "0" {
			continue
		}
		u, err := strconv.ParseUint(string(f[7]), 10, 32)
		if err != nil {
			return -1, false, fmt.Errorf("uid column %q", f[7])
		}
		return int(u), true, nil
	}
	return -1, false, sc.Err()
}

func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// parseProcAddr decodes "0100007F:1F90" (IPv4) or 32 hex digits + port
// (IPv6): each 32-bit word was printed from memory in host byte order.
func parseProcAddr(s []byte) (netip.AddrPort, error) {
	i := bytes.IndexByte(s, ':')
	if i < 0 {
		return netip.AddrPort{}, errors.New("no port")
	}
	port, err := strconv.ParseUint(string(s[i+1:]), 16, 16)
	if err != nil {
		return netip.AddrPort{}, err
	}
	hexAddr := s[:i]
	raw := make([]byte, len(hexAddr)/2)
	if len(hexAddr) != 8 && len(hexAddr) != 32 {
		return netip.AddrPort{}, errors.New("bad address length")
	}
	if _, err := hex.Decode(raw, hexAddr); err != nil {
		return netip.AddrPort{}, err
	}
	// hex.Decode gave the words big-endian; put each back in memory order.
	for w := 0; w < len(raw); w += 4 {
		binary.NativeEndian.PutUint32(raw[w:], binary.BigEndian.Uint32(raw[w:]))
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}

// Listening reports whether a TCP socket of this network namespace
// listens on exactly ap (a wildcard listener is its own address, 0.0.0.0
// or ::): what `stsd check` calls "in use".
func Listening(ap netip.AddrPort) bool {
	ap = unmap(ap)
	return slices.Contains(Listeners(), ap)
}

// Listeners lists the addresses TCP sockets of this network namespace
// listen on.
func Listeners() []netip.AddrPort {
	var out []netip.AddrPort
	for _, path := range procTCP {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 0, 4096), 1<<20)
		for sc.Scan() {
			f := bytes.Fields(sc.Bytes())
			if len(f) < 4 || string(f[3]) != "0A" { // TCP_LISTEN
				continue
			}
			if l, err := parseProcAddr(f[1]); err == nil {
				out = append(out, l)
			}
		}
	}
	return out
}
