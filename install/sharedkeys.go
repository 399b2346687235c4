package install

import (
	"errors"
	"io/fs"
	"os"
	"strings"
)

// SharedKey is a long-term access key the shared credentials file holds.
type SharedKey struct {
	Profile     string // the section name
	AccessKeyID string // AKIA…: an id, not a secret
}

// LongTermKeys lists the profiles of the shared credentials file at path
// that hold a long-term key (an AKIA… id, a secret, no session token), in
// file order. A missing file holds none.
func LongTermKeys(path string) ([]SharedKey, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []SharedKey
	for _, s := range sections(parseINI(string(data))) {
		id := s.values["aws_access_key_id"]
		if strings.HasPrefix(id, "AKIA") && s.values["aws_secret_access_key"] != "" && s.values["aws_session_token"] == "" {
			out = append(out, SharedKey{Profile: s.name, AccessKeyID: id})
		}
	}
	return out, nil
}

// SharedSections are the section names of a shared file at path, in file
// order (for the credentials file: profile names); a missing file has none.
func SharedSections(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range sections(parseINI(string(data))) {
		out = append(out, s.name)
	}
	return out, nil
}

// ConfigValue is key's value in profile's section of the AWS config file
// at path ("" when absent), e.g. a profile's region.
func ConfigValue(path, profile, key string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, s := range sections(parseINI(string(data))) {
		if p, ok := profileOf(s.name); ok && p == profile {
			return s.values[key]
		}
	}
	return ""
}

type iniSection struct {
	name   string
	values map[string]string // keys lowercased; a repeated key: the last
}

// sections reads the key = value pairs of each section, as configparser
// does (continuation lines are not part of any value stsd reads).
func sections(lines []iniLine) []iniSection {
	var out []iniSection
	for _, l := range lines {
		switch {
		case l.kind == lineHeader:
			out = append(out, iniSection{name: pyStrip(l.section), values: map[string]string{}})
		case l.kind == lineOption && len(out) > 0:
			v := pyStrip(l.text)
			if d := strings.IndexAny(v, "=:"); d >= 0 {
				out[len(out)-1].values[l.key] = pyStrip(v[d+1:])
			}
		}
	}
	return out
}
