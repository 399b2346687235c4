package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestMakeFuzzListsEveryTarget: `make fuzz` names its targets one by one;
// a fuzz test missing from that list would never be fuzzed.
func TestMakeFuzzListsEveryTarget(t *testing.T) {
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	listed := regexp.MustCompile(`\./([\w./-]+):(Fuzz\w+)`).FindAllStringSubmatch(string(mk), -1)
	var inMake []string
	for _, m := range listed {
		inMake = append(inMake, m[1]+":"+m[2])
	}
	var inCode []string
	decl := regexp.MustCompile(`(?m)^func (Fuzz\w+)\(f \*testing\.F\)`)
	err = filepath.WalkDir("../..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != "../.." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range decl.FindAllStringSubmatch(string(b), -1) {
			inCode = append(inCode, filepath.ToSlash(filepath.Dir(strings.TrimPrefix(path, "../../")))+":"+m[1])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(inMake)
	slices.Sort(inCode)
	for _, c := range inCode {
		if !slices.Contains(inMake, c) {
			t.Errorf("fuzz test %s is not in the Makefile's FUZZ_TARGETS", c)
		}
	}
	for _, m := range inMake {
		if !slices.Contains(inCode, m) {
			t.Errorf("FUZZ_TARGETS names %s, which does not exist", m)
		}
	}
}
