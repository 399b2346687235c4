package keys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/99designs/keyring"
	jose "github.com/dvsekhvalnov/jose2go"
	"github.com/mtibben/percent"

	"github.com/stsd/stsd/internal/atomicfile"
)

// FileRing is the encrypted file backend, for hosts without a login
// keyring (servers, the system daemon). It reads and writes the format of
// 99designs/keyring's file backend (one JWE file per item:
// PBES2-HS256+A128KW with A256GCM, the item as JSON, the name
// percent-escaped), so aws-vault and stsd read each other's files. Unlike
// that backend it writes atomically (a crash never leaves a torn key),
// keeps its directory and files owner-only and refuses foreign ones.
type FileRing struct {
	dir string
	pp  *Passphrase

	mu sync.Mutex // serializes writes
}

// NewFileRing returns the file keyring in dir, unlocked by pp.
func NewFileRing(dir string, pp *Passphrase) *FileRing {
	if pp == nil {
		pp = &Passphrase{}
	}
	return &FileRing{dir: dir, pp: pp}
}

func (r *FileRing) path(name string) string {
	return filepath.Join(r.dir, percent.Encode(name, "/"))
}

func (r *FileRing) passphrase() (string, error) {
	if r.dir == "" {
		return "", errors.New("keyring file: no directory: set [keyring] file_dir")
	}
	ctx, cancel := context.WithTimeout(context.Background(), passphraseTimeout)
	defer cancel()
	return r.pp.Get(ctx, r.dir)
}

// Get decrypts name's item.
func (r *FileRing) Get(name string) ([]byte, error) {
	if err := privateDir(r.dir); err != nil {
		return nil, &UnavailableError{Backend: "file", Err: err}
	}
	f, err := openPrivate(r.path(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxStateFile))
	if err != nil {
		return nil, err
	}
	pw, err := r.passphrase()
	if err != nil {
		return nil, err
	}
	payload, _, err := jose.Decode(string(b), pw)
	if err != nil {
		return nil, &UnavailableError{Backend: "file", Hint: "check the passphrase (STSD_KEYRING_PASSWORD, passphrase_command or what was typed)", Err: fmt.Errorf("cannot decrypt %s: wrong passphrase or a damaged file", r.path(name))}
	}
	var it keyring.Item
	if err := json.Unmarshal([]byte(payload), &it); err != nil {
		return nil, fmt.Errorf("keyring file: %s holds no item", r.path(name))
	}
	return it.Data, nil
}

// Set encrypts and writes name's item atomically, 0600.
func (r *FileRing) Set(name string, data []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := privateDir(r.dir); err != nil {
		return &UnavailableError{Backend: "file", Err: err}
	}
	pw, err := r.passphrase()
	if err != nil {
		return err
	}
	plain, _ := json.Marshal(keyring.Item{Key: name, Data: data, Label: "stsd: AWS access key " + name})
	token, err := jose.Encrypt(string(plain), jose.PBES2_HS256_A128KW, jose.A256GCM, pw,
		jose.Headers(map[string]any{"created": time.Now().UTC().Format(time.RFC3339)}))
	if err != nil {
		return fmt.Errorf("keyring file: encrypt: %w", err)
	}
	return atomicfile.Write(r.path(name), []byte(token), makePrivate)
}

// Remove deletes name's item.
func (r *FileRing) Remove(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := os.Remove(r.path(name))
	if errors.Is(err, os.ErrNotExist) {
		return ErrNotFound
	}
	return err
}
