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

// processOutput is the credential_process document; field order is the
// output order.
type processOutput struct {
	Version         int
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string
	SessionToken    string
	Expiration      string
	AccountID       string `json:"AccountId,omitempty"`
}

// Marshal returns the exact credential_process output for c:
// {"Version":1,"AccessKeyId":…,"SecretAccessKey":…,"SessionToken":…,"Expiration":"YYYY-MM-DDTHH:MM:SSZ"}
// plus "AccountId" when known, then a newline. Version is the number 1
// (Go, botocore and JS refuse anything else).
func Marshal(c Credentials) []byte {
	var b bytes.Buffer
	b.Grow(256 + len(c.SessionToken))
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	// Encoding a struct of strings cannot fail.
	_ = enc.Encode(processOutput{
		Version:         1,
		AccessKeyID:     c.AccessKeyID,
		SecretAccessKey: c.SecretAccessKey,
		SessionToken:    c.SessionToken,
		Expiration:      Stamp(c.Expiration),
		AccountID:       c.AccountID,
	})
	return b.Bytes()
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
