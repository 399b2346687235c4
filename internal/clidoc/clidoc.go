// Package clidoc turns one description of a command-line interface into
// everything that documents it: per-command help, man pages and shell
// completion (scripts for bash, zsh, fish and PowerShell, and the
// candidates they ask the program for), so none of them can drift from
// the others.
package clidoc

import (
	"flag"
	"slices"
	"strings"
)

// Kind is what an operand or a flag value is, for completion.
type Kind string

// The kinds of values completion knows.
const (
	None     Kind = ""         // nothing to offer
	Profile  Kind = "profile"  // one profile name from the config
	Profiles Kind = "profiles" // profile names, one or more operands
	// ProfileList is a comma-separated list of profile names (one word).
	ProfileList Kind = "profile-list"
	Client      Kind = "client" // a broker client name from the config
	Key         Kind = "key"    // a long-term key name from the config
	File        Kind = "file"   // a path: the shell completes it
	// ProfileCommand is a profile, then "--" and a command line.
	ProfileCommand Kind = "profile-command"
	Choice         Kind = "choice" // one of Choices
)

// Command is one command (or the program itself, at the root).
type Command struct {
	Name    string
	Args    string // the operands as shown after the name, e.g. "P [CODE]"
	Summary string
	// Flags are the command's own flags; the root's are common to all.
	Flags    []Flag
	Operands Kind
	Choices  []string // the operand's values when Operands is Choice
	Sub      []Command
	Hidden   bool // left out of help, man pages and completion
}

// Flag is one flag of a command.
type Flag struct {
	Name    string
	Usage   string
	Default string // "" when the zero value
	Bool    bool
	Value   Kind     // what the value is (not for Bool)
	Choices []string // the values when Value is Choice
	// Placeholder stands for the value in a synopsis; "" for the default
	// (the choices, FILE, P,… or the flag's name in capitals).
	Placeholder string
}

// FlagsOf describes every flag of fs except those named in skip, each
// value's kind from kinds (by flag name; absent: None).
func FlagsOf(fs *flag.FlagSet, skip []string, kinds map[string]Flag) []Flag {
	var out []Flag
	fs.VisitAll(func(f *flag.Flag) {
		if slices.Contains(skip, f.Name) {
			return
		}
		d := Flag{Name: f.Name, Usage: f.Usage}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			d.Bool = true
		} else {
			k := kinds[f.Name]
			d.Value, d.Choices, d.Placeholder = k.Value, k.Choices, k.Placeholder
			if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "0s" {
				d.Default = f.DefValue
			}
		}
		out = append(out, d)
	})
	return out
}

// placeholder is the word that stands for f's value in a synopsis.
func (f Flag) placeholder() string {
	if f.Placeholder != "" {
		return f.Placeholder
	}
	if len(f.Choices) > 0 {
		return strings.Join(f.Choices, "|")
	}
	switch f.Value {
	case File:
		return "FILE"
	case ProfileList:
		return "P,…"
	}
	return strings.ToUpper(f.Name)
}

// synopsis is f as a synopsis shows it, e.g. "--format sh|json".
func (f Flag) synopsis() string {
	if f.Bool {
		return "--" + f.Name
	}
	return "--" + f.Name + " " + f.placeholder()
}

// visible is cs without the hidden commands.
func visible(cs []Command) []Command {
	var out []Command
	for _, c := range cs {
		if !c.Hidden {
			out = append(out, c)
		}
	}
	return out
}

// Find returns the command at path (names from the root down).
func (c Command) Find(path ...string) (Command, bool) {
	for _, name := range path {
		i := slices.IndexFunc(c.Sub, func(s Command) bool { return s.Name == name })
		if i < 0 {
			return Command{}, false
		}
		c = c.Sub[i]
	}
	return c, true
}

// Walk calls fn for every command below c, depth first, with its path.
func (c Command) Walk(fn func(path []string, c Command)) {
	var walk func(prefix []string, cs []Command)
	walk = func(prefix []string, cs []Command) {
		for _, s := range cs {
			p := append(slices.Clip(prefix), s.Name)
			fn(p, s)
			walk(p, s.Sub)
		}
	}
	walk(nil, c.Sub)
}
