package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// STS parameter limits: DurationSeconds 900..129600, at most 10 managed
// policy ARNs and 50 tags, and 2048 plaintext characters of inline policy
// and ARNs together (STS API reference:
// https://docs.aws.amazon.com/STS/latest/APIReference/API_GetFederationToken.html
// and API_GetSessionToken.html).
const (
	minDuration = 15 * time.Minute // DurationSeconds 900
	maxDuration = 36 * time.Hour   // DurationSeconds 129600
	// maxPolicyChars is the plaintext limit of the inline policy and the
	// managed policy ARNs together.
	maxPolicyChars = 2048
	maxPolicyARNs  = 10
	maxTags        = 50

	defaultDuration      = 12 * time.Hour
	defaultRegion        = "us-east-1"
	defaultRefreshBefore = 30 * time.Minute
	defaultMFAReminder   = 30 * time.Minute
	// minRefreshBefore keeps refreshes from racing expiry.
	minRefreshBefore = time.Minute
)

// regionRe is an AWS region name: us-east-1, eu-central-2, cn-north-1,
// us-gov-west-1, us-iso-east-1, us-isob-east-1, eusc-de-east-1.
var regionRe = regexp.MustCompile(`^[a-z]{2,4}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$`)

var placeholderRe = regexp.MustCompile(`\{[^{}]*\}`)

func isWord(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_'
}

// nameChar is STS's [\w+=,.@-] (federated user Name; also client names).
func nameChar(r rune) bool { return isWord(r) || strings.ContainsRune("+=,.@-", r) }

// serialChar is STS's [\w+=/:,.@-] (SerialNumber).
func serialChar(r rune) bool { return isWord(r) || strings.ContainsRune("+=/:,.@-", r) }

// tagChar is STS's [\p{L}\p{Z}\p{N}_.:/=+\-@] (tag keys and values).
func tagChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.In(r, unicode.Z) || unicode.IsNumber(r) || strings.ContainsRune("_.:/=+-@", r)
}

// policyChar is STS's [\u0009\u000A\u000D\u0020-\u00FF] (Policy).
func policyChar(r rune) bool { return r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0xFF }

// checkChars returns "" when s has minLen..maxLen characters, all allowed by
// ok, else what is wrong.
func checkChars(s string, minLen, maxLen int, ok func(rune) bool, what, allowed string) string {
	if n := utf8.RuneCountInString(s); n < minLen || n > maxLen {
		return fmt.Sprintf("is %s long; STS requires %d..%d for %s", plural(n, "character"), minLen, maxLen, what)
	}
	for _, r := range s {
		if !ok(r) {
			return fmt.Sprintf("contains %q, which STS does not allow in %s (allowed: %s)", r, what, allowed)
		}
	}
	return ""
}

// hostLabel is the first DNS label of a host name with every character STS
// does not allow in a Name replaced by '-'.
func hostLabel(h string) string {
	h, _, _ = strings.Cut(h, ".")
	return strings.Map(func(r rune) rune {
		if nameChar(r) {
			return r
		}
		return '-'
	}, h)
}

// minifyPolicy checks that text is a JSON object STS accepts and returns it
// compacted (json.Compact), or a message saying what is wrong.
func minifyPolicy(text string) (string, string) {
	if !utf8.ValidString(text) {
		return "", "is not valid UTF-8"
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(text)); err != nil {
		// Compact's SyntaxError has no offset; Unmarshal's has.
		var v any
		if uerr := json.Unmarshal([]byte(text), &v); uerr != nil {
			err = uerr
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := lineCol(text, int(se.Offset))
			return "", fmt.Sprintf("is not valid JSON: %v (line %d, column %d of the policy)", se, line, col)
		}
		return "", fmt.Sprintf("is not valid JSON: %v", err)
	}
	out := buf.String()
	if !strings.HasPrefix(out, "{") {
		return "", `must be a JSON object such as {"Version":"2012-10-17","Statement":[…]}`
	}
	for i, r := range []rune(out) {
		if !policyChar(r) {
			return "", fmt.Sprintf("contains %q (%U) at character %d, which STS does not allow in a policy (allowed: tab, LF, CR and U+0020..U+00FF)", r, r, i+1)
		}
	}
	return out, ""
}

// lineCol turns a byte offset (json.SyntaxError.Offset: after the bad byte)
// into a 1-based line and column.
func lineCol(s string, off int) (int, int) {
	if off > len(s) {
		off = len(s)
	}
	before := s[:off]
	line := 1 + strings.Count(before, "\n")
	col := utf8.RuneCountInString(before[strings.LastIndexByte(before, '\n')+1:])
	return line, max(col, 1)
}
