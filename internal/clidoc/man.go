package clidoc

import (
	"fmt"
	"io"
	"strings"
)

// Page is a man page beyond what the command tree says.
type Page struct {
	Name        string // the page's name, e.g. "stsd"
	Version     string // shown in the footer
	Description []string
	Sections    []Section // after COMMANDS: EXIT STATUS, FILES, …
}

// Section is one titled section of a man page: paragraphs, or a list of
// terms with their text.
type Section struct {
	Title      string
	Paragraphs []string
	Terms      [][2]string
}

// Man writes the section-1 man page (roff, man macros) of root and every
// visible command below it.
func Man(w io.Writer, root Command, p Page) {
	m := manWriter{w: w}
	m.line(`.TH %s 1 "" "%s %s" "User Commands"`, strings.ToUpper(p.Name), p.Name, esc(p.Version))
	m.line(".SH NAME")
	m.line(`%s \- %s`, esc(p.Name), esc(root.Summary))
	m.line(".SH SYNOPSIS")
	if len(root.Sub) == 0 {
		m.line(`.B %s`, esc(Synopsis(root)))
	} else {
		m.line(`.B %s`, esc(root.Name))
		m.line(`.I command`)
		m.line(`[flags] [operands]`)
	}
	m.section("DESCRIPTION", p.Description)
	if len(root.Sub) == 0 {
		m.flags("OPTIONS", root.Flags)
	} else {
		m.line(".SH COMMANDS")
		root.Walk(func(path []string, c Command) {
			if c.Hidden || len(c.Sub) > 0 {
				return
			}
			m.line(".TP")
			m.line(`.B %s`, esc(Synopsis(root, path...)))
			m.line("%s", esc(c.Summary))
			for _, f := range c.Flags {
				m.line(".RS")
				m.line(".TP")
				m.line(`.B %s`, esc(f.synopsis()))
				m.line("%s", esc(f.describe()))
				m.line(".RE")
			}
		})
		m.flags("COMMON FLAGS", root.Flags)
	}
	for _, s := range p.Sections {
		m.section(s.Title, s.Paragraphs)
		for _, t := range s.Terms {
			m.line(".TP")
			m.line(`.B %s`, esc(t[0]))
			m.line("%s", esc(t[1]))
		}
	}
}

type manWriter struct{ w io.Writer }

func (m manWriter) line(format string, args ...any) { fmt.Fprintf(m.w, format+"\n", args...) }

func (m manWriter) section(title string, paras []string) {
	m.line(".SH %s", title)
	for i, p := range paras {
		if i > 0 {
			m.line(".PP")
		}
		m.line("%s", esc(p))
	}
}

func (m manWriter) flags(title string, fs []Flag) {
	if len(fs) == 0 {
		return
	}
	m.line(".SH %s", title)
	for _, f := range fs {
		m.line(".TP")
		m.line(`.B %s`, esc(f.synopsis()))
		m.line("%s", esc(f.describe()))
	}
}

// esc makes s safe as roff text: backslashes and hyphens escaped, and a
// leading dot or quote (a request) defused.
func esc(s string) string {
	s = strings.NewReplacer(`\`, `\e`, "-", `\-`, "\n", " ").Replace(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}
