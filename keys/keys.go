// Package keys keeps IAM users' long-term access keys: where each one is
// stored (the shared credentials file, or the OS keyring) and its
// rotation. A key's secret never leaves this package but to sign a call.
package keys

import "github.com/stsd/stsd/internal/redact"

// Key is an IAM user's long-term access key.
type Key struct {
	ID     string // AKIA…
	Secret string
}

// String shows the key id redacted (AKIA…WXYZ), never the secret, so a
// Key can be logged or printed by mistake without harm.
func (k Key) String() string { return redact.KeyID(k.ID) }

// GoString is String, for %#v.
func (k Key) GoString() string { return k.String() }
