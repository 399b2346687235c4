package tomlpos

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// configTestdata holds the config package's sample files, which double as
// TOML test documents here.
var configTestdata = filepath.Join("..", "..", "testdata")

// probeLines is what the slow, library-backed lookup says for every key.
func probeLines(t *testing.T, data []byte) map[string]int {
	t.Helper()
	var top map[string]toml.Primitive
	md, err := toml.Decode(string(data), &top)
	if err != nil {
		return nil
	}
	b := treeBuilder{md: &md, data: data}
	out := map[string]int{}
	var walk func(parent toml.Key, m map[string]toml.Primitive)
	walk = func(parent toml.Key, m map[string]toml.Primitive) {
		for k, prim := range m {
			key := append(append(toml.Key(nil), parent...), k)
			if l := b.probeLine(prim); l > 0 {
				out[strings.Join(key, "\x00")] = l
			}
			var sub map[string]toml.Primitive
			if md.PrimitiveDecode(prim, &sub) == nil {
				walk(key, sub)
			}
		}
	}
	walk(nil, top)
	return out
}

// checkLocator asserts that locateKeys finds every key the library can
// place, on the same line.
func checkLocator(t *testing.T, data []byte) {
	t.Helper()
	want := probeLines(t, data)
	got := locateKeys(data)
	for k, line := range want {
		if got[k] != line {
			t.Errorf("locateKeys: %q on line %d; library says %d", strings.ReplaceAll(k, "\x00", "."), got[k], line)
		}
	}
}

func TestLocateKeys(t *testing.T) {
	t.Parallel()
	docs := []string{
		"a = 1\nb = \"\"\"\nx\\\"\"\"\n\"\"\"\n[p.q]\nx = 1 # c\ntags = { a = \"1\",\n  b.c = '2' }\ny.z = 3\narr = [\n 1, # one\n [2, {}],\n]\n",
		"'quoted.key' = 'v'\n\"esc\\u00e9\" = 1\n[ a . \"b\" ]\nd = 1979-05-27 07:32:00Z\ne = '''a\n''''\nf = \"\"\"\"\"\"\ng = [ { h = 1 }, { h = 2 } ]\n",
		"[[x]]\na = 1\n[[x]]\nb = 2\n[y]\nc = {d={e=1}}\n",
		"a = \"\"\"\n\\\n  b\n\"\"\"\nc = 1\r\nd = 2\n",
	}
	for _, f := range []string{"sample.toml", "bad.toml"} {
		b, err := os.ReadFile(filepath.Join(configTestdata, f))
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	for i, d := range docs {
		if _, err := toml.Decode(d, new(map[string]any)); err != nil {
			t.Fatalf("doc %d is not TOML: %v", i, err)
		}
		checkLocator(t, []byte(d))
	}
}

// FuzzLocateKeys compares the fast locator with the library on any valid
// TOML.
func FuzzLocateKeys(f *testing.F) {
	f.Add([]byte("a = 1\nb = \"\"\"\nx\n\"\"\"\n[p.q]\nx = { y = [1, 2] }\n"))
	if b, err := os.ReadFile(filepath.Join(configTestdata, "sample.toml")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		checkLocator(t, data)
	})
}
