package keys

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Step is how far a rotation got; the journal records it after each step
// so that the next start finishes or rolls back a rotation a crash cut
// short.
type Step string

// Rotation steps, in order.
const (
	// StepCreating: CreateAccessKey was sent. A key IAM made but whose
	// answer was lost may exist: recovery deletes any key not listed
	// before (the journal's Before), so nothing stays behind unknown.
	StepCreating Step = "creating"
	// StepCreated: the new key is known and not yet stored. Recovery
	// stores it once it works, or deletes it.
	StepCreated Step = "created"
	// StepStored: the new key is stored and used; the old one is still
	// active. Recovery deactivates it (after the last-used check).
	StepStored Step = "stored"
	// StepDeactivated: the old key is inactive; it is deleted after
	// rotate_grace.
	StepDeactivated Step = "deactivated"
)

// journalVersion is the journal's format.
const journalVersion = 1

// journal is one rotation in progress. It holds both secrets (the old
// key's, to roll back; the new one's, until it is stored), so it is a
// secret file: owner-only, written atomically.
type journal struct {
	Version     int        `json:"version"`
	Step        Step       `json:"step"`
	User        string     `json:"user"`
	ARN         string     `json:"arn"`
	Old         journalKey `json:"old"`
	New         journalKey `json:"new,omitzero"`
	Before      []string   `json:"before,omitempty"` // the user's key ids before CreateAccessKey
	Began       time.Time  `json:"began"`
	Stored      time.Time  `json:"stored,omitzero"`
	Deactivated time.Time  `json:"deactivated,omitzero"`
	OldUse      time.Time  `json:"old_use,omitzero"` // last use of the old key seen after Stored
}

type journalKey struct {
	ID     string `json:"id"`
	Secret string `json:"secret,omitempty"`
}

func (k journalKey) key() Key { return Key{ID: k.ID, Secret: k.Secret} }

func (s *Stores) journalPath(name string) string {
	return filepath.Join(s.o.StateDir, name+".rotation.json")
}

// loadJournal returns name's rotation in progress, or nil.
func (s *Stores) loadJournal(name string) (*journal, error) {
	data, err := s.readState(s.journalPath(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var j journal
	if err := json.Unmarshal(data, &j); err != nil || j.Version != journalVersion || j.Old.ID == "" {
		return nil, fmt.Errorf("rotation journal %s is damaged: check the IAM user's keys (aws iam list-access-keys), then delete it", s.journalPath(name))
	}
	return &j, nil
}

func (s *Stores) saveJournal(name string, j *journal) error {
	j.Version = journalVersion
	data, _ := json.Marshal(j)
	if err := s.writeState(s.journalPath(name), data); err != nil {
		return fmt.Errorf("write rotation journal: %w", err)
	}
	return nil
}

func (s *Stores) dropJournal(name string) error {
	err := os.Remove(s.journalPath(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// Rotating reports the step of name's rotation in progress ("" for none).
func (s *Stores) Rotating(name string) Step {
	j, err := s.loadJournal(name)
	if err != nil || j == nil {
		return ""
	}
	return j.Step
}
