package keys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/install"
	"github.com/stsd/stsd/internal/atomicfile"
	"github.com/stsd/stsd/internal/paths"
	"github.com/stsd/stsd/internal/redact"
)

// ErrNotFound is returned when no key is stored under a name.
var ErrNotFound = errors.New("not found")

// Ring is one keyring backend as keys uses it: opaque items by name.
type Ring interface {
	// Get returns the item name holds, or an error matching ErrNotFound.
	Get(name string) ([]byte, error)
	Set(name string, data []byte) error
	// Remove deletes the item; an absent one matches ErrNotFound.
	Remove(name string) error
}

// Options configure Stores. Zero values mean defaults.
type Options struct {
	// StateDir holds each key's metadata and rotation journal (0700);
	// default the layout's state dir + "/keys".
	StateDir string
	// Passphrase unlocks the file backend; default: the systemd
	// credential, then STSD_KEYRING_PASSWORD (read once, then removed
	// from the environment), then passphrase_command.
	Passphrase *Passphrase
	// OpenRing opens the configured keyring; default OpenRing.
	OpenRing func(config.Keyring, *Passphrase) (Ring, error)
	// Now is the clock for metadata; default time.Now.
	Now func() time.Time
}

// Stores reads and writes the long-term keys of one config: each in the
// store its [keys.NAME] names. It is safe for concurrent use.
type Stores struct {
	cfg *config.Config
	o   Options

	mu      sync.Mutex // guards the fields that follow
	ring    Ring
	ringErr error
}

// New returns the stores of cfg. It opens nothing until a key is read.
func New(cfg *config.Config, o Options) *Stores {
	if o.StateDir == "" {
		if d, err := (paths.Layout{System: cfg.System}).StateDir(); err == nil {
			o.StateDir = filepath.Join(d, "keys")
		}
	}
	if o.Passphrase == nil {
		o.Passphrase = &Passphrase{Command: cfg.Keyring.PassphraseCommand}
	}
	if o.OpenRing == nil {
		o.OpenRing = OpenRing
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Stores{cfg: cfg, o: o}
}

// Config is the config the stores serve.
func (s *Stores) Config() *config.Config { return s.cfg }

// keyItem is a key as a keyring item holds it.
type keyItem struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
}

// Ring opens the keyring on first use; a failure is remembered for this
// Stores (a reload builds new ones).
func (s *Stores) Ring() (Ring, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ring == nil && s.ringErr == nil {
		s.ring, s.ringErr = s.o.OpenRing(s.cfg.Keyring, s.o.Passphrase)
	}
	return s.ring, s.ringErr
}

// Load returns the key stored under name, from its store.
func (s *Stores) Load(ctx context.Context, name string) (Key, error) {
	if s.cfg.Key(name).Store == config.StoreKeyring {
		return s.loadRing(name)
	}
	return s.loadFile(name)
}

func (s *Stores) loadRing(name string) (Key, error) {
	r, err := s.Ring()
	if err != nil {
		return Key{}, err
	}
	data, err := r.Get(name)
	if errors.Is(err, ErrNotFound) {
		return Key{}, fmt.Errorf("key %q: %w in the keyring: run `stsd key add %s` or `stsd key import %s`", name, ErrNotFound, name, name)
	}
	if err != nil {
		return Key{}, err
	}
	var it keyItem
	if err := json.Unmarshal(data, &it); err != nil || it.AccessKeyID == "" || it.SecretAccessKey == "" {
		return Key{}, fmt.Errorf("key %q in the keyring is not an access key stsd stored: run `stsd key add %s` again", name, name)
	}
	return Key{ID: it.AccessKeyID, Secret: it.SecretAccessKey}, nil
}

// CredentialsFile is the shared credentials file of the config.
func (s *Stores) CredentialsFile() string { return paths.AWSCredentialsFile(s.cfg.CredentialsFile) }

func (s *Stores) loadFile(name string) (Key, error) {
	path := s.CredentialsFile()
	if probs := s.cfg.SharedFileProblems(); len(probs) > 0 {
		return Key{}, fmt.Errorf("key %q refused: %s", name, probs[0].Msg)
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Key{}, fmt.Errorf("%s: %w: add [%s] with its key, or `stsd key add %s`", path, ErrNotFound, name, name)
	}
	if err != nil {
		return Key{}, fmt.Errorf("read %s: %w", path, err)
	}
	id, secret, ok := install.CredentialsKeys(string(data), name)
	if !ok {
		return Key{}, fmt.Errorf("key %q: %w in %s (no static key under [%s]; a source through another tool's credential_process cannot be rotated or imported: stsd does not hold its secret)", name, ErrNotFound, path, name)
	}
	return Key{ID: id, Secret: secret}, nil
}

// Save stores k under name, atomically: in the keyring it replaces the
// item; in the shared credentials file only the two values change (same
// mode and owner, every other byte kept).
func (s *Stores) Save(ctx context.Context, name string, k Key) error {
	if err := checkKey(k); err != nil {
		return err
	}
	if s.cfg.Key(name).Store == config.StoreKeyring {
		return s.SaveRing(name, k)
	}
	path := s.CredentialsFile()
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("save key %q: %w", name, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("save key %q: %w", name, err)
	}
	out, err := install.SetCredentialsKeys(string(data), name, k.ID, k.Secret)
	if err != nil {
		return fmt.Errorf("save key %q: %s has no static key under [%s] to replace", name, path, name)
	}
	if err := atomicfile.Write(path, []byte(out), atomicfile.Like(fi)); err != nil {
		return fmt.Errorf("save key %q in %s: %w", name, path, err)
	}
	return nil
}

// SaveRing stores k under name in the keyring, whatever the key's store.
func (s *Stores) SaveRing(name string, k Key) error {
	r, err := s.Ring()
	if err != nil {
		return err
	}
	data, _ := json.Marshal(keyItem{AccessKeyID: k.ID, SecretAccessKey: k.Secret})
	if err := r.Set(name, data); err != nil {
		return fmt.Errorf("store key %q in the keyring: %w", name, err)
	}
	return nil
}

// Remove deletes the key stored under name from the keyring, with its
// metadata. Keys in the shared credentials file are the user's to edit.
func (s *Stores) Remove(ctx context.Context, name string) error {
	if s.cfg.Key(name).Store != config.StoreKeyring {
		return fmt.Errorf("key %q is kept in %s (store = \"credentials_file\"): remove its [%s] section there", name, s.CredentialsFile(), name)
	}
	if j, _ := s.loadJournal(name); j != nil {
		return fmt.Errorf("key %q is being rotated (%s): finish it with `stsd key rotate %s` first", name, j.Step, name)
	}
	r, err := s.Ring()
	if err != nil {
		return err
	}
	if err := r.Remove(name); err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("key %q: %w in the keyring", name, ErrNotFound)
		}
		return fmt.Errorf("remove key %q: %w", name, err)
	}
	_ = os.Remove(s.metaPath(name))
	return nil
}

// Import moves name's static key from the shared credentials file into
// the keyring, then removes just its [name] section from the file (every
// other byte, its mode and owner kept). It returns the key id.
func (s *Stores) Import(ctx context.Context, name string) (string, error) {
	if s.cfg.Key(name).Store != config.StoreKeyring {
		return "", fmt.Errorf("key %q would be read from the shared credentials file: add [keys.%s] with store = \"keyring\" to %s first", name, name, s.cfg.Path)
	}
	k, err := s.loadFile(name)
	if err != nil {
		return "", err
	}
	if err := s.SaveRing(name, k); err != nil {
		return "", err
	}
	// Read back before the file loses its copy.
	if got, err := s.loadRing(name); err != nil || got != k {
		return "", fmt.Errorf("key %q did not read back from the keyring; %s is unchanged", name, s.CredentialsFile())
	}
	path := s.CredentialsFile()
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	out, _ := install.RemoveCredentialsSection(string(data), name)
	if err := atomicfile.Write(path, []byte(out), atomicfile.Like(fi)); err != nil {
		return "", fmt.Errorf("key %q is in the keyring, but removing [%s] from %s failed: %w; remove it by hand", name, name, path, err)
	}
	s.touchMeta(name, k.ID, false)
	return k.ID, nil
}

// Addable says why a key cannot be added under name (nil when it can):
// only keyring keys are added; a credentials_file key is the user's file
// to edit.
func (s *Stores) Addable(name string) error {
	if s.cfg.Key(name).Store != config.StoreKeyring {
		return fmt.Errorf("key %q would be read from the shared credentials file: add [keys.%s] with store = \"keyring\" to %s first", name, name, s.cfg.Path)
	}
	return nil
}

// Add stores a key given by the user under name, in the keyring.
func (s *Stores) Add(ctx context.Context, name string, k Key) error {
	if err := checkKey(k); err != nil {
		return err
	}
	if err := s.Addable(name); err != nil {
		return err
	}
	if err := s.SaveRing(name, k); err != nil {
		return err
	}
	s.touchMeta(name, k.ID, false)
	return nil
}

// checkKey refuses what is not a long-term access key, without quoting it.
func checkKey(k Key) error {
	switch {
	case !strings.HasPrefix(k.ID, "AKIA") || len(k.ID) < 16 || len(k.ID) > 128 || strings.ContainsAny(k.ID, " \t\r\n"):
		return fmt.Errorf("%s is not a long-term access key id (AKIA…, 16..128 characters)", redact.KeyID(k.ID))
	case len(k.Secret) < 16 || len(k.Secret) > 256 || strings.ContainsAny(k.Secret, " \t\r\n\x00"):
		return errors.New("the secret access key is not one (16..256 characters without blanks)")
	}
	return nil
}
