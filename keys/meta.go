package keys

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/stsd/stsd/internal/atomicfile"
)

// Meta is what stsd knows about a stored key besides its secret. It holds
// no secret; its file lives in the state dir beside the journals.
type Meta struct {
	KeyID   string    `json:"key_id"`
	Stored  time.Time `json:"stored"`            // when stsd stored (or first saw) this key
	Created time.Time `json:"created,omitzero"`  // IAM's CreateDate, when known
	Rotated time.Time `json:"rotated,omitzero"`  // when the rotation that made this key finished
	OldUse  time.Time `json:"old_use,omitzero"`  // a use of the rotated-out key seen after this one was stored
	Problem string    `json:"problem,omitempty"` // the last rotation failure, for status
}

// Age is how old the key is: from IAM's CreateDate, else from when stsd
// stored it.
func (m Meta) Age(now time.Time) time.Duration {
	t := m.Created
	if t.IsZero() {
		t = m.Stored
	}
	if t.IsZero() {
		return 0
	}
	return now.Sub(t)
}

// maxStateFile bounds what is read of a metadata or journal file.
const maxStateFile = 64 << 10

func (s *Stores) metaPath(name string) string { return filepath.Join(s.o.StateDir, name+".json") }

// Meta returns what is known about name's key; a missing file gives a zero
// Meta and no error.
func (s *Stores) Meta(name string) (Meta, error) {
	var m Meta
	data, err := s.readState(s.metaPath(name))
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return Meta{}, fmt.Errorf("key metadata %s is corrupt: delete it (it holds no secret)", s.metaPath(name))
	}
	return m, nil
}

// SaveMeta replaces name's metadata.
func (s *Stores) SaveMeta(name string, m Meta) error {
	data, _ := json.MarshalIndent(m, "", "  ")
	return s.writeState(s.metaPath(name), data)
}

// touchMeta records that key id is stored under name now (rotated: by a
// rotation), keeping what is known when the id is the same.
func (s *Stores) touchMeta(name, id string, rotated bool) {
	m, _ := s.Meta(name)
	if m.KeyID != id {
		m = Meta{KeyID: id, Stored: s.o.Now().UTC()}
	}
	if rotated {
		m.Rotated = s.o.Now().UTC()
		m.Problem = ""
	}
	_ = s.SaveMeta(name, m)
}

// readState reads a private state file (owner-only, not a symlink).
func (s *Stores) readState(path string) ([]byte, error) {
	f, err := openPrivate(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxStateFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxStateFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxStateFile)
	}
	return data, nil
}

// writeState writes a private state file atomically, in a private
// directory it creates.
func (s *Stores) writeState(path string, data []byte) error {
	if s.o.StateDir == "" {
		return errors.New("no state directory for key metadata")
	}
	if err := privateDir(s.o.StateDir); err != nil {
		return err
	}
	return atomicfile.Write(path, data, makePrivate)
}
