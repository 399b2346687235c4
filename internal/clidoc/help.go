package clidoc

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// Synopsis is the command at path as one line: its name, flags and
// operands, e.g. "stsd env [--format sh|json] P".
func Synopsis(root Command, path ...string) string {
	c, _ := root.Find(path...)
	parts := append([]string{root.Name}, path...)
	for _, f := range c.Flags {
		parts = append(parts, "["+f.synopsis()+"]")
	}
	if len(c.Sub) > 0 {
		var names []string
		for _, s := range visible(c.Sub) {
			names = append(names, s.Name)
		}
		parts = append(parts, strings.Join(names, "|"), "…")
	}
	if c.Args != "" {
		parts = append(parts, c.Args)
	}
	return strings.Join(parts, " ")
}

// Usage writes the program's help: every visible command with its
// summary, and the common flags.
func Usage(w io.Writer, root Command) {
	fmt.Fprintf(w, "usage: %s <command> [flags]\n\ncommands:\n", root.Name)
	const col = 25 // where summaries start
	root.Walk(func(path []string, c Command) {
		if c.Hidden || len(c.Sub) > 0 {
			return
		}
		head := "  " + strings.TrimSpace(strings.Join(path, " ")+" "+c.Args)
		if n := utf8.RuneCountInString(head); n < col-1 {
			fmt.Fprintf(w, "%s%s%s\n", head, strings.Repeat(" ", col-n), c.Summary)
		} else {
			fmt.Fprintf(w, "%s\n%s%s\n", head, strings.Repeat(" ", col), c.Summary)
		}
	})
	var common []string
	for _, f := range root.Flags {
		common = append(common, f.synopsis())
	}
	fmt.Fprintf(w, "\ncommon flags: %s\n`%s COMMAND -h` shows a command's flags; `man %s` has it all\n", strings.Join(common, ", "), root.Name, root.Name)
}

// Help writes the help of the command at path: synopsis, summary, its
// flags and the common ones.
func Help(w io.Writer, root Command, path ...string) {
	c, _ := root.Find(path...)
	fmt.Fprintf(w, "usage: %s\n\n%s\n", Synopsis(root, path...), c.Summary)
	if len(c.Sub) > 0 {
		fmt.Fprintln(w, "\ncommands:")
		for _, s := range visible(c.Sub) {
			fmt.Fprintf(w, "  %s\n      %s\n", Synopsis(root, append(path, s.Name)...), s.Summary)
		}
		return
	}
	flagTable(w, "flags", c.Flags)
	flagTable(w, "common flags", root.Flags)
}

func flagTable(w io.Writer, title string, fs []Flag) {
	if len(fs) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s:\n", title)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range fs {
		fmt.Fprintf(tw, "  %s\t%s\n", f.synopsis(), f.describe())
	}
	tw.Flush()
}

// describe is f's usage with its default.
func (f Flag) describe() string {
	if f.Default != "" {
		return fmt.Sprintf("%s (default %s)", f.Usage, f.Default)
	}
	return f.Usage
}
