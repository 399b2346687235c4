// Package wire is the vocabulary stsd's daemon and its clients share:
// the credential type, the credential_process document, the Expiration
// layout, the control API's paths, codes and error body, cache keys, the
// resolving guard and the minimum-remaining rule. It links no AWS SDK and
// no net/http, so the small credential_process binary can use it.
package wire

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode/utf8"
)

// Credentials is a set of STS credentials in the SDK-free form every
// delivery path (cache, credential_process, IMDS, ECS, broker) shares.
type Credentials struct {
	AccessKeyID     string    `json:"AccessKeyId"`
	SecretAccessKey string    `json:"SecretAccessKey"`
	SessionToken    string    `json:"SessionToken"`
	Expiration      time.Time `json:"Expiration"`
	AccountID       string    `json:"AccountId,omitempty"`
}

// ExpirationLayout is the one Expiration format every SDK parses: UTC,
// whole seconds, "Z". Go reads RFC 3339, botocore parses IMDS documents
// with strptime("%Y-%m-%dT%H:%M:%SZ") and compares credential_process
// expiries with a tz-aware now, and JS accepts only a "Z" suffix.
const ExpirationLayout = "2006-01-02T15:04:05Z"

// Stamp formats t in ExpirationLayout, truncated to whole seconds.
func Stamp(t time.Time) string { return t.UTC().Truncate(time.Second).Format(ExpirationLayout) }

// Marshal returns the exact credential_process output for c:
// {"Version":1,"AccessKeyId":…,"SecretAccessKey":…,"SessionToken":…,"Expiration":"YYYY-MM-DDTHH:MM:SSZ"}
// plus "AccountId" when known, then a newline. Version is the number 1
// (Go, botocore and JS refuse anything else). The bytes are what
// encoding/json's Encoder writes with SetEscapeHTML(false) (a fuzz test
// holds them to it); they are built by hand because the reflection
// encoder's first use costs the small binary ~30 µs of every run.
func Marshal(c Credentials) []byte {
	b := make([]byte, 0, 160+len(c.AccessKeyID)+len(c.SecretAccessKey)+len(c.SessionToken)+len(c.AccountID))
	b = append(b, `{"Version":1,"AccessKeyId":`...)
	b = appendString(b, c.AccessKeyID)
	b = append(b, `,"SecretAccessKey":`...)
	b = appendString(b, c.SecretAccessKey)
	b = append(b, `,"SessionToken":`...)
	b = appendString(b, c.SessionToken)
	b = append(b, `,"Expiration":"`...)
	b = c.Expiration.UTC().Truncate(time.Second).AppendFormat(b, ExpirationLayout)
	b = append(b, '"')
	if c.AccountID != "" {
		b = append(b, `,"AccountId":`...)
		b = appendString(b, c.AccountID)
	}
	return append(b, '}', '\n')
}

// appendString appends s as a JSON string the way encoding/json does
// without HTML escaping: \" \\ \b \f \n \r \t, other control bytes as
// \u00xx, invalid UTF-8 as \ufffd, and U+2028/U+2029 escaped.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// ContainerDocument is the container credentials body the ECS endpoint
// and the broker serve: compact like the ECS agent's (without the RoleArn
// no SDK reads) plus AccountId, which Go, botocore and JS's
// fromContainerMetadata read. No trailing newline.
func ContainerDocument(c Credentials) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(struct { // strings always encode
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string
		Token           string
		Expiration      string
		AccountID       string `json:"AccountId,omitempty"`
	}{c.AccessKeyID, c.SecretAccessKey, c.SessionToken, Stamp(c.Expiration), c.AccountID})
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// ResolvingEnv is set in the environment of every command stsd runs while
// resolving credentials (a source credential_process, mfa_process): an
// stsd started with it set exits at once, so a source pointing back at
// stsd cannot loop.
const ResolvingEnv = "STSD_RESOLVING"

// CacheKey names the cache entry of profile as minted for a broker client
// ("" for the profile's own). Profile names cannot hold "/", so keys
// never collide.
func CacheKey(profile, client string) string {
	if client == "" {
		return profile
	}
	return profile + "/" + client
}

// MinRemaining is how much of a credential's lifetime must be left for
// it to be handed out from the cache: min(15m, lifetime/4). Clients fetch
// again on every call once fewer than 15 minutes remain (botocore's
// advisory refresh), and a short-lived credential is still good for a
// quarter of its life.
func MinRemaining(lifetime time.Duration) time.Duration { return min(15*time.Minute, lifetime/4) }
