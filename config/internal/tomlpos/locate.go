package tomlpos

import (
	"strconv"
	"strings"
)

// locateKeys maps every key of an already-valid TOML document (path pieces
// joined by "\x00") to the line its key is written on: table headers, `key
// =` lines, dotted keys and keys inside inline tables. It runs in one pass.
// On anything it does not understand it stops and returns what it has;
// callers fall back for keys it missed.
func locateKeys(data []byte) map[string]int {
	l := &locator{s: string(data), line: 1, lines: map[string]int{}}
	defer func() { _ = recover() }() // a locator bug must never break a load
	l.document()
	return l.lines
}

type locator struct {
	s     string
	i     int
	line  int
	lines map[string]int
}

func (l *locator) peek() byte {
	if l.i < len(l.s) {
		return l.s[l.i]
	}
	return 0
}

func (l *locator) advance() {
	if l.s[l.i] == '\n' {
		l.line++
	}
	l.i++
}

func (l *locator) hasPrefix(p string) bool { return strings.HasPrefix(l.s[l.i:], p) }

// space skips blanks; with nl also newlines and comments.
func (l *locator) space(nl bool) {
	for l.i < len(l.s) {
		switch c := l.s[l.i]; {
		case c == ' ' || c == '\t' || c == '\r':
			l.i++
		case nl && c == '\n':
			l.advance()
		case nl && c == '#':
			for l.i < len(l.s) && l.s[l.i] != '\n' {
				l.i++
			}
		default:
			return
		}
	}
}

func (l *locator) record(path []string, line int) {
	for n := 1; n <= len(path); n++ {
		k := strings.Join(path[:n], "\x00")
		if _, ok := l.lines[k]; !ok {
			l.lines[k] = line
		}
	}
}

func (l *locator) document() {
	var table []string
	for {
		l.space(true)
		if l.i >= len(l.s) {
			return
		}
		switch {
		case l.hasPrefix("[["):
			l.i += 2
			line := l.line
			table = l.key()
			l.record(table, line)
			l.lines[strings.Join(table, "\x00")] = line // the last element, as BurntSushi reports
			l.space(false)
			if !l.hasPrefix("]]") {
				return
			}
			l.i += 2
		case l.peek() == '[':
			l.i++
			line := l.line
			table = l.key()
			l.record(table, line)
			l.space(false)
			if l.peek() != ']' {
				return
			}
			l.i++
		default:
			if !l.keyValue(table) {
				return
			}
		}
		// The rest of the line is blanks or a comment.
		for l.i < len(l.s) && l.s[l.i] != '\n' {
			l.i++
		}
	}
}

// keyValue reads `key = value` inside table.
func (l *locator) keyValue(table []string) bool {
	line := l.line
	k := l.key()
	if k == nil {
		return false
	}
	path := append(append([]string(nil), table...), k...)
	l.record(path, line)
	l.space(false)
	if l.peek() != '=' {
		return false
	}
	l.i++
	l.space(false)
	return l.value(path)
}

// key reads a dotted key.
func (l *locator) key() []string {
	var parts []string
	for {
		l.space(false)
		var part string
		switch c := l.peek(); c {
		case '"':
			raw, ok := l.quoted('"')
			if !ok {
				return nil
			}
			part = raw
			if u, err := strconv.Unquote(`"` + raw + `"`); err == nil {
				part = u
			}
		case '\'':
			raw, ok := l.quoted('\'')
			if !ok {
				return nil
			}
			part = raw
		default:
			start := l.i
			for l.i < len(l.s) && !strings.ContainsRune(" \t\r\n=.#\"'[]{},", rune(l.s[l.i])) {
				l.i++
			}
			if l.i == start {
				return nil
			}
			part = l.s[start:l.i]
		}
		parts = append(parts, part)
		l.space(false)
		if l.peek() != '.' {
			return parts
		}
		l.i++
	}
}

// quoted reads a one-line string opened by q and returns its raw content.
func (l *locator) quoted(q byte) (string, bool) {
	l.i++
	start := l.i
	for l.i < len(l.s) {
		c := l.s[l.i]
		switch {
		case c == '\n':
			return "", false
		case c == '\\' && q == '"':
			l.i += 2
			continue
		case c == q:
			raw := l.s[start:l.i]
			l.i++
			return raw, true
		}
		l.i++
	}
	return "", false
}

// value skips one value, recording the keys of inline tables under path.
func (l *locator) value(path []string) bool {
	switch {
	case l.hasPrefix(`"""`), l.hasPrefix(`'''`):
		q := l.s[l.i : l.i+3]
		l.i += 3
		for l.i < len(l.s) {
			if q == `"""` && l.s[l.i] == '\\' {
				l.advance()
				if l.i < len(l.s) {
					l.advance()
				}
				continue
			}
			if l.hasPrefix(q) {
				l.i += 3
				for n := 0; n < 2 && l.peek() == q[0]; n++ { // """a"""" ends in a quote
					l.i++
				}
				return true
			}
			l.advance()
		}
		return false
	case l.peek() == '"' || l.peek() == '\'':
		_, ok := l.quoted(l.peek())
		return ok
	case l.peek() == '[':
		return l.list(']', func() bool { return l.value(path) })
	case l.peek() == '{':
		return l.list('}', func() bool { return l.keyValue(path) })
	default: // number, boolean, date-time (which may contain a space)
		start := l.i
		for l.i < len(l.s) && !strings.ContainsRune(",]}#\n", rune(l.s[l.i])) {
			l.i++
		}
		return l.i > start
	}
}

// list skips an array or inline table from its opening bracket to end,
// reading each element with item.
func (l *locator) list(end byte, item func() bool) bool {
	l.i++
	for {
		l.space(true)
		switch l.peek() {
		case end:
			l.i++
			return true
		case ',':
			l.i++
			continue
		case 0:
			return false
		}
		if !item() {
			return false
		}
	}
}
