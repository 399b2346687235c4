package config

import (
	"bytes"
	"errors"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// node is one TOML key with the line it was written on. BurntSushi/toml keeps
// key positions private, so lines come from locateKeys, a one-pass scan of
// the (already validated) text. For a key it misses, the position
// BurntSushi attaches to an error returned by a toml.Unmarshaler (lineProbe)
// is used; that costs a pass over the whole input per key, so it is rationed
// (maxProbes).
type node struct {
	key   toml.Key
	line  int
	val   any     // the decoded value (map[string]any for tables)
	kids  []*node // a table's keys in file order; nil for other values
	table bool
}

// name is the dotted key, quoted where TOML needs quotes.
func (n *node) name() string { return n.key.String() }

// last is the key's own name (the last dotted piece).
func (n *node) last() string { return n.key[len(n.key)-1] }

var errLineProbe = errors.New("line probe")

type lineProbe struct{}

func (lineProbe) UnmarshalTOML(any) error { return errLineProbe }

// parseTree parses data as TOML. A syntax error comes back as a
// toml.ParseError (with its line).
func parseTree(data []byte) (*node, error) {
	var top map[string]toml.Primitive
	md, err := toml.Decode(string(data), &top)
	if err != nil {
		return nil, err
	}
	b := treeBuilder{md: &md, data: data, lines: locateKeys(data), probes: maxProbes}
	root := &node{table: true, val: map[string]any{}}
	root.kids = b.kids(nil, 0, top)
	return root, nil
}

// maxProbes bounds the slow line lookups of one parse.
const maxProbes = 64

type treeBuilder struct {
	md     *toml.MetaData
	data   []byte
	lines  map[string]int // from locateKeys
	probes int            // slow lookups left
}

// kids builds the nodes of table parent (written on parentLine).
func (b *treeBuilder) kids(parent toml.Key, parentLine int, m map[string]toml.Primitive) []*node {
	out := make([]*node, 0, len(m))
	for k, prim := range m {
		key := make(toml.Key, len(parent), len(parent)+1)
		copy(key, parent)
		key = append(key, k)
		n := &node{key: key, line: b.line(key, prim)}
		if err := b.md.PrimitiveDecode(prim, &n.val); err != nil {
			n.val = nil
		}
		if _, ok := n.val.(map[string]any); ok {
			var sub map[string]toml.Primitive
			if err := b.md.PrimitiveDecode(prim, &sub); err == nil {
				n.table = true
				n.kids = b.kids(key, n.line, sub)
				if n.line == 0 { // implicit table: [a.b] defines a without a line
					for _, c := range n.kids {
						if c.line > 0 && (n.line == 0 || c.line < n.line) {
							n.line = c.line
						}
					}
				}
			}
		}
		if n.line == 0 {
			n.line = parentLine // keys the position lookup cannot find, such as ""
		}
		out = append(out, n)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].line != out[j].line {
			return out[i].line < out[j].line
		}
		return out[i].last() < out[j].last()
	})
	return out
}

// line is the line key is written on (0 when unknown).
func (b *treeBuilder) line(key toml.Key, prim toml.Primitive) int {
	if l, ok := b.lines[strings.Join(key, "\x00")]; ok {
		return l
	}
	if b.probes <= 0 {
		return 0
	}
	b.probes--
	return b.probeLine(prim)
}

// probeLine is the line a value starts on, from BurntSushi. The position's
// Line is where the lexer finished the value (the closing quotes of a
// multi-line string), so count lines up to its start offset instead.
func (b *treeBuilder) probeLine(prim toml.Primitive) int {
	var p lineProbe
	err := b.md.PrimitiveDecode(prim, &p)
	var pe toml.ParseError
	if !errors.As(err, &pe) || pe.Position.Line == 0 {
		return 0
	}
	if s := pe.Position.Start; s > 0 && s <= len(b.data) {
		return 1 + bytes.Count(b.data[:s], []byte("\n"))
	}
	return pe.Position.Line
}
