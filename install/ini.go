package install

import (
	"slices"
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
	s := &keySetter{profile: profile, key: key, value: value, lines: lines, eol: fileEOL(lines)}
	found := false
	for start := 0; start < len(lines); {
		end := sectionEnd(lines, start)
		if s.isProfileHeader(lines[start]) {
			s.setIn(start, end)
			found = true
		} else {
			s.out = append(s.out, lines[start:end]...)
		}
		start = end
	}
	if !found {
		s.appendSection()
	}
	return joinLines(s.out), s.edits
}

// keySetter is one setProfileKey call: the file as parsed, and the new
// file's lines and edits as they are built.
type keySetter struct {
	profile, key, value string

	lines []iniLine // the file as it was
	eol   string    // the file's line ending, for the lines it adds

	out   []iniLine // the new file so far
	edits []edit
}

// fileEOL is the line ending of the first line that has one; "\n" when
// none has.
func fileEOL(lines []iniLine) string {
	for _, l := range lines {
		if l.eol != "" {
			return l.eol
		}
	}
	return "\n"
}

// sectionEnd is the index of the first header after lines[start], or
// len(lines): lines[start:end] is one section (or what precedes the
// first header).
func sectionEnd(lines []iniLine, start int) int {
	end := start + 1
	for end < len(lines) && lines[end].kind != lineHeader {
		end++
	}
	return end
}

// isProfileHeader reports whether l heads a section botocore maps to s's
// profile.
func (s *keySetter) isProfileHeader(l iniLine) bool {
	if l.kind != lineHeader {
		return false
	}
	p, ok := profileOf(l.section)
	return ok && p == s.profile
}

// setIn sets the key in the section lines[start:end] and adds the section
// to the new file.
func (s *keySetter) setIn(start, end int) {
	body, replaced := s.replaceIn(start, end)
	if !replaced {
		body = s.insertInto(body)
	}
	s.out = append(s.out, body...)
}

// replaceIn returns the section lines[start:end] with each entry of the key,
// continuation lines included, replaced in place by one line holding the
// new value; it reports whether there was such an entry.
func (s *keySetter) replaceIn(start, end int) ([]iniLine, bool) {
	sec := s.lines[start:end]
	var body []iniLine
	replaced := false
	for j := 0; j < len(sec); j++ {
		l := sec[j]
		if l.kind != lineOption || l.key != s.key {
			body = append(body, l)
			continue
		}
		old := []string{l.text}
		for j+1 < len(sec) && sec[j+1].kind == lineContinuation {
			j++
			old = append(old, sec[j].text)
		}
		nl := iniLine{text: replaceValue(l.text, s.value), eol: l.eol, kind: lineOption, key: s.key}
		if start+j+1 == len(s.lines) {
			nl.eol = sec[j].eol // the file's last line keeps its (missing) ending
		}
		body = append(body, nl)
		s.edits = append(s.edits, edit{line: len(s.out) + len(body), old: old, new: []string{nl.text}})
		replaced = true
	}
	return body, replaced
}

// insertInto adds "key = value" to the section body after its last entry
// (its header, an option or a continuation line), indented like the last
// option. When that entry ends the file without a line ending, it gains one
// and the new line goes without.
func (s *keySetter) insertInto(body []iniLine) []iniLine {
	last, indent := 0, ""
	for j, l := range body {
		switch l.kind {
		case lineOption:
			indent = l.text[:l.indent]
			last = j
		case lineHeader, lineContinuation:
			last = j
		}
	}
	nl := iniLine{text: indent + s.key + " = " + s.value, eol: s.eol, kind: lineOption, key: s.key}
	if body[last].eol == "" {
		body[last].eol, nl.eol = s.eol, ""
	}
	s.edits = append(s.edits, edit{line: len(s.out) + last + 2, new: []string{nl.text}})
	return slices.Insert(body, last+1, nl)
}

// appendSection adds a section for the profile holding "key = value" at
// the end of the new file, after a blank line unless the file ends with
// one.
func (s *keySetter) appendSection() {
	header := "[profile " + s.profile + "]"
	if s.profile == "default" {
		header = "[default]"
	}
	var add []string
	if n := len(s.out); n > 0 {
		if s.out[n-1].eol == "" {
			s.out[n-1].eol = s.eol
		}
		if s.out[n-1].kind != lineBlank {
			add = append(add, "")
		}
	}
	add = append(add, header, s.key+" = "+s.value)
	s.edits = append(s.edits, edit{line: len(s.out) + 1, new: add})
	for _, a := range add {
		s.out = append(s.out, iniLine{text: a, eol: s.eol})
	}
}

// joinLines is the file text of lines, each with its line ending.
func joinLines(lines []iniLine) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.text)
		b.WriteString(l.eol)
	}
	return b.String()
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
