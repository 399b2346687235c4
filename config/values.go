package config

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stsd/stsd/config/internal/tomlpos"
	"github.com/stsd/stsd/internal/paths"
)

// typeName names a decoded TOML value's type for messages.
func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case []map[string]any:
		return "an array of tables"
	case map[string]any:
		return "a table"
	case nil:
		return "nothing"
	default:
		return "a date/time"
	}
}

// typed is n's value as a T, recording an error that says it must be what
// when it is not.
func typed[T any](p *parser, n *tomlpos.Node, what string) (T, bool) {
	v, ok := n.Value.(T)
	if !ok {
		p.errf(n, "must be %s, not %s", what, typeName(n.Value))
	}
	return v, ok
}

func (p *parser) str(n *tomlpos.Node) (string, bool) { return typed[string](p, n, "a string") }

// nonEmpty is a string that must not be empty.
func (p *parser) nonEmpty(n *tomlpos.Node) (string, bool) {
	s, ok := p.str(n)
	if ok && strings.TrimSpace(s) == "" {
		p.errf(n, "must not be empty; remove the key or give it a value")
		return "", false
	}
	return s, ok
}

// oneOf is a string from valid; format (with the value as its %q) says
// what to write instead.
func (p *parser) oneOf(n *tomlpos.Node, valid []string, format string) (string, bool) {
	s, ok := p.str(n)
	if ok && !slices.Contains(valid, s) {
		p.errf(n, format, s)
		return "", false
	}
	return s, ok
}

func (p *parser) boolean(n *tomlpos.Node) (bool, bool) {
	return typed[bool](p, n, "true or false")
}

// intIn is an integer in lo..hi.
func (p *parser) intIn(n *tomlpos.Node, lo, hi int64) (int, bool) {
	i, ok := typed[int64](p, n, "an integer")
	if ok && (i < lo || i > hi) {
		p.errf(n, "%d is out of range (%d..%d)", i, lo, hi)
		return 0, false
	}
	return int(i), ok
}

// table reports whether n is a table, recording an error naming the header
// to write when it is not.
func (p *parser) table(n *tomlpos.Node) bool {
	if !n.Table {
		p.errf(n, "must be a table ([%s]), not %s", n.Name(), typeName(n.Value))
	}
	return n.Table
}

// array returns the elements of an array value.
func (p *parser) array(n *tomlpos.Node, what string) ([]any, bool) {
	a, ok := n.Value.([]any)
	if !ok {
		p.errf(n, "must be an array of %s, not %s", what, typeName(n.Value))
	}
	return a, ok
}

// strList is an array of strings; each bad element is its own problem.
func (p *parser) strList(n *tomlpos.Node) ([]string, bool) {
	out := []string{}
	ok := p.eachString(n, func(_ string, s string) { out = append(out, s) })
	return out, ok
}

// eachString calls f with the dotted key and value of each string element of
// an array, reporting other elements, in index order. It reports whether n
// is an array of strings only.
func (p *parser) eachString(n *tomlpos.Node, f func(key string, s string)) bool {
	a, ok := p.array(n, "strings")
	if !ok {
		return false
	}
	for i, v := range a {
		s, isStr := v.(string)
		if !isStr {
			p.errAt(n.Line, elem(n, i), fmt.Sprintf("must be a string, not %s", typeName(v)))
			ok = false
			continue
		}
		f(elem(n, i), s)
	}
	return ok
}

// require reports key missing from table n; msg says what to set.
func (p *parser) require(n *tomlpos.Node, key, msg string) {
	if n.Child(key) == nil {
		p.errAt(n.Line, n.Name()+"."+key, "missing: "+msg)
	}
}

// elem is the dotted key of array element i.
func elem(n *tomlpos.Node, i int) string { return fmt.Sprintf("%s[%d]", n.Name(), i) }

// duration is a duration string in whole seconds (ParseDuration).
func (p *parser) duration(n *tomlpos.Node) (time.Duration, bool) {
	s, ok := n.Value.(string)
	if !ok {
		p.errf(n, `must be a duration string such as "12h" or "90m", not %s`, typeName(n.Value))
		return 0, false
	}
	d, err := ParseDuration(s)
	if err != nil {
		p.errf(n, `%q is not a duration; write it like "30d", "12h", "90m" or "1d12h"`, s)
		return 0, false
	}
	if d <= 0 {
		p.errf(n, "%q must be positive", s)
		return 0, false
	}
	if d%time.Second != 0 {
		p.errf(n, "%q is not a whole number of seconds", s)
		return 0, false
	}
	return d, true
}

// maxDays bounds the day unit: 100 years is never meant.
const maxDays = 36500

// ParseDuration is time.ParseDuration plus a leading day unit: "30d",
// "1d12h" (a day is 24h). Every duration stsd reads goes through it.
func ParseDuration(s string) (time.Duration, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i == len(s) || s[i] != 'd' {
		return time.ParseDuration(s)
	}
	days, err := strconv.Atoi(s[:i])
	if err != nil || days > maxDays {
		return 0, fmt.Errorf("duration %q: too many days (at most %d)", s, maxDays)
	}
	d := time.Duration(days) * 24 * time.Hour
	if rest := s[i+1:]; rest != "" {
		r, err := time.ParseDuration(rest)
		if err != nil || r < 0 || strings.HasPrefix(rest, "+") {
			return 0, fmt.Errorf("duration %q: after the days write hours, minutes or seconds, e.g. \"1d12h\"", s)
		}
		if r > math.MaxInt64-d {
			return 0, fmt.Errorf("duration %q is too long", s)
		}
		d += r
	}
	return d, nil
}

// fmtDur prints a duration without zero units: 36h, 15m, 1h30m, 90s.
func fmtDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// filePath resolves a path value: `~` and `~/…` become the home directory,
// relative paths are relative to the config file's directory.
func (p *parser) filePath(n *tomlpos.Node) (string, bool) {
	s, ok := p.nonEmpty(n)
	if !ok {
		return "", false
	}
	r, msg := p.resolvePath(s)
	if msg != "" {
		p.errf(n, "%s", msg)
		return "", false
	}
	return r, true
}

func (p *parser) resolvePath(s string) (string, string) {
	if strings.HasPrefix(s, "~") {
		rest := s[1:]
		if rest != "" && rest[0] != '/' && rest[0] != filepath.Separator {
			return "", fmt.Sprintf("%q: ~user paths are not supported; write the absolute path", s)
		}
		if p.o.System {
			return "", fmt.Sprintf("%q: ~ is not expanded in the system layout (the service runs as its own user); write the absolute path", s)
		}
		home, err := paths.Home()
		if err != nil {
			return "", fmt.Sprintf("%q: cannot expand ~ (%v); write the absolute path", s, err)
		}
		return filepath.Join(home, rest), ""
	}
	if filepath.IsAbs(s) {
		return filepath.Clean(s), ""
	}
	return filepath.Join(p.dir, s), ""
}

// uid is one allowed_uids element.
func uidValue(v any) (int, string) {
	i, ok := v.(int64)
	if !ok {
		return 0, fmt.Sprintf("must be an integer uid, not %s", typeName(v))
	}
	// 4294967295 is (uid_t)-1, "no uid" to chown(2) and setreuid(2).
	if i < 0 || i >= math.MaxUint32 {
		return 0, fmt.Sprintf("%d is not a uid (0..4294967294)", i)
	}
	return int(i), ""
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+=:@,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// suggest returns ` (did you mean "x"?)` for the closest valid key within
// edit distance 2, else a list of the valid keys.
func suggest(key string, valid []string) string {
	best, bestD := "", 3
	for _, v := range valid {
		if d := editDistance(strings.ToLower(key), v); d < bestD {
			best, bestD = v, d
		}
	}
	if best != "" {
		return fmt.Sprintf("unknown key; did you mean %q?", best)
	}
	return "unknown key; valid keys here: " + strings.Join(valid, ", ")
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// plural is "1 thing" / "2 things".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}
