package broker

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// The PROXY protocol (HAProxy, https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt)
// lets an L4 load balancer that passes TLS through tell the broker the
// client's address: a header before the first TLS byte. Version 1 is one
// text line, version 2 a binary block.

// proxyV2Sig opens every version 2 header (spec §2.2).
var proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

// proxyV1Prefix opens every version 1 header (spec §2.1).
const proxyV1Prefix = "PROXY "

// Header limits. v1: "a receiver may reject a line longer than 107 bytes"
// (spec §2.1, CRLF included). v2: the fixed 16 bytes plus addresses (at
// most 216 for AF_UNIX) and TLVs; AWS NLB adds a few dozen bytes of TLVs.
// Nothing legitimate comes near 4 KiB.
const (
	maxProxyV1Len   = 107
	maxProxyV2Extra = 4096
)

// errNoProxyHeader: the connection does not start with a PROXY header.
var errNoProxyHeader = errors.New("no PROXY protocol header")

// errProxyHeader is the base of every malformed-header error.
var errProxyHeader = errors.New("bad PROXY protocol header")

func proxyErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errProxyHeader, fmt.Sprintf(format, args...))
}

// proxyHeader is what a PROXY header says. src is invalid for a v2 LOCAL
// command or a v1 UNKNOWN / v2 UNSPEC family: the connection then counts
// as the proxy's own (health checks).
type proxyHeader struct {
	version int // 1 or 2
	src     netip.AddrPort
}

// startsWithProxyHeader reports whether r begins with either signature,
// consuming nothing. It reads only as many bytes as it needs to decide: a
// TLS record starts with 0x16, so one byte settles it for real clients.
func startsWithProxyHeader(r *bufio.Reader) (bool, error) {
	b, err := r.Peek(1)
	if err != nil {
		return false, err
	}
	var want []byte
	switch b[0] {
	case proxyV1Prefix[0]:
		want = []byte(proxyV1Prefix)
	case proxyV2Sig[0]:
		want = proxyV2Sig
	default:
		return false, nil
	}
	for n := 2; n <= len(want); n++ {
		b, err := r.Peek(n)
		if err != nil {
			return false, err
		}
		if !bytes.Equal(b, want[:n]) {
			return false, nil
		}
	}
	return true, nil
}

// readProxyHeader reads a v1 or v2 header from r. Without one it returns
// errNoProxyHeader and consumes nothing; a malformed one is an error
// wrapping errProxyHeader (what was read is gone: drop the connection).
func readProxyHeader(r *bufio.Reader) (proxyHeader, error) {
	ok, err := startsWithProxyHeader(r)
	if err != nil {
		return proxyHeader{}, err
	}
	if !ok {
		return proxyHeader{}, errNoProxyHeader
	}
	if b, _ := r.Peek(1); b[0] == proxyV1Prefix[0] {
		return readProxyV1(r)
	}
	return readProxyV2(r)
}

// readProxyV1 reads "PROXY TCP4|TCP6|UNKNOWN src dst sport dport\r\n".
func readProxyV1(r *bufio.Reader) (proxyHeader, error) {
	line := make([]byte, 0, maxProxyV1Len)
	for {
		c, err := r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = proxyErr("v1 line ends before CRLF")
			}
			return proxyHeader{}, err
		}
		line = append(line, c)
		if c == '\n' {
			break
		}
		if len(line) >= maxProxyV1Len {
			return proxyHeader{}, proxyErr("v1 line longer than %d bytes", maxProxyV1Len)
		}
	}
	s, ok := strings.CutSuffix(string(line), "\r\n")
	if !ok {
		return proxyHeader{}, proxyErr("v1 line does not end in CRLF")
	}
	f := strings.Split(s, " ")
	h := proxyHeader{version: 1}
	if len(f) >= 2 && f[1] == "UNKNOWN" {
		// "the receiver must ignore anything presented before the CRLF".
		return h, nil
	}
	if len(f) != 6 {
		return h, proxyErr("v1 line has %d fields; want 6", len(f))
	}
	var want4 bool
	switch f[1] {
	case "TCP4":
		want4 = true
	case "TCP6":
	default:
		return h, proxyErr("v1 protocol %q", f[1])
	}
	src, err1 := netip.ParseAddr(f[2])
	dst, err2 := netip.ParseAddr(f[3])
	if err1 != nil || err2 != nil || src.Zone() != "" || dst.Zone() != "" {
		return h, proxyErr("v1 address")
	}
	if src.Is4() != want4 || dst.Is4() != want4 {
		return h, proxyErr("v1 address family does not match %s", f[1])
	}
	sport, ok1 := proxyPort(f[4])
	_, ok2 := proxyPort(f[5])
	if !ok1 || !ok2 {
		return h, proxyErr("v1 port")
	}
	h.src = netip.AddrPortFrom(src, sport)
	return h, nil
}

// proxyPort parses a v1 port: 1..5 decimal digits, at most 65535, no sign
// and no leading zero (spec: "without leading zeroes").
func proxyPort(s string) (uint16, bool) {
	if len(s) == 0 || len(s) > 5 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 16)
	return uint16(n), err == nil
}

// readProxyV2 reads the binary header (spec §2.2).
func readProxyV2(r *bufio.Reader) (proxyHeader, error) {
	var hdr [16]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return proxyHeader{}, proxyErr("v2 header truncated")
	}
	h := proxyHeader{version: 2}
	verCmd, fam := hdr[12], hdr[13]
	n := int(binary.BigEndian.Uint16(hdr[14:16]))
	if verCmd>>4 != 2 {
		return h, proxyErr("v2 version %d", verCmd>>4)
	}
	cmd := verCmd & 0x0f
	if cmd > 1 {
		return h, proxyErr("v2 command %d", cmd)
	}
	if n > maxProxyV2Extra {
		return h, proxyErr("v2 length %d over %d", n, maxProxyV2Extra)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return h, proxyErr("v2 addresses truncated")
	}
	if cmd == 0 { // LOCAL: the proxy's own connection (health check)
		return h, nil
	}
	switch fam {
	case 0x00: // UNSPEC
		return h, nil
	case 0x11: // TCP over IPv4: src(4) dst(4) sport(2) dport(2)
		if n < 12 {
			return h, proxyErr("v2 IPv4 block of %d bytes", n)
		}
		h.src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[0:4])), binary.BigEndian.Uint16(body[8:10]))
	case 0x21: // TCP over IPv6: src(16) dst(16) sport(2) dport(2)
		if n < 36 {
			return h, proxyErr("v2 IPv6 block of %d bytes", n)
		}
		h.src = netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[0:16])), binary.BigEndian.Uint16(body[32:34]))
	default: // UDP, AF_UNIX: not how anyone reaches an HTTPS listener
		return h, proxyErr("v2 family/protocol 0x%02x", fam)
	}
	return h, nil
}
