package config

import (
	"regexp"
	"testing"
)

// The name rules as regular expressions, the form AWS documents them in;
// the loops in names.go must agree with them on every input.
var (
	nameRules = []struct {
		re *regexp.Regexp
		f  func(string) bool
	}{
		{regexp.MustCompile(`^[\w+=,.@-]{1,64}$`), isProfileName},
		{regexp.MustCompile(`^[\w+=,.@-]{2,32}$`), func(s string) bool { return isName(s, 2, 32) }},
		{regexp.MustCompile(`^[0-9a-f]{64}$`), func(s string) bool { return isLowerHex(s, 64) }},
		{regexp.MustCompile(`^[A-Za-z0-9_-]+$`), isBareKey},
	}
	roleARNRule = regexp.MustCompile(`^arn:(aws[a-z-]*):iam::([0-9]{12}):role/((?:[\w+=,.@-]+/)*)([\w+=,.@-]{1,64})$`)
)

func checkNames(t *testing.T, s string) {
	for i, r := range nameRules {
		if got, want := r.f(s), r.re.MatchString(s); got != want {
			t.Errorf("rule %d (%s) on %q: %v, want %v", i, r.re, s, got, want)
		}
	}
	part, ok := roleARNPartition(s)
	m := roleARNRule.FindStringSubmatch(s)
	if ok != (m != nil) || ok && part != m[1] {
		t.Errorf("roleARNPartition(%q) = %q, %v; the rule says %q", s, part, ok, m)
	}
}

var nameSeeds = []string{
	"", "a", "dev", "dev.prod@x", "has space", "é", "a/b", "-", "_",
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
	"arn:aws:iam::123456789012:role/admin",
	"arn:aws-us-gov:iam::123456789012:role/path/to/admin",
	"arn:aws-cn:iam::123456789012:role//admin",
	"arn:aws:iam::12345678901:role/admin",
	"arn:aws:iam::123456789012:role/",
	"arn:aws:iam::123456789012:user/admin",
	"arn:awsX:iam::123456789012:role/admin",
	"arn:aws:sts::123456789012:role/admin",
	"arn:aws:iam::123456789012:role/a/b/",
	"arn:aws:iam::123456789012:role/" + string(make([]byte, 65)),
}

func TestNamesAgreeWithTheirRules(t *testing.T) {
	long := "arn:aws:iam::123456789012:role/"
	for range 65 {
		long += "r"
	}
	for _, s := range append(nameSeeds, long, long[:len(long)-1]) {
		checkNames(t, s)
	}
}

func FuzzNames(f *testing.F) {
	for _, s := range nameSeeds {
		f.Add(s)
	}
	f.Fuzz(checkNames)
}
