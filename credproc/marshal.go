// Package credproc is the client side of credential_process: it asks the
// daemon, falls back to the cache, then to the full stsd binary, and prints
// the Version-1 JSON every AWS SDK reads. It links no AWS SDK and no net/http.
package credproc

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/stsd/stsd/cache"
)

// expirationLayout is the Expiration format every SDK parses (RFC 3339, UTC,
// whole seconds): botocore compares it with a tz-aware now, so it must carry
// "Z" (protocol.md §1).
const expirationLayout = "2006-01-02T15:04:05Z"

// output is the credential_process document; field order is the output
// order.
type output struct {
	Version         int
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string
	SessionToken    string
	Expiration      string
	AccountID       string `json:"AccountId,omitempty"`
}

// Marshal returns the exact credential_process output for c:
// {"Version":1,"AccessKeyId":…,"SecretAccessKey":…,"SessionToken":…,"Expiration":"YYYY-MM-DDTHH:MM:SSZ"}
// plus "AccountId" when known, then a newline. Expiration is UTC, truncated
// to whole seconds.
func Marshal(c cache.Credentials) []byte {
	var b bytes.Buffer
	b.Grow(256 + len(c.SessionToken))
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	// Encoding a struct of strings cannot fail.
	_ = enc.Encode(output{
		Version:         1,
		AccessKeyID:     c.AccessKeyID,
		SecretAccessKey: c.SecretAccessKey,
		SessionToken:    c.SessionToken,
		Expiration:      c.Expiration.UTC().Truncate(time.Second).Format(expirationLayout),
		AccountID:       c.AccountID,
	})
	return b.Bytes()
}
