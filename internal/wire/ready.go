package wire

import (
	"bytes"
	"strconv"
	"time"
)

// A ready file holds a profile's credential_process document, ready-made
// by the daemon in its private runtime directory so the small binary can
// print it without a round trip. It is one header line, then the document
// byte for byte:
//
//	stsd-ready 1 PROFILE ISSUED EXPIRES\n{"Version":1,…}\n
//
// ISSUED and EXPIRES are Unix seconds (ISSUED rounded down, so the
// lifetime the reader derives is never shorter than the real one).
const readyMagic = "stsd-ready 1 "

// MaxReadySize bounds a ready file a reader accepts: a document is
// ~1.5 KiB.
const MaxReadySize = 64 << 10

// Ready is a parsed ready file.
type Ready struct {
	Doc     []byte // the credential_process document, ending in a newline
	Issued  time.Time
	Expires time.Time
}

// ReadyName reports whether profile may have a ready file, named by the
// profile itself: only names the config accepts (1–64 of
// [A-Za-z0-9_+=,.@-], not starting with "."), which hold no separator and
// are never "." or "..".
func ReadyName(profile string) bool {
	if profile == "" || len(profile) > 64 || profile[0] == '.' {
		return false
	}
	for i := 0; i < len(profile); i++ {
		c := profile[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '_' || c == '+' || c == '=' || c == ',' || c == '.' || c == '@' || c == '-') {
			return false
		}
	}
	return true
}

// AppendReady appends profile's ready file for the credentials doc
// (Marshal's output) issued at issued and expiring at expires.
func AppendReady(b []byte, profile string, issued, expires time.Time, doc []byte) []byte {
	b = append(b, readyMagic...)
	b = append(b, profile...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, issued.Unix(), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, expires.Unix(), 10)
	b = append(b, '\n')
	return append(b, doc...)
}

// ParseReady reads a ready file made for profile. It refuses (ok false)
// anything but a well-formed file for that profile whose credentials were
// issued before they expire, holding one document line.
func ParseReady(data []byte, profile string) (r Ready, ok bool) {
	if len(data) > MaxReadySize || !bytes.HasPrefix(data, []byte(readyMagic)) {
		return Ready{}, false
	}
	header, doc, ok := bytes.Cut(data[len(readyMagic):], []byte{'\n'})
	if !ok {
		return Ready{}, false
	}
	name, rest, _ := bytes.Cut(header, []byte{' '})
	issuedField, expiresField, _ := bytes.Cut(rest, []byte{' '})
	issued, ok1 := unixSeconds(issuedField)
	expires, ok2 := unixSeconds(expiresField)
	switch {
	case !ok1 || !ok2 || string(name) != profile || issued >= expires:
		return Ready{}, false
	case !bytes.HasPrefix(doc, []byte(`{"Version":1,`)) || !bytes.HasSuffix(doc, []byte("}\n")):
		return Ready{}, false
	case bytes.IndexByte(doc, '\n') != len(doc)-1:
		return Ready{}, false
	}
	return Ready{Doc: doc, Issued: time.Unix(issued, 0), Expires: time.Unix(expires, 0)}, true
}

// unixSeconds parses 1–12 decimal digits in canonical form (no sign, no
// spaces, no leading zero): enough for any time until the year 33658.
func unixSeconds(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 12 || len(b) > 1 && b[0] == '0' {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// Fresh reports whether the credentials may be handed out at now: more
// than MinRemaining of their lifetime is left, the rule the cache follows.
func (r Ready) Fresh(now time.Time) bool {
	lifetime := r.Expires.Sub(r.Issued)
	return lifetime > 0 && r.Expires.Sub(now) > MinRemaining(lifetime)
}
