package tomlpos

import (
	"fmt"
	"slices"
	"strings"
)

// Item is one table header or key/value of a TOML document, with the byte
// offsets an editor needs.
type Item struct {
	Header bool     // a [table] or [[array]] header
	Array  bool     // [[array]]
	Path   []string // the table, or the key's full path
	Key    []string // a key/value's key as written (relative to its table)
	Start  int      // offset of the line the item starts on
	End    int      // offset just past the item's last line (and its newline)

	ValStart, ValEnd int // a key/value's value
}

// Scan lists the headers and key/values of data, a valid TOML document (see
// Parse), in file order. It reuses the line locator's lexer.
func Scan(data []byte) (items []Item, err error) {
	defer func() {
		if r := recover(); r != nil {
			items, err = nil, fmt.Errorf("%v", r)
		}
	}()
	l := &locator{s: string(data), line: 1, lines: map[string]int{}}
	var table []string
	bad := func() ([]Item, error) {
		return nil, fmt.Errorf("unexpected text on line %d", l.line)
	}
	for {
		l.space(true)
		if l.i >= len(l.s) {
			return items, nil
		}
		it := Item{Start: strings.LastIndexByte(l.s[:l.i], '\n') + 1}
		switch {
		case l.hasPrefix("[["):
			l.i += 2
			table = l.key()
			l.space(false)
			if table == nil || !l.hasPrefix("]]") {
				return bad()
			}
			l.i += 2
			it.Header, it.Array, it.Path = true, true, table
		case l.peek() == '[':
			l.i++
			table = l.key()
			l.space(false)
			if table == nil || l.peek() != ']' {
				return bad()
			}
			l.i++
			it.Header, it.Path = true, table
		default:
			k := l.key()
			if k == nil {
				return bad()
			}
			l.space(false)
			if l.peek() != '=' {
				return bad()
			}
			l.i++
			l.space(false)
			it.Key, it.Path = k, slices.Concat(table, k)
			it.ValStart = l.i
			if !l.value(it.Path) {
				return bad()
			}
			it.ValEnd = l.i
		}
		for l.i < len(l.s) && l.s[l.i] != '\n' {
			l.i++
		}
		if l.i < len(l.s) {
			l.advance()
		}
		it.End = l.i
		items = append(items, it)
	}
}
