// Package redact shortens secrets-adjacent identifiers for logs and status.
package redact

// KeyID shows an access key id as its first 4 and last 4 characters
// ("ASIA…WXYZ"). Characters 5–12 encode the account, so a prefix alone could
// not tell two keys apart; the middle never leaves the process.
func KeyID(id string) string {
	if len(id) < 12 {
		if id == "" {
			return ""
		}
		return "…"
	}
	return id[:4] + "…" + id[len(id)-4:]
}
