package config

import "strings"

// The name rules below are loops rather than regular expressions: a
// bounded repetition such as {1,64} compiles into that many copies of its
// class, and every process that links this package (the daemon included)
// would hold them from start to exit.

// isName reports whether s is min to max characters of nameChar
// ([\w+=,.@-], ASCII \w): profile, key-source and broker client names.
func isName(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !nameChar(rune(s[i])) {
			return false
		}
	}
	return true
}

// isProfileName is a profile or key-source name: 1 to 64 name characters.
func isProfileName(s string) bool { return isName(s, 1, 64) }

// isLowerHex reports whether s is exactly n characters of [0-9a-f].
func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// isBareKey reports whether s can be written as a TOML bare key:
// one or more of [A-Za-z0-9_-].
func isBareKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isWord(rune(c)) && c != '-' {
			return false
		}
	}
	return true
}

// roleARNPartition parses arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME,
// where PARTITION is aws[a-z-]*, ACCOUNT 12 digits, each path segment one
// or more name characters and NAME 1 to 64 of them, and returns the
// partition.
func roleARNPartition(s string) (partition string, ok bool) {
	rest, ok := strings.CutPrefix(s, "arn:")
	if !ok {
		return "", false
	}
	partition, rest, ok = strings.Cut(rest, ":")
	if !ok || !strings.HasPrefix(partition, "aws") || strings.IndexFunc(partition[3:], func(r rune) bool { return (r < 'a' || r > 'z') && r != '-' }) >= 0 {
		return "", false
	}
	rest, ok = strings.CutPrefix(rest, "iam::")
	if !ok {
		return "", false
	}
	account, rest, ok := strings.Cut(rest, ":")
	if !ok || len(account) != 12 || strings.IndexFunc(account, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return "", false
	}
	rest, ok = strings.CutPrefix(rest, "role/")
	if !ok {
		return "", false
	}
	segs := strings.Split(rest, "/")
	for _, seg := range segs[:len(segs)-1] {
		if !isName(seg, 1, len(seg)) {
			return "", false
		}
	}
	if !isName(segs[len(segs)-1], 1, 64) {
		return "", false
	}
	return partition, true
}
