package layout

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const module = "github.com/stsd/stsd/"

// deps lists the packages pkg links (its transitive imports) for goos.
func deps(t *testing.T, pkg, goos string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", module+pkg)
	cmd.Dir = root(t)
	cmd.Env = append(os.Environ(), "GOOS="+goos)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

func root(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// TestDeps: the rules of what may link what.
//   - credproc, cache and internal/wire (what the small binary is made of)
//     link no AWS SDK, no net/http and no TLS;
//   - the small binary links none of those, no TOML, config or daemon, and
//     on unix not even package net (its init and poller cost ~0.1 ms of a
//     ~1.7 ms run), package flag or os/signal (their setup costs every
//     run ~0.05 and ~0.3 ms);
//   - the HTTP endpoints (imds, ecs, broker) never reach into the daemon or
//     the config: they serve what a Source hands them;
//   - nothing imports cmd/….
func TestDeps(t *testing.T) {
	t.Parallel()
	sdkFree := func(dep string) bool {
		return dep == "net/http" || dep == "crypto/tls" || strings.HasPrefix(dep, "github.com/aws/")
	}
	rules := []struct {
		pkg    string
		goos   []string
		banned func(dep string) bool
	}{
		{"credproc", []string{"linux", "darwin", "windows"}, sdkFree},
		{"cache", []string{"linux", "darwin", "windows"}, sdkFree},
		{"internal/wire", []string{"linux", "darwin", "windows"}, sdkFree},
		{"internal/mfa", []string{"linux", "darwin", "windows"}, sdkFree},
		{"cmd/stsd-credential-process", []string{"linux", "darwin"}, func(dep string) bool {
			return sdkFree(dep) || dep == "net" || dep == "flag" || dep == "os/signal" || strings.HasPrefix(dep, "github.com/BurntSushi/") ||
				strings.HasPrefix(dep, module+"config") || strings.HasPrefix(dep, module+"daemon")
		}},
		{"cmd/stsd-credential-process", []string{"windows"}, func(dep string) bool {
			return sdkFree(dep) || strings.HasPrefix(dep, module+"config") || strings.HasPrefix(dep, module+"daemon")
		}},
	}
	for _, pkg := range []string{"imds", "ecs", "broker"} {
		rules = append(rules, struct {
			pkg    string
			goos   []string
			banned func(dep string) bool
		}{pkg, []string{"linux", "windows"}, func(dep string) bool {
			return strings.HasPrefix(dep, module+"daemon") || strings.HasPrefix(dep, module+"config")
		}})
	}
	all := packages(t)
	for _, r := range rules {
		for _, goos := range r.goos {
			for _, dep := range deps(t, r.pkg, goos) {
				if r.banned(dep) {
					t.Errorf("%s (GOOS=%s) links %s", r.pkg, goos, dep)
				}
			}
		}
	}
	for _, pkg := range all {
		if strings.HasPrefix(pkg, "cmd/") {
			continue
		}
		for _, dep := range deps(t, pkg, "linux") {
			if strings.HasPrefix(dep, module+"cmd/") {
				t.Errorf("%s imports %s", pkg, dep)
			}
		}
	}
}

// TestCommandsOnlyWire: cmd/* wire commands, print and hold the command
// table; they never reach for the network, processes, crypto or the SDK
// themselves (those live in the packages they call).
func TestCommandsOnlyWire(t *testing.T) {
	t.Parallel()
	banned := regexp.MustCompile(`^(net|net/http|os/exec|crypto/.*|github\.com/aws/.*)$`)
	for _, pkg := range []string{"cmd/stsd", "cmd/stsd-credential-process"} {
		cmd := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, module+pkg)
		cmd.Dir = root(t)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range strings.Fields(string(out)) {
			if banned.MatchString(imp) {
				t.Errorf("%s imports %s: move that work into the package it belongs to", pkg, imp)
			}
		}
	}
}

// packages lists the module's packages, relative to it.
func packages(t *testing.T) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "./...")
	cmd.Dir = root(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var pkgs []string
	for _, p := range strings.Fields(string(out)) {
		pkgs = append(pkgs, strings.TrimPrefix(p, module))
	}
	return pkgs
}

// productFiles are the module's non-test Go files outside bench/ and
// testdata.
func productFiles(t *testing.T) []string {
	t.Helper()
	r := root(t)
	var files []string
	filepath.WalkDir(r, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && p != r && (name == "bench" || name == "testdata" || name == "node_modules" || strings.HasPrefix(name, ".")) {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") {
			files = append(files, p)
		}
		return nil
	})
	return files
}

// maxFuncLines is the longest a product function may be, from its func
// line to its closing brace.
const maxFuncLines = 80

func TestFunctionLength(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	for _, path := range productFiles(t) {
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			if n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1; n > maxFuncLines {
				t.Errorf("%s: %s is %d lines; split it (at most %d)", rel(t, path), fd.Name.Name, n, maxFuncLines)
			}
		}
	}
}

// TestCommentsStateRules: product code states a rule where it applies
// instead of pointing at documents that are not in the repo.
func TestCommentsStateRules(t *testing.T) {
	t.Parallel()
	cites := regexp.MustCompile(`design\.md|protocol\.md|style\.md|house style`)
	fset := token.NewFileSet()
	for _, path := range productFiles(t) {
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range f.Comments {
			if m := cites.FindString(g.Text()); m != "" {
				t.Errorf("%s:%d: a comment cites %q: state the rule itself", rel(t, path), fset.Position(g.Pos()).Line, m)
			}
		}
	}
}

func rel(t *testing.T, path string) string {
	r, err := filepath.Rel(root(t), path)
	if err != nil {
		return path
	}
	return r
}

// TestNoProfileEndpoint: a CPU profile is only ever a file (stsd run
// --cpu-profile); no listener, the broker's least of all, serves one.
func TestNoProfileEndpoint(t *testing.T) {
	t.Parallel()
	for _, pkg := range []string{"cmd/stsd", "cmd/stsd-credential-process"} {
		for _, dep := range deps(t, pkg, "linux") {
			if dep == "net/http/pprof" || strings.HasPrefix(dep, "github.com/google/pprof") {
				t.Errorf("%s links %s: profiles are written with --cpu-profile, never served", pkg, dep)
			}
		}
	}
}

// TestNoProgramsTracked: the repository holds sources, never a built
// program (make build writes them to bin/, which is ignored): a binary
// someone built in the tree and committed bloats every clone for good.
func TestNoProgramsTracked(t *testing.T) {
	t.Parallel()
	dir := root(t)
	out, err := exec.Command("git", "-C", dir, "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("not a git checkout (git ls-files: %v)", err)
	}
	magics := map[string]string{"\x7fELF": "ELF", "\xcf\xfa\xed\xfe": "Mach-O", "\xfe\xed\xfa\xcf": "Mach-O", "MZ": "PE"}
	for _, name := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			continue // deleted in the work tree
		}
		head := make([]byte, 4)
		n, _ := f.Read(head)
		f.Close()
		for magic, kind := range magics {
			if strings.HasPrefix(string(head[:n]), magic) {
				t.Errorf("%s is a built %s program: git rm --cached it (make build writes to bin/)", name, kind)
			}
		}
	}
}
