package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/stsd/stsd/internal/atomicfile"
	"github.com/stsd/stsd/internal/paths"
)

// ErrNotFound reports that a profile has no cache entry.
var ErrNotFound = errors.New("no cache entry")

// ErrInvalid reports an entry that exists but must not be used: corrupt,
// another format version, foreign-owned, not private, a symlink, or made for
// another profile. Callers log the reason and replace the entry; it is never
// fatal. Load returns it as an *InvalidError.
var ErrInvalid = errors.New("invalid cache entry")

// InvalidError says why an entry was refused. Reason never holds a secret
// or any byte of the file's content.
type InvalidError struct {
	Path   string
	Reason string
}

func (e *InvalidError) Error() string {
	return "cache entry " + e.Path + ": " + e.Reason
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// maxEntrySize bounds what Load reads: an entry is well under 8 KiB (a
// session token is ~1 KiB), so anything larger is not ours.
const maxEntrySize = 1 << 20

// maxNameLen keeps file names (plus ".json"/".lock" and the temp suffix)
// far below the 255-byte limit of common file systems.
const maxNameLen = 200

// Store is a directory of cache entries, one file per profile.
type Store struct {
	dir string
}

// Open prepares dir (created private when absent: 0700, an owner-only DACL
// on Windows) and checks that it is owned by the current user and not
// group- or world-accessible.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("open cache: empty directory")
	}
	err := mkdirPrivate(dir)
	if err == nil {
		err = statDir(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("open cache: %w", err)
	}
	return &Store{dir: dir}, nil
}

// statDir checks that dir is a directory that passes checkDir.
func statDir(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil && !fi.IsDir() {
		err = fmt.Errorf("%s is not a directory", dir)
	}
	if err == nil {
		err = checkDir(dir, fi)
	}
	return err
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// path is the entry file of profile.
func (s *Store) path(profile string) string {
	return filepath.Join(s.dir, fileName(profile)+".json")
}

// Load returns profile's entry. It returns ErrNotFound when there is none
// and an error matching ErrInvalid (an *InvalidError) when the file must be
// ignored and replaced; other errors are I/O failures.
func (s *Store) Load(profile string) (*Entry, error) {
	p := s.path(profile)
	data, err := readPrivate(p, maxEntrySize+1)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if errors.Is(err, fs.ErrPermission) {
		// Someone else's file in our private dir: Save can still rename
		// over it.
		return nil, &InvalidError{Path: p, Reason: "not readable"}
	}
	if err != nil {
		var ie *InvalidError
		if errors.As(err, &ie) {
			return nil, err
		}
		return nil, fmt.Errorf("load cache entry %s: %w", p, err)
	}
	if len(data) > maxEntrySize {
		return nil, &InvalidError{Path: p, Reason: "larger than 1 MiB"}
	}
	e, reason := decode(data, profile)
	if reason != "" {
		return nil, &InvalidError{Path: p, Reason: reason}
	}
	return e, nil
}

// Peek loads profile's entry from the cache directory dir like Load, but
// creates and changes nothing: the small binary's read. dir must exist
// and pass Open's owner and mode checks.
func Peek(dir, profile string) (*Entry, error) {
	if err := statDir(dir); err != nil {
		return nil, fmt.Errorf("open cache: %w", err)
	}
	return (&Store{dir: dir}).Load(profile)
}

// decode parses an entry file and returns why it is unusable ("" when it is
// fine). Reasons never quote the data: a corrupt file may hold secrets.
func decode(data []byte, profile string) (*Entry, string) {
	if e, ok := decodeFast(data); ok {
		return check(e, profile)
	}
	var e Entry
	if err := json.Unmarshal(data, &e); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return nil, fmt.Sprintf("malformed json at byte %d", se.Offset)
		case errors.As(err, &te) && te.Field != "":
			return nil, "malformed json: wrong type for " + te.Field
		default:
			return nil, "malformed json"
		}
	}
	return check(&e, profile)
}

// check returns why a decoded entry is unusable ("" when it is fine).
func check(e *Entry, profile string) (*Entry, string) {
	switch {
	case e.Version != EntryVersion:
		return nil, fmt.Sprintf("format version %d, want %d", e.Version, EntryVersion)
	case e.Profile != profile:
		return nil, "made for another profile"
	case e.Credentials.AccessKeyID == "" || e.Credentials.SecretAccessKey == "":
		return nil, "no access key"
	case e.Credentials.Expiration.IsZero():
		return nil, "no expiration"
	}
	return e, ""
}

// Save writes e as its profile's entry atomically: a private temp file in
// the same directory, fsync, rename over the old entry, fsync of the
// directory. Readers see the old entry or the new one, never a mix. The
// expiration is stored in UTC whole seconds.
func (s *Store) Save(e *Entry) error {
	if e == nil || e.Profile == "" {
		return errors.New("save cache entry: no profile")
	}
	if e.Credentials.AccessKeyID == "" || e.Credentials.SecretAccessKey == "" {
		return fmt.Errorf("save cache entry %s: no access key", e.Profile)
	}
	c := *e
	c.Version = EntryVersion
	c.Credentials.Expiration = c.Credentials.Expiration.UTC().Truncate(time.Second)
	c.Issued = c.Issued.UTC()
	data, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return fmt.Errorf("save cache entry %s: encode failed", e.Profile) // never wrap: could quote data
	}
	data = append(data, '\n')
	p := s.path(e.Profile)
	if err := atomicfile.Write(p, data, makePrivate); err != nil {
		return fmt.Errorf("save cache entry %s: %w", p, err)
	}
	return nil
}

// Remove deletes profile's entry; an absent entry is not an error. The lock
// file stays: removing it would let two holders lock different files.
func (s *Store) Remove(profile string) error {
	p := s.path(profile)
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove cache entry %s: %w", p, err)
	}
	return nil
}

// Lock takes profile's exclusive lock, an OS file lock on <name>.lock held
// across goroutines and processes, waiting until ctx ends. unlock releases
// it and may be called more than once.
func (s *Store) Lock(ctx context.Context, profile string) (unlock func(), err error) {
	p := filepath.Join(s.dir, fileName(profile)+".lock")
	f, err := openLockFile(p)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	// Poll: a blocking flock cannot be abandoned when ctx ends. 1ms doubling
	// to 50ms keeps an uncontended lock instant and a contended one cheap.
	wait := time.Millisecond
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", p, err)
		}
		if ok {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", p, context.Cause(ctx))
		case <-t.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			unlockFile(f)
			f.Close()
		})
	}, nil
}

// HashFiles records the SHA-256 of each path, made absolute; a missing file
// gets "".
func HashFiles(paths []string) ([]FileHash, error) {
	out := make([]FileHash, 0, len(paths))
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("hash %s: %w", p, err)
		}
		fh, err := hashFile(abs)
		if err != nil {
			return nil, fmt.Errorf("hash %s: %w", abs, err)
		}
		out = append(out, fh)
	}
	return out, nil
}

// hashFile hashes the file at p. Its stamp is kept only when the file's
// stamp was the same before and after the read: a file written meanwhile
// gets none, so only its bytes decide later.
func hashFile(p string) (FileHash, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return FileHash{Path: p}, nil
	}
	if err != nil {
		return FileHash{}, err
	}
	defer f.Close()
	before := stampOf(f)
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return FileHash{}, err
	}
	fh := FileHash{Path: p, SHA256: hex.EncodeToString(h.Sum(nil))}
	if after := stampOf(f); after == before {
		fh.Stamp = after
	}
	return fh, nil
}

// FilesMatch reports whether every recorded file still has its recorded
// bytes (and every recorded-missing file is still missing). A file whose
// stamp is unchanged is not read again; any other is hashed. An
// unreadable file does not match.
func (e *Entry) FilesMatch() bool {
	for _, fh := range e.Files {
		if hasStamp(fh.Path, fh.Stamp) {
			continue
		}
		got, err := hashFile(fh.Path)
		if err != nil || got.SHA256 != fh.SHA256 {
			return false
		}
	}
	return true
}

// Remaining is how long the credentials stay valid at now (negative once
// expired).
func (e *Entry) Remaining(now time.Time) time.Duration {
	return e.Credentials.Expiration.Sub(now)
}

// Lifetime is how long the credentials were issued for: Expiration − Issued,
// or 0 when Issued is unknown.
func (e *Entry) Lifetime() time.Duration {
	if e.Issued.IsZero() {
		return 0
	}
	return e.Credentials.Expiration.Sub(e.Issued)
}

// fileName maps a profile name to a safe, unique file name stem. Names made
// of [A-Za-z0-9._-] stay as they are; anything else (or "", ".", "..", a
// Windows device name such as "con") becomes "~" + lowercase hex of its bytes,
// which holds no separator, cannot meet a plain name (they never start with
// "~") and stays unique on case-insensitive file systems. Names too long for
// that become "~~" + SHA-256 hex; Load's profile check catches the
// (cryptographically unlikely) clash.
func fileName(profile string) string {
	if plainName(profile) {
		return profile
	}
	if 1+2*len(profile) <= maxNameLen {
		return "~" + hex.EncodeToString([]byte(profile))
	}
	sum := sha256.Sum256([]byte(profile))
	return "~~" + hex.EncodeToString(sum[:])
}

func plainName(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	// Windows refuses device names even with an extension ("con.json").
	stem, _, _ := strings.Cut(s, ".")
	switch strings.ToUpper(stem) {
	case "CON", "PRN", "AUX", "NUL",
		"COM0", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
		"LPT0", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9":
		return false
	}
	return true
}

// OpenLayout opens the cache directory of layout l.
func OpenLayout(l paths.Layout) (*Store, error) {
	dir, err := l.CacheDir()
	if err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	return Open(dir)
}
