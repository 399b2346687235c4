package install

import (
	"errors"
	"strings"
)

// The shared credentials file names its sections after profiles as they
// are ("[dev]", never "[profile dev]"): botocore reads it the same way
// as the config file otherwise. These edits keep every byte they do not
// change, like setProfileKey.

// credentialsSection reports whether header names profile name in the
// shared credentials file.
func credentialsSection(name string) func(section string) bool {
	return func(section string) bool { return pyStrip(section) == name }
}

// CredentialsKeys returns the aws_access_key_id and
// aws_secret_access_key of section [name] of a shared credentials file
// (the last of each, as configparser keeps), or ok false when either is
// missing.
func CredentialsKeys(data, name string) (id, secret string, ok bool) {
	in := false
	for _, l := range parseINI(data) {
		switch l.kind {
		case lineHeader:
			in = credentialsSection(name)(l.section)
		case lineOption:
			if !in {
				continue
			}
			d := strings.IndexAny(l.text, "=:")
			if d < 0 {
				continue
			}
			v := l.text[d+1:]
			switch l.key {
			case "aws_access_key_id":
				id = pyStrip(v)
			case "aws_secret_access_key":
				secret = pyStrip(v)
			}
		}
	}
	return id, secret, id != "" && secret != ""
}

// ErrNoCredentialsSection is returned when the file holds no static key
// under the section asked for.
var ErrNoCredentialsSection = errors.New("no aws_access_key_id/aws_secret_access_key section")

// SetCredentialsKeys replaces, in place, the values of
// aws_access_key_id and aws_secret_access_key in every [name] section
// that has them; every other byte stays. A multi-line value becomes one
// line.
func SetCredentialsKeys(data, name, id, secret string) (string, error) {
	lines := parseINI(data)
	var out []iniLine
	in, setID, setSecret := false, false, false
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l.kind == lineHeader {
			in = credentialsSection(name)(l.section)
		}
		value := ""
		isOption := l.kind == lineOption && strings.ContainsAny(l.text, "=:") // configparser refuses the others
		switch {
		case in && isOption && l.key == "aws_access_key_id":
			value, setID = id, true
		case in && isOption && l.key == "aws_secret_access_key":
			value, setSecret = secret, true
		default:
			out = append(out, l)
			continue
		}
		for i+1 < len(lines) && lines[i+1].kind == lineContinuation {
			i++
			l.eol = lines[i].eol
		}
		l.text = replaceValue(l.text, value)
		out = append(out, l)
	}
	if !setID || !setSecret {
		return data, ErrNoCredentialsSection
	}
	return joinLines(out), nil
}

// RemoveCredentialsSection removes every [name] section (its header up to
// the next header) and reports whether there was one. Every other byte
// stays; when the removed section ended the file, the line before it
// keeps its own line ending.
func RemoveCredentialsSection(data, name string) (string, bool) {
	lines := parseINI(data)
	var out []iniLine
	found := false
	for start := 0; start < len(lines); {
		end := sectionEnd(lines, start)
		if lines[start].kind == lineHeader && credentialsSection(name)(lines[start].section) {
			found = true
		} else {
			out = append(out, lines[start:end]...)
		}
		start = end
	}
	return joinLines(out), found
}
