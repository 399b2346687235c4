package broker

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
)

// proxyV2 builds a v2 header: cmd 0 LOCAL / 1 PROXY, fam 0x11 TCP4, 0x21
// TCP6, addrs the address block as sent.
func proxyV2(cmd, fam byte, addrs []byte) []byte {
	b := append([]byte(nil), proxyV2Sig...)
	b = append(b, 0x20|cmd, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(len(addrs)))
	return append(b, addrs...)
}

func v2TCP4(src, dst string, sport, dport uint16) []byte {
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	b := append(s[:], d[:]...)
	b = binary.BigEndian.AppendUint16(b, sport)
	return binary.BigEndian.AppendUint16(b, dport)
}

func v2TCP6(src, dst string, sport, dport uint16) []byte {
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	b := append(s[:], d[:]...)
	b = binary.BigEndian.AppendUint16(b, sport)
	return binary.BigEndian.AppendUint16(b, dport)
}

// tlsHello stands for the TLS bytes after a header.
const tlsHello = "\x16\x03\x01\x00\x05hello"

func TestReadProxyHeader(t *testing.T) {
	t.Parallel()
	withTLV := append(v2TCP4("10.1.2.3", "10.0.0.1", 40000, 443), 0xEA, 0x00, 0x03, 'v', 'p', 'c')
	tests := []struct {
		name    string
		in      string
		want    string // src address; "" for none
		wantErr error
	}{
		{"v1 tcp4", "PROXY TCP4 192.0.2.7 10.0.0.1 51234 9443\r\n", "192.0.2.7:51234", nil},
		{"v1 tcp6", "PROXY TCP6 2001:db8::7 2001:db8::1 51234 9443\r\n", "[2001:db8::7]:51234", nil},
		{"v1 unknown", "PROXY UNKNOWN\r\n", "", nil},
		{"v1 unknown with junk", "PROXY UNKNOWN ffff:: 1.2.3.4 1 2\r\n", "", nil},
		{"v2 tcp4", string(proxyV2(1, 0x11, v2TCP4("192.0.2.7", "10.0.0.1", 51234, 9443))), "192.0.2.7:51234", nil},
		{"v2 tcp4 with TLV", string(proxyV2(1, 0x11, withTLV)), "10.1.2.3:40000", nil},
		{"v2 tcp6", string(proxyV2(1, 0x21, v2TCP6("2001:db8::7", "2001:db8::1", 1, 2))), "[2001:db8::7]:1", nil},
		{"v2 local", string(proxyV2(0, 0x00, nil)), "", nil},
		{"v2 unspec", string(proxyV2(1, 0x00, nil)), "", nil},
		{"none: tls", tlsHello, "", errNoProxyHeader},
		{"none: http POST", "POST / HTTP/1.1\r\n", "", errNoProxyHeader},
		{"none: PROXX", "PROXX TCP4\r\n", "", errNoProxyHeader},
		{"v1 no CRLF", "PROXY TCP4 192.0.2.7 10.0.0.1 1 2\n", "", errProxyHeader},
		{"v1 truncated", "PROXY TCP4 192.0.2.7", "", errProxyHeader},
		{"v1 too long", "PROXY TCP4 " + strings.Repeat("1", 120) + "\r\n", "", errProxyHeader},
		{"v1 family mismatch", "PROXY TCP4 2001:db8::7 10.0.0.1 1 2\r\n", "", errProxyHeader},
		{"v1 bad port", "PROXY TCP4 192.0.2.7 10.0.0.1 65536 2\r\n", "", errProxyHeader},
		{"v1 leading zero port", "PROXY TCP4 192.0.2.7 10.0.0.1 01 2\r\n", "", errProxyHeader},
		{"v1 signed port", "PROXY TCP4 192.0.2.7 10.0.0.1 +1 2\r\n", "", errProxyHeader},
		{"v1 zone", "PROXY TCP6 fe80::1%eth0 fe80::2 1 2\r\n", "", errProxyHeader},
		{"v1 udp", "PROXY UDP4 192.0.2.7 10.0.0.1 1 2\r\n", "", errProxyHeader},
		{"v1 fields", "PROXY TCP4 192.0.2.7 10.0.0.1 1\r\n", "", errProxyHeader},
		{"v2 version 1", string(append(append([]byte(nil), proxyV2Sig...), 0x11, 0x11, 0, 0)), "", errProxyHeader},
		{"v2 command 2", string(proxyV2(2, 0x11, v2TCP4("192.0.2.7", "10.0.0.1", 1, 2))), "", errProxyHeader},
		{"v2 short ipv4 block", string(proxyV2(1, 0x11, []byte{1, 2, 3})), "", errProxyHeader},
		{"v2 short ipv6 block", string(proxyV2(1, 0x21, v2TCP4("192.0.2.7", "10.0.0.1", 1, 2))), "", errProxyHeader},
		{"v2 udp", string(proxyV2(1, 0x12, v2TCP4("192.0.2.7", "10.0.0.1", 1, 2))), "", errProxyHeader},
		{"v2 unix", string(proxyV2(1, 0x31, make([]byte, 216))), "", errProxyHeader},
		{"v2 truncated block", string(append(append([]byte(nil), proxyV2Sig...), 0x21, 0x11, 0x0f, 0xff, 1, 2, 3)), "", errProxyHeader},
		{"v2 huge length", string(append(append([]byte(nil), proxyV2Sig...), 0x21, 0x11, 0xff, 0xff)), "", errProxyHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := bufio.NewReader(strings.NewReader(tt.in + tlsHello))
			h, err := readProxyHeader(r)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("readProxyHeader(%q) = %v; want %v", tt.in, err, tt.wantErr)
			}
			got := ""
			if h.src.IsValid() {
				got = h.src.String()
			}
			if got != tt.want {
				t.Errorf("readProxyHeader(%q) src = %q; want %q", tt.in, got, tt.want)
			}
			if tt.wantErr == nil || errors.Is(tt.wantErr, errNoProxyHeader) {
				// Exactly the header is consumed.
				rest, _ := io.ReadAll(r)
				want := tlsHello
				if tt.wantErr != nil {
					want = tt.in + tlsHello
				}
				if string(rest) != want {
					t.Errorf("after the header: %q; want %q", rest, want)
				}
			}
		})
	}
}

func TestStartsWithProxyHeader(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"PROXY TCP4 ":        true,
		string(proxyV2Sig):   true,
		tlsHello:             false,
		"PUT / HTTP/1.1\r\n": false,
		"\r\n\r\nGET":        false,
	} {
		got, err := startsWithProxyHeader(bufio.NewReader(strings.NewReader(in)))
		if err != nil || got != want {
			t.Errorf("startsWithProxyHeader(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

// FuzzProxyHeader: the parser never panics, never reads past the header it
// accepts, never accepts more than the header limits, and what it accepts
// is a header (the input starts with a signature). Seeds: the table above
// plus testdata/fuzz/FuzzProxyHeader.
func FuzzProxyHeader(f *testing.F) {
	for _, s := range []string{
		"PROXY TCP4 192.0.2.7 10.0.0.1 51234 9443\r\n",
		"PROXY TCP6 2001:db8::7 2001:db8::1 51234 9443\r\n",
		"PROXY UNKNOWN\r\n",
		string(proxyV2(1, 0x11, v2TCP4("192.0.2.7", "10.0.0.1", 51234, 9443))),
		string(proxyV2(1, 0x21, v2TCP6("2001:db8::7", "2001:db8::1", 1, 2))),
		string(proxyV2(0, 0x00, nil)),
		tlsHello,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		parse := func(b []byte) (proxyHeader, int, error) {
			r := bufio.NewReader(bytes.NewReader(b))
			h, err := readProxyHeader(r)
			rest, _ := io.ReadAll(r)
			return h, len(b) - len(rest), err
		}
		h, n, err := parse(in)
		switch {
		case errors.Is(err, errNoProxyHeader):
			if n != 0 {
				t.Fatalf("no header, yet %d bytes consumed", n)
			}
			if bytes.HasPrefix(in, []byte(proxyV1Prefix)) || bytes.HasPrefix(in, proxyV2Sig) {
				t.Fatalf("a signature not recognised: %q", in)
			}
		case err != nil:
			if !errors.Is(err, errProxyHeader) && !errors.Is(err, io.EOF) {
				t.Fatalf("error %v wraps neither errProxyHeader nor io.EOF", err)
			}
		default:
			if n > 16+maxProxyV2Extra {
				t.Fatalf("accepted a %d-byte header", n)
			}
			if h.version == 1 && (n > maxProxyV1Len || !bytes.HasSuffix(in[:n], []byte("\r\n"))) {
				t.Fatalf("accepted v1 header %q", in[:n])
			}
			if h.src.IsValid() && h.src.Addr().Zone() != "" {
				t.Fatalf("accepted a zoned address %v", h.src)
			}
			// What follows the header (the TLS bytes) is never read.
			h2, n2, err2 := parse(append(in[:n:n], "\x16TAIL"...))
			if err2 != nil || n2 != n || h2 != h {
				t.Fatalf("with bytes after it the header reads %v, %d bytes, %v; want %v, %d bytes", h2, n2, err2, h, n)
			}
		}
	})
}
