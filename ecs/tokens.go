package ecs

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Errors of Tokens.Check; the handler answers 401 and 403.
var (
	ErrNoToken    = errors.New("no authorization token")
	ErrWrongToken = errors.New("authorization token is not valid for this profile")
)

// maxTokenLen bounds a token read from a file or a header.
const maxTokenLen = 512

// Tokens are the endpoint's authorization tokens: one per profile (kept
// in token_dir/<profile>.token) and issued ones, each scoped to one
// profile and valid until revoked or expired. It is safe for concurrent
// use.
type Tokens struct {
	now func() time.Time
	// set is what Check compares with: a copy of the tokens below, made
	// afresh on every change, so that requests read it without a lock.
	set atomic.Pointer[tokenSet]

	mu   sync.Mutex         // guards the fields that follow; held while set is replaced
	file map[string]string  // profile → its token
	exec map[*Issued]string // live exec tokens → profile
}

// tokenSet is one copy of the tokens, for Check.
type tokenSet struct {
	file, exec []setToken
}

type setToken struct {
	profile string
	token   []byte
	expires time.Time // exec tokens only; zero: never
}

// publish replaces set with a copy of the tokens. t.mu must be held.
func (t *Tokens) publish() {
	s := &tokenSet{}
	for p, tok := range t.file {
		s.file = append(s.file, setToken{profile: p, token: []byte(tok)})
	}
	for e, p := range t.exec {
		s.exec = append(s.exec, setToken{profile: p, token: []byte(e.Token), expires: e.expires})
	}
	t.set.Store(s)
}

// NewTokens returns an empty set. now is the clock for exec-token expiry
// (nil: time.Now).
func NewTokens(now func() time.Time) *Tokens {
	if now == nil {
		now = time.Now
	}
	t := &Tokens{now: now, file: map[string]string{}, exec: map[*Issued]string{}}
	t.set.Store(&tokenSet{})
	return t
}

// LoadDir reads dir/<profile>.token for each profile, creating the
// directory (0700) and any missing file (0600, a crypto/rand.Text() token).
// A token file that others may read, or that another user owns, is refused:
// it is a secret.
func (t *Tokens) LoadDir(dir string, profiles []string) error {
	if err := mkdirPrivate(dir); err != nil {
		return fmt.Errorf("ecs token_dir: %w", err)
	}
	for _, p := range profiles {
		tok, err := loadTokenFile(filepath.Join(dir, p+".token"))
		if err != nil {
			return err
		}
		t.SetFile(p, tok)
	}
	return nil
}

// TokenFile is the path of profile's token file in dir.
func TokenFile(dir, profile string) string { return filepath.Join(dir, profile+".token") }

func loadTokenFile(path string) (string, error) {
	f, err := createPrivate(path)
	if err == nil {
		// No trailing newline: Go v2 and botocore send the file's bytes
		// verbatim and refuse a token with CR or LF.
		tok := rand.Text()
		_, werr := f.WriteString(tok)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return "", fmt.Errorf("write ecs token %s: %w", path, werr)
		}
		return tok, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("create ecs token %s: %w", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("ecs token: %w", err)
	}
	if msg := checkPrivate(path, fi); msg != "" {
		return "", errors.New(msg)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read ecs token: %w", err)
	}
	tok := string(b)
	if !validToken(tok) {
		if t := strings.TrimSpace(tok); validToken(t) {
			return "", fmt.Errorf("ecs token %s ends with a newline, which SDKs refuse in the header they send: rewrite it without one (printf %%s TOKEN > FILE), or delete it and stsd writes a new one", path)
		}
		return "", fmt.Errorf("ecs token %s must hold 16..%d printable characters and no newline: delete it and stsd writes a new one", path, maxTokenLen)
	}
	return tok, nil
}

// validToken: SDKs refuse tokens with CR or LF, and Node rejects other
// control characters in a header value.
func validToken(tok string) bool {
	if len(tok) < 16 || len(tok) > maxTokenLen {
		return false
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] < 0x21 || tok[i] > 0x7e {
			return false
		}
	}
	return true
}

// SetFile sets profile's own token.
func (t *Tokens) SetFile(profile, token string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.file[profile] = token
	t.publish()
}

// Issued is a token scoped to one profile (for an exec'd command), valid
// until it expires or is revoked.
type Issued struct {
	Token   string
	Profile string
	t       *Tokens
	expires time.Time // guarded by t.mu; zero: never
}

// Issue mints an exec token for profile valid for ttl (0: until revoked).
func (t *Tokens) Issue(profile string, ttl time.Duration) *Issued {
	e := &Issued{Token: rand.Text(), Profile: profile, t: t}
	t.mu.Lock()
	defer t.mu.Unlock()
	if ttl > 0 {
		e.expires = t.now().Add(ttl)
	}
	t.exec[e] = profile
	t.publish()
	return e
}

// Renew extends the token to ttl from now, unless it was revoked.
func (e *Issued) Renew(ttl time.Duration) {
	e.t.mu.Lock()
	defer e.t.mu.Unlock()
	if _, ok := e.t.exec[e]; ok {
		e.expires = e.t.now().Add(ttl)
		e.t.publish()
	}
}

// Revoke ends the token at once. It is safe to call more than once.
func (e *Issued) Revoke() {
	e.t.mu.Lock()
	defer e.t.mu.Unlock()
	if _, ok := e.t.exec[e]; ok {
		delete(e.t.exec, e)
		e.t.publish()
	}
}

// Check reports whether token authorizes profile: nil, ErrNoToken (none
// given) or ErrWrongToken (unknown, expired or another profile's). Every
// token is compared in constant time and all are compared, so the time
// taken tells nothing about which one came close.
func (t *Tokens) Check(profile, token string) error {
	if token == "" {
		return ErrNoToken
	}
	if len(token) > maxTokenLen {
		return ErrWrongToken
	}
	given := []byte(token)
	ok := 0
	s := t.set.Load()
	for i := range s.file {
		ok |= subtle.ConstantTimeCompare(given, s.file[i].token) & eq(s.file[i].profile, profile)
	}
	var now time.Time
	if len(s.exec) > 0 { // the clock only for exec tokens' expiry
		now = t.now()
	}
	for i := range s.exec {
		e := &s.exec[i]
		live := 1
		if !e.expires.IsZero() && !now.Before(e.expires) {
			live = 0
		}
		ok |= subtle.ConstantTimeCompare(given, e.token) & eq(e.profile, profile) & live
	}
	if ok != 1 {
		return ErrWrongToken
	}
	return nil
}

func eq(a, b string) int {
	if a == b {
		return 1
	}
	return 0
}
