package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/stsd/stsd/internal/atomicfile"
)

// Identity is what GetCallerIdentity said about a long-term source key:
// stsd asks once per key and keeps the answer, so restarts make no call.
type Identity struct {
	Account string    `json:"account"`
	ARN     string    `json:"arn"`
	Root    bool      `json:"root"` // the key belongs to the account root
	Checked time.Time `json:"checked"`
}

// identityPath names the file by a hash of the key id (no key id on disk;
// the .id suffix never collides with a profile's .json entry).
func (s *Store) identityPath(keyID string) string {
	sum := sha256.Sum256([]byte(keyID))
	return filepath.Join(s.dir, "key-"+hex.EncodeToString(sum[:12])+".id")
}

// LoadIdentity returns the recorded identity of a source key, or
// ErrNotFound. Unusable files read as ErrNotFound-like InvalidErrors.
func (s *Store) LoadIdentity(keyID string) (*Identity, error) {
	p := s.identityPath(keyID)
	f, err := openPrivate(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, &InvalidError{Path: p, Reason: "unreadable identity file"}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("load identity %s: %w", p, err)
	}
	var id Identity
	if json.Unmarshal(data, &id) != nil || id.Account == "" {
		return nil, &InvalidError{Path: p, Reason: "corrupt identity file"}
	}
	return &id, nil
}

// SaveIdentity records id for keyID atomically.
func (s *Store) SaveIdentity(keyID string, id *Identity) error {
	data, err := json.Marshal(id)
	if err != nil {
		return err
	}
	return atomicfile.Write(s.identityPath(keyID), data, makePrivate)
}
