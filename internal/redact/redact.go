// Package redact shortens secrets-adjacent identifiers for logs and status.
package redact

import "strings"

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

// ContainerIDPrefix is where a container credentials URL puts its id
// (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI = ContainerIDPrefix + id).
const ContainerIDPrefix = "/v2/credentials/"

// ContainerID shows a container credentials id as its first 4 and last 4
// characters: enough to tell ids apart in a list, never enough to use one
// (the 18 characters in between are 90 random bits).
func ContainerID(id string) string { return KeyID(id) }

// Path is a request path fit for a log line: the id in a container
// credentials path is shortened as ContainerID does, as is anything after
// it; other paths are unchanged.
func Path(p string) string {
	if rest, ok := strings.CutPrefix(p, ContainerIDPrefix); ok {
		return ContainerIDPrefix + ContainerID(rest)
	}
	return p
}
