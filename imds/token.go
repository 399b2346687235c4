package imds

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// IMDSv2 token TTL bounds: "a minimum of one second and a maximum of six
// hours" (EC2 user guide, instance-metadata-v2-how-it-works).
const (
	minTokenTTL = 1
	maxTokenTTL = 21600
)

// ttlHeader is both the PUT request header and the response header Go v2
// requires (it parses it to know how long to reuse the token).
const ttlHeader = "X-Aws-Ec2-Metadata-Token-Ttl-Seconds"

// tokenHeader carries the token on GETs.
const tokenHeader = "X-Aws-Ec2-Metadata-Token"

var errBadTTL = errors.New("X-aws-ec2-metadata-token-ttl-seconds must be one whole number of seconds from 1 to 21600")

// parseTTL validates the PUT's TTL header values: exactly one, only ASCII
// digits (no sign, space or exponent), 1..21600.
func parseTTL(values []string) (int, error) {
	if len(values) != 1 || len(values[0]) == 0 || len(values[0]) > 10 {
		return 0, errBadTTL
	}
	n := 0
	for _, c := range []byte(values[0]) {
		if c < '0' || c > '9' {
			return 0, errBadTTL
		}
		n = n*10 + int(c-'0')
	}
	if n < minTokenTTL || n > maxTokenTTL {
		return 0, errBadTTL
	}
	return n, nil
}

// tokenKey mints and checks stateless IMDS tokens: 8 bytes of expiry (unix
// milliseconds) and an HMAC-SHA256 over the profile and that expiry, under a key
// drawn at start. No table and no eviction: botocore and JS mint a 6 h
// token for every credential fetch. A restart invalidates every token;
// SDKs then get a 401 and fetch a new one.
type tokenKey struct {
	key [32]byte
	// macs are reusable HMAC states with their scratch space: a check
	// allocates nothing.
	macs sync.Pool
	// last is the token last found valid: SDKs that keep their token (Go,
	// Java) send the same one until it expires, and comparing with it (in
	// constant time) is cheaper than its HMAC.
	last atomic.Pointer[checkedToken]
}

// checkedToken is a token found valid, for profile, until exp (unix ms).
type checkedToken struct {
	tok, profile string
	exp          int64
}

const tokenBytes = 8 + sha256.Size

// tokenLen is a token's length in base64 (raw URL alphabet).
var tokenLen = base64.RawURLEncoding.EncodedLen(tokenBytes)

// strictB64 refuses non-canonical encodings (trailing bits set), so one
// token has one spelling.
var strictB64 = base64.RawURLEncoding.Strict()

// macState is one HMAC in use and its scratch space.
type macState struct {
	h   hash.Hash
	in  []byte
	tok [64]byte // the token's characters (tokenLen ≤ 64)
	raw [tokenBytes]byte
	sum [sha256.Size]byte
}

func newTokenKey(r io.Reader) (*tokenKey, error) {
	k := &tokenKey{}
	if _, err := io.ReadFull(r, k.key[:]); err != nil {
		return nil, err
	}
	k.macs.New = func() any { return &macState{h: hmac.New(sha256.New, k.key[:]), in: make([]byte, 0, 64)} }
	return k, nil
}

// mac sets m.sum to the MAC of profile and exp.
func (k *tokenKey) mac(m *macState, profile string, exp []byte) {
	m.in = append(m.in[:0], "stsd-imds-token\x00"...)
	m.in = append(m.in, profile...)
	m.in = append(m.in, 0)
	m.in = append(m.in, exp...)
	m.h.Reset()
	m.h.Write(m.in)
	m.h.Sum(m.sum[:0])
}

// mint returns a token for profile valid until exp.
func (k *tokenKey) mint(profile string, exp time.Time) string {
	m := k.macs.Get().(*macState)
	defer k.macs.Put(m)
	b := make([]byte, 8, tokenBytes)
	binary.BigEndian.PutUint64(b, uint64(exp.UnixMilli()))
	k.mac(m, profile, b)
	b = append(b, m.sum[:]...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// valid reports whether tok was minted for profile under this key and has
// not expired at now.
func (k *tokenKey) valid(profile, tok string, now time.Time) bool {
	if len(tok) != tokenLen {
		return false
	}
	if c := k.last.Load(); c != nil && c.profile == profile && constantTimeEqual(c.tok, tok) {
		return now.UnixMilli() < c.exp
	}
	m := k.macs.Get().(*macState)
	defer k.macs.Put(m)
	src := m.tok[:copy(m.tok[:], tok)]
	if n, err := strictB64.Decode(m.raw[:], src); err != nil || n != tokenBytes {
		return false
	}
	k.mac(m, profile, m.raw[:8])
	if !hmac.Equal(m.raw[8:], m.sum[:]) {
		return false
	}
	exp := int64(binary.BigEndian.Uint64(m.raw[:8]))
	if exp <= 0 || now.UnixMilli() >= exp {
		return false
	}
	k.last.Store(&checkedToken{tok: tok, profile: profile, exp: exp})
	return true
}

// constantTimeEqual compares two strings of equal length in time that
// depends on their length only, eight bytes at a time
// (subtle.ConstantTimeCompare would copy them to byte slices first and
// compare byte by byte).
func constantTimeEqual(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var d uint64
	i := 0
	for ; len(a)-i >= 8; i += 8 {
		d |= load64(a[i:]) ^ load64(b[i:])
	}
	for ; i < len(a); i++ {
		d |= uint64(a[i] ^ b[i])
	}
	d |= d >> 32
	d |= d >> 16
	d |= d >> 8
	return subtle.ConstantTimeByteEq(byte(d), 0) == 1
}

// load64 is s's first eight bytes as one little-endian word (the compiler
// makes it one load).
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}
