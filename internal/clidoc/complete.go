package clidoc

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Completion modes: what the shell does with the candidates.
const (
	ModeWords    = "words"    // offer the candidates
	ModeFiles    = "files"    // complete a path itself
	ModeCommands = "commands" // complete a command name itself
)

// Candidate is one completion: a value and what it is.
type Candidate struct{ Value, Description string }

// Names returns the names of kind (Profile, Client, Key) from the config
// the typed command line would use: flags holds its --config and --system
// values.
type Names func(kind Kind, flags map[string]string) []string

// Complete returns what may stand at the word being typed, cur, after
// the words before it (the program's name excluded).
func Complete(root Command, words []string, cur string, names Names) (string, []Candidate) {
	st := parseLine(root, words)
	if st.afterDash {
		if st.dashWords == 0 {
			return ModeCommands, nil
		}
		return ModeFiles, nil
	}
	if st.valueOf != nil {
		return st.values(st.valueOf.Value, st.valueOf.Choices, cur, names)
	}
	if strings.HasPrefix(cur, "-") {
		return ModeWords, flagCandidates(root, st, cur)
	}
	if len(st.cmd.Sub) > 0 {
		var out []Candidate
		for _, s := range visible(st.cmd.Sub) {
			out = append(out, Candidate{s.Name, s.Summary})
		}
		return ModeWords, filter(out, cur)
	}
	switch k := st.cmd.Operands; {
	case k == Profiles, k == Choice, st.operands == 0:
		return st.values(k, st.cmd.Choices, cur, names)
	}
	return ModeWords, nil
}

// lineState is what the words before the cursor say.
type lineState struct {
	cmd       Command
	flags     map[string]string // values of flags seen (bools as "true")
	operands  int               // operands of cmd seen
	valueOf   *Flag             // the flag whose value is being typed
	afterDash bool              // past "--" of a ProfileCommand
	dashWords int               // words after that "--"
}

func parseLine(root Command, words []string) *lineState {
	st := &lineState{cmd: root, flags: map[string]string{}}
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case st.afterDash:
			st.dashWords++
		case w == "--" && st.cmd.Operands == ProfileCommand:
			st.afterDash = true
		case strings.HasPrefix(w, "-") && len(st.cmd.Sub) > 0:
			st.cmd = Command{} // flags follow the command: this line cannot run
		case strings.HasPrefix(w, "-") && len(w) > 1:
			name, val, hasVal := strings.Cut(strings.TrimLeft(w, "-"), "=")
			f, ok := lookupFlag(root, st.cmd, name)
			switch {
			case !ok || f.Bool || hasVal:
				st.flags[name] = val
				if !hasVal {
					st.flags[name] = "true"
				}
			case i+1 < len(words):
				i++
				st.flags[name] = words[i]
			default:
				st.valueOf = &f
			}
		case len(st.cmd.Sub) > 0:
			if s, ok := st.cmd.Find(w); ok {
				st.cmd = s
			} else {
				st.cmd = Command{} // unknown command: nothing to offer
			}
		default:
			st.operands++
		}
	}
	return st
}

func lookupFlag(root, c Command, name string) (Flag, bool) {
	for _, fs := range [][]Flag{c.Flags, root.Flags} {
		if i := slices.IndexFunc(fs, func(f Flag) bool { return f.Name == name }); i >= 0 {
			return fs[i], true
		}
	}
	return Flag{}, false
}

func flagCandidates(root Command, st *lineState, cur string) []Candidate {
	if st.cmd.Name == "" || len(st.cmd.Sub) > 0 {
		return nil // flags follow the command
	}
	var out []Candidate
	for _, fs := range [][]Flag{st.cmd.Flags, root.Flags} {
		for _, f := range fs {
			if _, seen := st.flags[f.Name]; !seen {
				out = append(out, Candidate{"--" + f.Name, f.Usage})
			}
		}
	}
	return filter(out, cur)
}

// values completes a value of kind k.
func (st *lineState) values(k Kind, choices []string, cur string, names Names) (string, []Candidate) {
	var out []Candidate
	switch k {
	case File:
		return ModeFiles, nil
	case Choice:
		for _, c := range choices {
			out = append(out, Candidate{Value: c})
		}
	case Profile, Profiles, ProfileCommand:
		out = named(names(Profile, st.flags), "profile")
	case Client:
		out = named(names(Client, st.flags), "broker client")
	case Key:
		out = named(names(Key, st.flags), "long-term key")
	case ProfileList:
		// Complete the last item of a comma-separated list.
		head := ""
		if i := strings.LastIndex(cur, ","); i >= 0 {
			head = cur[:i+1]
		}
		done := strings.Split(head, ",")
		for _, n := range names(Profile, st.flags) {
			if !slices.Contains(done, n) {
				out = append(out, Candidate{head + n, "profile"})
			}
		}
	}
	return ModeWords, filter(out, cur)
}

func named(ns []string, what string) []Candidate {
	out := make([]Candidate, len(ns))
	for i, n := range ns {
		out[i] = Candidate{n, what}
	}
	return out
}

func filter(cs []Candidate, prefix string) []Candidate {
	var out []Candidate
	for _, c := range cs {
		if strings.HasPrefix(c.Value, prefix) {
			out = append(out, c)
		}
	}
	return out
}

// WriteCandidates writes what the completion scripts read: the mode on
// the first line, then one candidate a line as VALUE<TAB>DESCRIPTION.
func WriteCandidates(w io.Writer, mode string, cs []Candidate) {
	fmt.Fprintln(w, mode)
	for _, c := range cs {
		d := strings.NewReplacer("\t", " ", "\n", " ").Replace(c.Description)
		fmt.Fprintf(w, "%s\t%s\n", c.Value, d)
	}
}
