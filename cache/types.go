// Package cache keeps short-lived credentials on disk, one private,
// atomically written, fingerprinted file per profile. It links no AWS SDK.
package cache

import (
	"time"

	"github.com/stsd/stsd/internal/wire"
)

// FileHash records a file an entry was made from. SHA256 is "" when the file
// did not exist. Stamp, when set, is the file's identity and change time
// as it was hashed (device, inode, size, ctime): a file whose stamp is
// unchanged has unchanged bytes, so FilesMatch need not read it again.
type FileHash struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Stamp  string `json:"stamp,omitempty"`
}

// Entry is one profile's cached credentials.
type Entry struct {
	Version     int              `json:"version"` // EntryVersion
	Profile     string           `json:"profile"`
	Fingerprint string           `json:"fingerprint"`
	Credentials wire.Credentials `json:"credentials"`
	Issued      time.Time        `json:"issued"`          // when STS issued them (our clock)
	ARN         string           `json:"arn,omitempty"`   // federated user / MFA-derived ARN, when known
	Files       []FileHash       `json:"files,omitempty"` // every file the credentials were made from
}

// EntryVersion is the on-disk format version; other versions are ignored.
const EntryVersion = 1
