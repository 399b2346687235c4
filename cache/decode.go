package cache

import (
	"time"
	"unicode/utf8"
)

// decodeFast reads an entry in the shape Save writes without reflection:
// encoding/json's first Unmarshal costs the small binary ~0.15 ms of a
// ~2 ms run (building its field caches). It takes only what it can read
// exactly as encoding/json would — the known keys, each once, spelled as
// Save spells them; strings without escapes in valid UTF-8; small
// integers; times through time.Time's own UnmarshalJSON — and reports
// false for anything else, which decode then hands to encoding/json. A
// fuzz test holds it to json.Unmarshal's result.
func decodeFast(data []byte) (*Entry, bool) {
	var e Entry
	// One copy of the text, whose substrings the fields become: a fresh
	// process pays for each new allocation size it touches.
	l := lexer{b: string(data)}
	ok := l.object(func(key string) bool {
		switch key {
		case "version":
			return l.int(&e.Version)
		case "profile":
			return l.str(&e.Profile)
		case "fingerprint":
			return l.str(&e.Fingerprint)
		case "credentials":
			return l.credentials(&e)
		case "issued":
			return l.time(&e.Issued)
		case "arn":
			return l.str(&e.ARN)
		case "files":
			return l.files(&e)
		}
		return false
	})
	l.space()
	if !ok || l.i != len(l.b) {
		return nil, false
	}
	return &e, true
}

func (l *lexer) credentials(e *Entry) bool {
	c := &e.Credentials
	return l.object(func(key string) bool {
		switch key {
		case "AccessKeyId":
			return l.str(&c.AccessKeyID)
		case "SecretAccessKey":
			return l.str(&c.SecretAccessKey)
		case "SessionToken":
			return l.str(&c.SessionToken)
		case "Expiration":
			return l.time(&c.Expiration)
		case "AccountId":
			return l.str(&c.AccountID)
		}
		return false
	})
}

func (l *lexer) files(e *Entry) bool {
	e.Files = []FileHash{} // as encoding/json makes for []
	return l.array(func() bool {
		var fh FileHash
		ok := l.object(func(key string) bool {
			switch key {
			case "path":
				return l.str(&fh.Path)
			case "sha256":
				return l.str(&fh.SHA256)
			case "stamp":
				return l.str(&fh.Stamp)
			}
			return false
		})
		e.Files = append(e.Files, fh)
		return ok
	})
}

// lexer walks JSON text; every method reports false where decodeFast
// gives up.
type lexer struct {
	b string
	i int
}

func (l *lexer) space() {
	for l.i < len(l.b) && (l.b[l.i] == ' ' || l.b[l.i] == '\t' || l.b[l.i] == '\n' || l.b[l.i] == '\r') {
		l.i++
	}
}

// next skips space and consumes c if it comes next.
func (l *lexer) next(c byte) bool {
	l.space()
	if l.i < len(l.b) && l.b[l.i] == c {
		l.i++
		return true
	}
	return false
}

// object reads {"key": value, …}, calling field for each value; a key
// seen twice gives up (encoding/json would merge or overwrite).
func (l *lexer) object(field func(key string) bool) bool {
	if !l.next('{') {
		return false
	}
	if l.next('}') {
		return true
	}
	var seenBuf [8]string // the most keys an object Save writes has
	seen := seenBuf[:0]
	for {
		var key string
		if !l.str(&key) || !l.next(':') {
			return false
		}
		for _, k := range seen {
			if k == key {
				return false
			}
		}
		seen = append(seen, key)
		if !field(key) {
			return false
		}
		if l.next('}') {
			return true
		}
		if !l.next(',') {
			return false
		}
	}
}

// array reads [value, …], calling elem for each.
func (l *lexer) array(elem func() bool) bool {
	if !l.next('[') {
		return false
	}
	if l.next(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if l.next(']') {
			return true
		}
		if !l.next(',') {
			return false
		}
	}
}

// raw reads a string with no escapes or control bytes, in valid UTF-8,
// and returns it with its quotes.
func (l *lexer) raw() (string, bool) {
	if !l.next('"') {
		return "", false
	}
	start := l.i - 1
	for ; l.i < len(l.b); l.i++ {
		switch c := l.b[l.i]; {
		case c == '"':
			l.i++
			s := l.b[start:l.i]
			return s, utf8.ValidString(s)
		case c == '\\' || c < 0x20:
			return "", false
		}
	}
	return "", false
}

func (l *lexer) str(dst *string) bool {
	s, ok := l.raw()
	if ok {
		*dst = s[1 : len(s)-1]
	}
	return ok
}

func (l *lexer) time(dst *time.Time) bool {
	s, ok := l.raw()
	return ok && dst.UnmarshalJSON([]byte(s)) == nil
}

// int reads 0 or a positive integer of at most 9 digits.
func (l *lexer) int(dst *int) bool {
	l.space()
	n, digits := 0, 0
	for ; l.i < len(l.b) && '0' <= l.b[l.i] && l.b[l.i] <= '9'; l.i++ {
		if digits > 0 && n == 0 || digits == 9 {
			return false // a leading zero, or too long
		}
		n = n*10 + int(l.b[l.i]-'0')
		digits++
	}
	if digits == 0 || l.i < len(l.b) && (l.b[l.i] == '.' || l.b[l.i] == 'e' || l.b[l.i] == 'E') {
		return false
	}
	*dst = n
	return true
}
