package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stsd/stsd/internal/clidoc"
)

// TestEveryCommandDescribesItsFlags: every command hands its FlagSet to
// env.describe before doing anything, so help, man pages and completions
// see exactly the flags it parses (a command that did not would run for
// real while `stsd completion` builds the tree).
func TestEveryCommandDescribesItsFlags(t *testing.T) {
	var check func(prefix string, rows []command)
	check = func(prefix string, rows []command) {
		for _, r := range rows {
			if len(r.sub) > 0 {
				check(prefix+r.name+" ", r.sub)
				continue
			}
			if r.name != completeHook && flagSetOf(r) == nil {
				t.Errorf("stsd %s%s never calls e.parse/e.noArgs with its FlagSet", prefix, r.name)
			}
		}
	}
	check("", commandTable)
}

// TestEveryFlagHasAValueKind: each value flag says what it completes to.
func TestEveryFlagHasAValueKind(t *testing.T) {
	root := cliTree()
	check := func(path string, fs []clidoc.Flag) {
		for _, f := range fs {
			if _, ok := flagValues[f.Name]; !ok && !f.Bool {
				t.Errorf("%s --%s: add it to flagValues (what its value completes to)", path, f.Name)
			}
		}
	}
	check("stsd", root.Flags)
	root.Walk(func(path []string, c clidoc.Command) { check(strings.Join(path, " "), c.Flags) })
}

var flagRe = regexp.MustCompile(`--[a-z][a-z-]*`)

// TestHelpManAndCompletionAgree: for every command, `-h`, the man page
// and the completion candidates list the same flags, and each is what
// the command's FlagSet defines.
func TestHelpManAndCompletionAgree(t *testing.T) {
	man, _, code := runCLI(t, "man")
	if code != 0 {
		t.Fatalf("stsd man = %d", code)
	}
	sections := manSections(man)
	cliTree().Walk(func(path []string, c clidoc.Command) {
		if c.Hidden || len(c.Sub) > 0 {
			return
		}
		name := strings.Join(path, " ")
		_, help, code := runCLI(t, append(path, "-h")...)
		if code != 0 {
			t.Errorf("stsd %s -h = %d", name, code)
		}
		want := flagsOfHelp(help)
		words := append(slices.Clone(path), "")
		out, _, _ := runCLI(t, append([]string{completeHook, "=--"}, words[:len(words)-1]...)...)
		got := flagRe.FindAllString(out, -1)
		slices.Sort(got)
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("stsd %s: completion flags differ from -h (-help +completion):\n%s", name, d)
		}
		if d := cmp.Diff(ownFlags(c), flagsOfHelp(sections[name])); d != "" {
			t.Errorf("stsd %s: man page flags differ from the FlagSet (-FlagSet +man):\n%s", name, d)
		}
	})
}

// flagsOfHelp is the sorted, distinct flags a text names.
func flagsOfHelp(s string) []string {
	fs := flagRe.FindAllString(s, -1)
	slices.Sort(fs)
	return slices.Compact(fs)
}

func ownFlags(c clidoc.Command) []string {
	var out []string
	for _, f := range c.Flags {
		out = append(out, "--"+f.Name)
	}
	slices.Sort(out)
	return out
}

// manSections splits the COMMANDS section of a man page by command: the
// text from one `.TP\n.B stsd NAME` entry to the next.
func manSections(man string) map[string]string {
	out := map[string]string{}
	cmds := man[strings.Index(man, ".SH COMMANDS"):strings.Index(man, ".SH COMMON FLAGS")]
	for _, entry := range strings.Split(cmds, ".TP\n.B stsd ")[1:] {
		head, _, _ := strings.Cut(entry, "\n")
		var name []string
		for _, w := range strings.Fields(head) {
			if strings.HasPrefix(w, "[") || strings.ToUpper(w) == w {
				break
			}
			name = append(name, w)
		}
		out[strings.ReplaceAll(strings.Join(name, " "), `\-`, "-")] = strings.ReplaceAll(entry, `\-`, "-")
	}
	return out
}

// TestCompleteNames: profile and client names come from the config the
// command line names, even when it does not validate.
func TestCompleteNames(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.toml")
	os.WriteFile(cfg, []byte("[profiles.dev]\nsource_profile = \"x\"\nduration = \"1m\"\n[profiles.prod]\n[broker.clients.billing]\n"), 0o600)
	tests := []struct {
		words []string
		cur   string
		want  string
	}{
		{[]string{"refresh", "--config", cfg}, "", "words\ndev\tprofile\nprod\tprofile\n"},
		{[]string{"env", "--config", cfg}, "p", "words\nprod\tprofile\n"},
		{[]string{"--config", cfg, "exec"}, "d", "words\n"}, // flags follow the command
		{[]string{"exec", "--config", cfg}, "d", "words\ndev\tprofile\n"},
		{[]string{"exec", "dev", "--"}, "", "commands\n"},
		{[]string{"broker", "rotate-client", "--config=" + cfg}, "", "words\nbilling\tbroker client\n"},
		{[]string{"broker", "add-client", "n", "--config", cfg, "--profiles"}, "dev,", "words\ndev,prod\tprofile\n"},
		{[]string{"configure-profile", "--config", cfg, "dev"}, "", "words\ndev\tprofile\nprod\tprofile\n"},
		{[]string{"env", "--format"}, "f", "words\nfish\t\n"},
		{[]string{"check", "--config"}, "", "files\n"},
		{[]string{"completion"}, "z", "words\nzsh\t\n"},
		{[]string{"broker"}, "r", "words\nrotate-client\tgive client N a new token (printed once); the old one stops working\nremove-client\tremove client N\n"},
		{[]string{"nope"}, "", "words\n"},
	}
	for _, tt := range tests {
		out, errOut, code := runCLI(t, append([]string{completeHook, "=" + tt.cur}, tt.words...)...)
		if code != 0 || out != tt.want {
			t.Errorf("complete %q after %q = %d %q %q; want %q", tt.cur, tt.words, code, out, errOut, tt.want)
		}
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, sh := range clidoc.Shells {
		out, _, code := runCLI(t, "completion", sh)
		if code != 0 || !strings.Contains(out, completeHook) {
			t.Errorf("stsd completion %s = %d, %q", sh, code, out)
		}
	}
	if _, errOut, code := runCLI(t, "completion", "tcsh"); code != 2 || !strings.Contains(errOut, "use bash, zsh, fish, powershell") {
		t.Errorf("completion tcsh = %d %q", code, errOut)
	}
}
