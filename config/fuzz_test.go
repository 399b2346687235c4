package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stsd/stsd/config"
)

// FuzzConfig checks that Parse never panics, returns either a config or
// config.Errors, and locates every problem in its file.
func FuzzConfig(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*.toml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(sess + fed + "name = \"{client}\"\n[broker]\nlisten = \":1\"\n[broker.clients.ab]\nprofiles = [\"fed\"]\n"))
	f.Add([]byte("a = \"\"\"\nx\n\"\"\"\n[b]\nc = { d = 1,\n e = [1, 2] }\n"))
	f.Add([]byte(chained + "[profiles.a]\nmode = \"role\"\nrole_arn = \"arn:aws:iam::123456789012:role/a\"\nvia_profile = \"b\"\n" +
		"[profiles.b]\nmode = \"role\"\nrole_arn = \"arn:aws:iam::123456789012:role/b\"\nvia_profile = \"a\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse("fuzz.toml", data, config.Options{Hostname: testHost})
		if err == nil {
			if c == nil {
				t.Fatal("Parse returned nil, nil")
			}
			for _, w := range c.Warnings {
				if w.File != "fuzz.toml" {
					t.Fatalf("warning %q has File %q", w, w.File)
				}
			}
			return
		}
		if c != nil {
			t.Fatalf("Parse returned a config and %v", err)
		}
		es, ok := err.(config.Errors)
		if !ok || len(es) == 0 {
			t.Fatalf("Parse error %T %v; want non-empty config.Errors", err, err)
		}
		for _, e := range es {
			if e.File != "fuzz.toml" || e.Line < 0 || e.Msg == "" {
				t.Fatalf("bad error %#v", e)
			}
		}
	})
}

func BenchmarkParseSample(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "sample.toml"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := config.Parse("sample.toml", data, config.Options{Hostname: testHost}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseManyProfiles guards against work per key that grows with
// the file (BurntSushi's error positions re-split the whole input).
func BenchmarkParseManyProfiles(b *testing.B) {
	var sb strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&sb, "[profiles.p%d]\nsource_profile = \"src\"\nregion = \"eu-west-1\"\n", i)
	}
	data := []byte(sb.String())
	for b.Loop() {
		if _, err := config.Parse("many.toml", data, config.Options{Hostname: testHost}); err != nil {
			b.Fatal(err)
		}
	}
}
