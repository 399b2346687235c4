package ststest

import (
	"bytes"
	"compress/flate"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Constraints from the STS API model (botocore sts/2011-06-15/service-2.json)
// and the API reference.
const (
	minDuration     = 900
	maxDuration     = 129600
	defaultDuration = 43200
	maxPolicyArns   = 10 // API_GetFederationToken: "up to 10 managed policy ARNs"
	maxTags         = 50
	// packedLimit is the compressed size (bytes) that PackedPolicySize
	// reports as 100%. STS does not publish its limit; this makes a typical
	// 2048-char policy pack to well under 100% while 50 large random tags
	// overflow it.
	packedLimit = 1024
)

var (
	namePattern   = regexp.MustCompile(`^[\w+=,.@-]*$`)
	serialPattern = regexp.MustCompile(`^[\w+=/:,.@-]*$`)
	digitsPattern = regexp.MustCompile(`^[\d]*$`)
	policyPattern = regexp.MustCompile(`^[\x{0009}\x{000A}\x{000D}\x{0020}-\x{00FF}]+$`)
	tagKeyPattern = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)
	tagValPattern = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
)

// validator collects constraint violations in STS's wording.
type validator struct{ msgs []string }

func (v *validator) addf(format string, args ...any) {
	v.msgs = append(v.msgs, fmt.Sprintf(format, args...))
}

// value formats a value as STS echoes it; secret-ish members are not echoed.
func value(member, s string) string {
	if member == "tokenCode" || member == "policy" {
		return "Value"
	}
	return "Value '" + s + "'"
}

// length checks a string's length.
func (v *validator) length(member, s string, lo, hi int) {
	n := len([]rune(s))
	switch {
	case n < lo:
		v.addf("%s at '%s' failed to satisfy constraint: Member must have length greater than or equal to %d", value(member, s), member, lo)
	case n > hi:
		v.addf("%s at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", value(member, s), member, hi)
	}
}

// pattern checks a string against the model's pattern.
func (v *validator) pattern(member, s string, re *regexp.Regexp) {
	if !re.MatchString(s) {
		p := strings.TrimSuffix(strings.TrimPrefix(re.String(), "^"), "$")
		v.addf("%s at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", value(member, s), member, p)
	}
}

// duration parses and checks DurationSeconds; absent means the default.
// param reads the optional parameter key into *dst and checks it against
// member's length and pattern; it reports whether it was sent.
func (v *validator) param(form url.Values, key, member string, dst *string, lo, hi int, re *regexp.Regexp) bool {
	s, ok := form[key]
	if !ok {
		return false
	}
	*dst = s[0]
	v.length(member, *dst, lo, hi)
	v.pattern(member, *dst, re)
	return true
}

func (v *validator) duration(form url.Values) int {
	s, ok := form["DurationSeconds"]
	if !ok || len(s) == 0 {
		return defaultDuration
	}
	n, err := strconv.Atoi(s[0])
	switch {
	case err != nil:
		v.addf("Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must be a number", s[0])
	case n < minDuration:
		v.addf("Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to %d", n, minDuration)
	case n > maxDuration:
		v.addf("Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to %d", n, maxDuration)
	}
	return n
}

// err returns the ValidationError, or nil if nothing failed.
func (v *validator) err() *apiError {
	switch len(v.msgs) {
	case 0:
		return nil
	case 1:
		return &apiError{http.StatusBadRequest, "ValidationError", "1 validation error detected: " + v.msgs[0]}
	}
	return &apiError{http.StatusBadRequest, "ValidationError",
		fmt.Sprintf("%d validation errors detected: %s", len(v.msgs), strings.Join(v.msgs, "; "))}
}

type sessionTokenInput struct {
	duration     int
	serial, code string
}

func parseGetSessionToken(form url.Values) (sessionTokenInput, *apiError) {
	var v validator
	in := sessionTokenInput{duration: v.duration(form)}
	v.param(form, "SerialNumber", "serialNumber", &in.serial, 9, 256, serialPattern)
	v.param(form, "TokenCode", "tokenCode", &in.code, 6, 6, digitsPattern)
	return in, v.err()
}

type tag struct{ key, value string }

type federationTokenInput struct {
	duration   int
	name       string
	policy     string
	policyArns []string
	tags       []tag
}

func parseGetFederationToken(form url.Values) (federationTokenInput, *apiError) {
	var v validator
	in := federationTokenInput{duration: v.duration(form)}
	if !v.param(form, "Name", "name", &in.name, 2, 32, namePattern) {
		v.addf("Value null at 'name' failed to satisfy constraint: Member must not be null")
	}
	v.param(form, "Policy", "policy", &in.policy, 1, 2048, policyPattern)
	in.policyArns, in.tags = v.policyArnsAndTags(form)
	if err := v.err(); err != nil {
		return in, err
	}
	return in, in.duplicateTags()
}

// policyArnsAndTags reads and checks PolicyArns and Tags (GetFederationToken
// and AssumeRole share their limits).
func (v *validator) policyArnsAndTags(form url.Values) (arns []string, tags []tag) {
	for _, m := range members(form, "PolicyArns") {
		arn := form.Get("PolicyArns.member." + strconv.Itoa(m) + ".arn")
		arns = append(arns, arn)
		v.length("policyArns."+strconv.Itoa(m)+".member.arn", arn, 20, 2048)
	}
	if len(arns) > maxPolicyArns {
		v.addf("Value '%v' at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to %d", arns, maxPolicyArns)
	}
	for _, m := range members(form, "Tags") {
		p := "Tags.member." + strconv.Itoa(m) + "."
		t := tag{key: form.Get(p + "Key"), value: form.Get(p + "Value")}
		tags = append(tags, t)
		at := "tags." + strconv.Itoa(m) + ".member."
		v.length(at+"key", t.key, 1, 128)
		v.pattern(at+"key", t.key, tagKeyPattern)
		v.length(at+"value", t.value, 0, 256)
		v.pattern(at+"value", t.value, tagValPattern)
	}
	if len(tags) > maxTags {
		v.addf("Value '[...]' at 'tags' failed to satisfy constraint: Member must have length less than or equal to %d", maxTags)
	}
	return arns, tags
}

// duplicateTags refuses tag keys that differ only in case: session tag
// keys are case-insensitive (IAM UG "Passing session tags in STS").
func (in federationTokenInput) duplicateTags() *apiError {
	seen := map[string]bool{}
	for _, t := range in.tags {
		k := strings.ToLower(t.key)
		if seen[k] {
			return &apiError{http.StatusBadRequest, "ValidationError",
				"Duplicate tag keys found. Please note that Tag keys are case insensitive."}
		}
		seen[k] = true
	}
	return nil
}

// members returns the sorted indexes N of "<list>.member.N.*" form keys.
func members(form url.Values, list string) []int {
	prefix := list + ".member."
	var idx []int
	for k := range form {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		n, _, _ := strings.Cut(rest, ".")
		i, err := strconv.Atoi(n)
		if err != nil || i < 1 || slices.Contains(idx, i) {
			continue
		}
		idx = append(idx, i)
	}
	slices.Sort(idx)
	return idx
}

// packedSize is PackedPolicySize: the compressed size of the session
// policy, policy ARNs and tags as a percentage of packedLimit, rounded up.
// Nothing passed packs to 0.
func (in federationTokenInput) packedSize() int {
	var raw bytes.Buffer
	raw.WriteString(in.policy)
	for _, a := range in.policyArns {
		raw.WriteString(a)
	}
	for _, t := range in.tags {
		raw.WriteString(t.key)
		raw.WriteString(t.value)
	}
	if raw.Len() == 0 {
		return 0
	}
	var packed bytes.Buffer
	zw, _ := flate.NewWriter(&packed, flate.BestCompression)
	_, _ = zw.Write(raw.Bytes())
	_ = zw.Close()
	return (packed.Len()*100 + packedLimit - 1) / packedLimit
}
