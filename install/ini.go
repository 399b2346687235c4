package install

import (
	"strings"
	"unicode"
)

// This file edits AWS shared config files byte for byte: every line it does
// not change is kept as it was, with its line ending. It reads them the way
// botocore does (Python configparser.RawConfigParser with its defaults, then
// botocore's profile mapping), so the key it writes is the one botocore and
// the SDKs read:
//   - comments are whole lines starting with '#' or ';' (after blanks);
//   - a section header is '[' … the last ']' on the line;
//   - "key = value" or "key: value" (the first '=' or ':'), keys ignoring
//     case;
//   - a line indented deeper than the key before it continues that key's
//     value ([services x] nested keys, multi-line values).

type lineKind int

const (
	lineBlank lineKind = iota
	lineComment
	lineHeader
	lineOption
	lineContinuation
)

type iniLine struct {
	text string // without its line ending
	eol  string // "\n", "\r\n" or "" (a last line without one)

	kind    lineKind
	section string // header text, for lineHeader
	key     string // lowercased, for lineOption
	indent  int    // leading blanks, for lineOption
}

// parseINI splits data into lines, keeping every byte.
func parseINI(data string) []iniLine {
	var lines []iniLine
	for data != "" {
		l := iniLine{}
		if i := strings.IndexByte(data, '\n'); i >= 0 {
			l.text, data = data[:i], data[i+1:]
			l.eol = "\n"
			if strings.HasSuffix(l.text, "\r") {
				l.text, l.eol = l.text[:len(l.text)-1], "\r\n"
			}
		} else {
			l.text, data = data, ""
		}
		lines = append(lines, l)
	}
	inOption, level := false, 0
	for i := range lines {
		l := &lines[i]
		v := pyStrip(l.text)
		indent := len(l.text) - len(strings.TrimLeftFunc(l.text, unicode.IsSpace))
		switch {
		case v == "":
			l.kind = lineBlank
		case v[0] == '#' || v[0] == ';':
			l.kind = lineComment
		case inOption && indent > level:
			l.kind = lineContinuation
		default:
			level = indent
			if name, ok := headerName(v); ok {
				l.kind, l.section, inOption = lineHeader, name, false
				continue
			}
			l.kind, l.indent, inOption = lineOption, indent, true
			if d := strings.IndexAny(v, "=:"); d >= 0 {
				l.key = strings.ToLower(strings.TrimRightFunc(v[:d], unicode.IsSpace))
			} else {
				l.key = strings.ToLower(v) // configparser refuses this line; keep it as is
			}
		}
	}
	return lines
}

// pyStrip is Python's str.strip(): blanks, tabs, CR and Unicode spaces.
func pyStrip(s string) string { return strings.TrimFunc(s, unicode.IsSpace) }

// headerName returns the section name of a header line (configparser's
// SECTCRE `\[(?P<header>.+)\]`, matched at the start).
func headerName(v string) (string, bool) {
	if !strings.HasPrefix(v, "[") {
		return "", false
	}
	j := strings.LastIndexByte(v, ']')
	if j < 2 {
		return "", false
	}
	return v[1:j], true
}

// profileOf maps a config-file section to the profile botocore gives it:
// "default", or "profile NAME" split as shlex.split would.
func profileOf(section string) (string, bool) {
	if section == "default" {
		return "default", true
	}
	if !strings.HasPrefix(section, "profile") {
		return "", false
	}
	parts := strings.Fields(section)
	if len(parts) != 2 || parts[0] != "profile" {
		return "", false
	}
	name := parts[1]
	if len(name) >= 2 && (name[0] == '"' || name[0] == '\'') && name[len(name)-1] == name[0] {
		name = name[1 : len(name)-1]
	}
	return name, true
}

// sectionKeys returns the keys of the section whose header satisfies
// match, for reading the shared credentials file.
func sectionKeys(lines []iniLine, match func(section string) bool) map[string]bool {
	keys := map[string]bool{}
	in := false
	for _, l := range lines {
		switch l.kind {
		case lineHeader:
			in = match(l.section)
		case lineOption:
			if in {
				keys[l.key] = true
			}
		}
	}
	return keys
}

// edit is one change setProfileKey made, for the dry run's diff.
type edit struct {
	line     int      // 1-based line in the new file
	old, new []string // lines removed and added
}

// setProfileKey sets key = value in every section botocore maps to
// profile, replacing an existing key (and its continuation lines) in place
// or adding it after the section's last entry; with no such section it
// appends one. It returns the new file and what changed.
func setProfileKey(data, profile, key, value string) (string, []edit) {
	lines := parseINI(data)
	eol := "\n"
	for _, l := range lines {
		if l.eol != "" {
			eol = l.eol
			break
		}
	}
	var out []iniLine
	var edits []edit
	found := false
	for i := 0; i < len(lines); {
		l := lines[i]
		p, ok := "", false
		if l.kind == lineHeader {
			p, ok = profileOf(l.section)
		}
		if !ok || p != profile {
			out = append(out, l)
			i++
			continue
		}
		found = true
		end := i + 1
		for end < len(lines) && lines[end].kind != lineHeader {
			end++
		}
		sec := lines[i:end]
		replaced, last, indent := false, 0, ""
		var body []iniLine
		for j := 0; j < len(sec); j++ {
			s := sec[j]
			if s.kind == lineOption && s.key == key {
				old := []string{s.text}
				for j+1 < len(sec) && sec[j+1].kind == lineContinuation {
					j++
					old = append(old, sec[j].text)
				}
				nl := iniLine{text: replaceValue(s.text, value), eol: s.eol, kind: lineOption, key: key}
				if j+1 == len(sec) && end == len(lines) {
					nl.eol = sec[j].eol // the file's last line keeps its (missing) ending
				}
				body = append(body, nl)
				edits = append(edits, edit{line: len(out) + len(body), old: old, new: []string{nl.text}})
				replaced = true
				continue
			}
			body = append(body, s)
		}
		if !replaced {
			for j, s := range body {
				switch s.kind {
				case lineOption:
					indent = s.text[:s.indent]
					last = j
				case lineHeader, lineContinuation:
					last = j
				}
			}
			nl := iniLine{text: indent + key + " = " + value, eol: eol, kind: lineOption, key: key}
			if body[last].eol == "" {
				body[last].eol, nl.eol = eol, ""
			}
			body = append(body[:last+1], append([]iniLine{nl}, body[last+1:]...)...)
			edits = append(edits, edit{line: len(out) + last + 2, new: []string{nl.text}})
		}
		out = append(out, body...)
		i = end
	}
	if !found {
		header := "[profile " + profile + "]"
		if profile == "default" {
			header = "[default]"
		}
		var add []string
		if n := len(out); n > 0 {
			if out[n-1].eol == "" {
				out[n-1].eol = eol
			}
			if out[n-1].kind != lineBlank {
				add = append(add, "")
			}
		}
		add = append(add, header, key+" = "+value)
		edits = append(edits, edit{line: len(out) + 1, new: add})
		for _, a := range add {
			out = append(out, iniLine{text: a, eol: eol})
		}
	}
	var b strings.Builder
	for _, l := range out {
		b.WriteString(l.text)
		b.WriteString(l.eol)
	}
	return b.String(), edits
}

// replaceValue keeps a "key = " line's key, separator and spacing and
// replaces what follows.
func replaceValue(line, value string) string {
	d := strings.IndexAny(line, "=:")
	k := d + 1
	for k < len(line) && (line[k] == ' ' || line[k] == '\t') {
		k++
	}
	return line[:k] + value
}
