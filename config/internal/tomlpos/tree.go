// Package tomlpos parses TOML into a tree of keys that knows the line each key is written on.
package tomlpos

import (
	"bytes"
	"errors"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Node is one TOML key with the line it was written on. BurntSushi/toml keeps
// key positions private, so lines come from locateKeys, a one-pass scan of
// the (already validated) text. For a key it misses, the position
// BurntSushi attaches to an error returned by a toml.Unmarshaler (lineProbe)
// is used; that costs a pass over the whole input per key, so it is rationed
// (maxProbes).
type Node struct {
	Key   toml.Key
	Line  int
	Value any     // the decoded value (map[string]any for tables)
	Kids  []*Node // a table's keys in file order; nil for other values
	Table bool
}

// Name is the dotted key, quoted where TOML needs quotes.
func (n *Node) Name() string { return n.Key.String() }

// Last is the key's own name (the last dotted piece).
func (n *Node) Last() string { return n.Key[len(n.Key)-1] }

// Child is the key named key directly under table n, or nil.
func (n *Node) Child(key string) *Node {
	for _, k := range n.Kids {
		if k.Last() == key {
			return k
		}
	}
	return nil
}

var errLineProbe = errors.New("line probe")

type lineProbe struct{}

func (lineProbe) UnmarshalTOML(any) error { return errLineProbe }

// Parse parses data as TOML and returns its root table. A syntax error
// comes back as a toml.ParseError (with its line).
func Parse(data []byte) (*Node, error) {
	var top map[string]toml.Primitive
	md, err := toml.Decode(string(data), &top)
	if err != nil {
		return nil, err
	}
	b := treeBuilder{md: &md, data: data, lines: locateKeys(data), probes: maxProbes}
	root := &Node{Table: true, Value: map[string]any{}}
	root.Kids = b.kids(nil, 0, top)
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
func (b *treeBuilder) kids(parent toml.Key, parentLine int, m map[string]toml.Primitive) []*Node {
	out := make([]*Node, 0, len(m))
	for k, prim := range m {
		key := make(toml.Key, len(parent), len(parent)+1)
		copy(key, parent)
		key = append(key, k)
		n := &Node{Key: key, Line: b.line(key, prim)}
		if err := b.md.PrimitiveDecode(prim, &n.Value); err != nil {
			n.Value = nil
		}
		if _, ok := n.Value.(map[string]any); ok {
			var sub map[string]toml.Primitive
			if err := b.md.PrimitiveDecode(prim, &sub); err == nil {
				n.Table = true
				n.Kids = b.kids(key, n.Line, sub)
				if n.Line == 0 { // implicit table: [a.b] defines a without a line
					for _, c := range n.Kids {
						if c.Line > 0 && (n.Line == 0 || c.Line < n.Line) {
							n.Line = c.Line
						}
					}
				}
			}
		}
		if n.Line == 0 {
			n.Line = parentLine // keys the position lookup cannot find, such as ""
		}
		out = append(out, n)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Line != out[j].Line {
			return out[i].Line < out[j].Line
		}
		return out[i].Last() < out[j].Last()
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
