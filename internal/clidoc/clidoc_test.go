package clidoc

import (
	"strings"
	"testing"
)

var testTree = Command{
	Name:  "prog",
	Flags: []Flag{{Name: "config", Value: File}, {Name: "system", Bool: true}},
	Sub: []Command{
		{Name: "env", Args: "P", Operands: Profile, Flags: []Flag{{Name: "format", Value: Choice, Choices: []string{"sh", "json"}}}},
		{Name: "exec", Args: "P -- CMD", Operands: ProfileCommand},
		{Name: "grp", Sub: []Command{{Name: "add", Flags: []Flag{{Name: "profiles", Value: ProfileList}}}}},
		{Name: "secret", Hidden: true},
	},
}

func names(k Kind, flags map[string]string) []string {
	if k == Profile {
		return []string{"a", "b:c", flags["config"]}
	}
	return nil
}

// FuzzComplete: any command line completes without panicking, and every
// candidate starts with the word being typed.
func FuzzComplete(f *testing.F) {
	for _, s := range []string{"env --format s", "exec a -- ls", "grp add --profiles a,", "--config x env", "env --format", "grp", "secret --", "exec --config=f b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		words := strings.Split(line, " ")
		cur := words[len(words)-1]
		_, cs := Complete(testTree, words[:len(words)-1], cur, names)
		for _, c := range cs {
			if !strings.HasPrefix(c.Value, cur) {
				t.Errorf("Complete(%q) offers %q", line, c.Value)
			}
		}
	})
}

func TestHiddenStaysHidden(t *testing.T) {
	var b strings.Builder
	Usage(&b, testTree)
	Man(&b, testTree, Page{Name: "prog"})
	_, cs := Complete(testTree, nil, "", names)
	for _, c := range cs {
		b.WriteString(c.Value + "\n")
	}
	if strings.Contains(b.String(), "secret") {
		t.Errorf("a hidden command shows:\n%s", b.String())
	}
}

func TestManEscapes(t *testing.T) {
	if got := esc(".TH -x \\"); got != `\&.TH \-x \e` {
		t.Errorf("esc = %q", got)
	}
}
