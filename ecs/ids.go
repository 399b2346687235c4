package ecs

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stsd/stsd/internal/atomicfile"
	"github.com/stsd/stsd/internal/redact"
)

// ContainerPath is where the container listener serves an id's
// credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI = ContainerPath(id),
// which botocore, aws-sdk-go-v2 and JS v3 resolve against
// http://169.254.170.2 (the ECS agent's v2 path).
func ContainerPath(id string) string { return redact.ContainerIDPrefix + id }

// IDsFile is the file in token_dir that holds the container ids' hashes.
const IDsFile = "containers.json"

// Bounds of a container id's lifetime (stsd container-env --ttl).
const (
	MinIDTTL     = time.Minute
	MaxIDTTL     = 30 * 24 * time.Hour
	DefaultIDTTL = 12 * time.Hour
)

// Errors of IDs.Revoke.
var (
	ErrNoID        = errors.New("no such container id (it may have expired or been revoked)")
	ErrAmbiguousID = errors.New("more than one container id matches: give the whole id")
)

// IDInfo is what is known of a container id without the id itself.
type IDInfo struct {
	Ref     string    `json:"ref"` // the id shortened as redact.ContainerID does
	Profile string    `json:"profile"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

// storedID is one line of the ids file: the id's SHA-256, never the id.
type storedID struct {
	SHA256 string `json:"sha256"`
	IDInfo
}

type idsFile struct {
	Version int        `json:"version"`
	IDs     []storedID `json:"ids"`
}

// IDs are the per-container credential ids. An id is 130 random bits
// (crypto/rand.Text), scoped to one profile and valid until it expires or
// is revoked. Only its SHA-256 is kept, in memory and in one owner-only
// file (0600 in a 0700 directory, written atomically), so ids survive a
// restart and reading the file reveals none. It is safe for concurrent
// use.
type IDs struct {
	path string
	now  func() time.Time

	mu sync.Mutex          // guards the field that follows
	m  map[[32]byte]IDInfo // by the id's hash
}

// OpenIDs loads the ids kept in path (none when it does not exist yet),
// dropping the expired ones. now is the clock (nil: time.Now).
func OpenIDs(path string, now func() time.Time) (*IDs, error) {
	if now == nil {
		now = time.Now
	}
	s := &IDs{path: path, now: now, m: map[[32]byte]IDInfo{}}
	if err := mkdirPrivate(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("container ids: %w", err)
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("container ids: %w", err)
	}
	if msg := checkPrivate(path, fi); msg != "" {
		return nil, errors.New(msg)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("container ids: %w", err)
	}
	var f idsFile
	if err := json.Unmarshal(b, &f); err != nil || f.Version != 1 {
		return nil, fmt.Errorf("container ids %s is not an stsd ids file (version 1): move it away and stsd starts a new one (the ids in it stop working)", path)
	}
	t := now()
	for _, e := range f.IDs {
		h, err := hex.DecodeString(e.SHA256)
		if err != nil || len(h) != sha256.Size {
			return nil, fmt.Errorf("container ids %s: an entry's sha256 is not 64 hex digits: move the file away and stsd starts a new one", path)
		}
		if t.Before(e.Expires) {
			s.m[[32]byte(h)] = e.IDInfo
		}
	}
	return s, nil
}

// Mint makes a new id for profile, valid for ttl, and stores its hash. It
// returns the id (shown once, to whoever asked for it) and its info.
func (s *IDs) Mint(profile string, ttl time.Duration) (string, IDInfo, error) {
	if ttl < MinIDTTL || ttl > MaxIDTTL {
		return "", IDInfo{}, fmt.Errorf("a container id's ttl is %s..%s, not %s", MinIDTTL, MaxIDTTL, ttl)
	}
	id := rand.Text()
	t := s.now().UTC().Truncate(time.Second)
	info := IDInfo{Ref: redact.ContainerID(id), Profile: profile, Created: t, Expires: t.Add(ttl)}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := sha256.Sum256([]byte(id))
	s.m[h] = info
	if err := s.saveLocked(); err != nil {
		delete(s.m, h)
		return "", IDInfo{}, err
	}
	return id, info, nil
}

// Lookup returns the info of a live id: known, not revoked, not expired.
func (s *IDs) Lookup(id string) (IDInfo, bool) {
	if len(id) > maxTokenLen {
		return IDInfo{}, false
	}
	h := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	info, ok := s.m[h]
	if !ok || !s.now().Before(info.Expires) {
		return IDInfo{}, false
	}
	return info, true
}

// Revoke ends an id at once: given whole, or by the Ref List shows when
// only one live id has it. may says whether the caller may revoke an id
// of a profile; an id it may not revoke is answered as an unknown one.
func (s *IDs) Revoke(idOrRef string, may func(profile string) bool) (IDInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys [][32]byte
	if h := sha256.Sum256([]byte(idOrRef)); s.live(h) {
		keys = append(keys, h)
	} else if strings.Contains(idOrRef, "…") || strings.Contains(idOrRef, "...") {
		ref := strings.ReplaceAll(idOrRef, "...", "…")
		for h, info := range s.m {
			if info.Ref == ref && s.live(h) {
				keys = append(keys, h)
			}
		}
	}
	keys = slices.DeleteFunc(keys, func(h [32]byte) bool { return !may(s.m[h].Profile) })
	switch len(keys) {
	case 0:
		return IDInfo{}, ErrNoID
	case 1:
	default:
		return IDInfo{}, ErrAmbiguousID
	}
	info := s.m[keys[0]]
	delete(s.m, keys[0])
	if err := s.saveLocked(); err != nil {
		s.m[keys[0]] = info
		return IDInfo{}, err
	}
	return info, nil
}

// live reports whether h is a known, unexpired id. s.mu must be held.
func (s *IDs) live(h [32]byte) bool {
	info, ok := s.m[h]
	return ok && s.now().Before(info.Expires)
}

// List returns the live ids' info, soonest expiry first.
func (s *IDs) List() []IDInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []IDInfo
	for h, info := range s.m {
		if s.live(h) {
			out = append(out, info)
		}
	}
	slices.SortFunc(out, func(a, b IDInfo) int {
		if c := a.Expires.Compare(b.Expires); c != 0 {
			return c
		}
		return strings.Compare(a.Ref, b.Ref)
	})
	return out
}

// saveLocked writes the live ids' hashes to the file, atomically and
// owner-only. s.mu must be held.
func (s *IDs) saveLocked() error {
	f := idsFile{Version: 1, IDs: []storedID{}}
	for h, info := range s.m {
		if !s.live(h) {
			delete(s.m, h)
			continue
		}
		f.IDs = append(f.IDs, storedID{SHA256: hex.EncodeToString(h[:]), IDInfo: info})
	}
	slices.SortFunc(f.IDs, func(a, b storedID) int { return strings.Compare(a.SHA256, b.SHA256) })
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("container ids: %w", err)
	}
	if err := atomicfile.Write(s.path, append(b, '\n'), atomicfile.Mode(0o600)); err != nil {
		return fmt.Errorf("save container ids: %w", err)
	}
	return nil
}
