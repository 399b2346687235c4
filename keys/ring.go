package keys

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/99designs/keyring"

	"github.com/stsd/stsd/config"
)

// serviceName names stsd's items (secret-service attribute, kwallet
// folder, keyctl keyring, wincred target prefix).
const serviceName = "stsd"

// ringTimeout bounds one keyring operation: a locked secret-service
// collection waits for an unlock prompt that nobody may ever answer.
const ringTimeout = 20 * time.Second

// OpenRing opens the backend kr names ("auto": AutoBackend). The file
// backend takes its passphrase from pp when first used.
func OpenRing(kr config.Keyring, pp *Passphrase) (Ring, error) {
	b := kr.Backend
	if b == "auto" || b == "" {
		b = AutoBackend(kr)
	}
	switch b {
	case "file":
		return NewFileRing(kr.FileDir, pp), nil
	case "keychain":
		return openKeychain(kr)
	}
	cfg := keyring.Config{
		AllowedBackends:         []keyring.BackendType{keyring.BackendType(b)},
		ServiceName:             serviceName,
		LibSecretCollectionName: kr.Collection,
		KWalletAppID:            serviceName,
		KWalletFolder:           serviceName,
		KeyCtlScope:             "user",
		PassDir:                 kr.PassDir,
		PassPrefix:              serviceName,
		WinCredPrefix:           serviceName,
	}
	r, err := keyring.Open(cfg)
	if err != nil {
		return nil, unavailable(b, kr, err)
	}
	return &libRing{r: r, backend: b, kr: kr}, nil
}

// AutoBackend is what backend = "auto" picks on this host: the OS's own
// keyring (macOS Keychain, Windows Credential Manager), else on Linux
// and the BSDs the Secret Service when a session bus is there, else pass
// when its store is set up, else the encrypted file. It never picks keyctl:
// the kernel keyring forgets its keys at reboot.
func AutoBackend(kr config.Keyring) string {
	if b := osBackend(); b != "" {
		return b
	}
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
		return "secret-service"
	}
	dir := kr.PassDir
	if dir == "" {
		dir = os.Getenv("PASSWORD_STORE_DIR")
	}
	if dir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".password-store")
		}
	}
	if _, err := exec.LookPath("pass"); err == nil && dir != "" {
		if _, err := os.Stat(filepath.Join(dir, ".gpg-id")); err == nil {
			return "pass"
		}
	}
	return "file"
}

// libRing is a backend of 99designs/keyring.
type libRing struct {
	r       keyring.Keyring
	backend string
	kr      config.Keyring
}

func (l *libRing) Get(name string) ([]byte, error) {
	var it keyring.Item
	err := l.bounded(func() (err error) { it, err = l.r.Get(name); return err })
	if errors.Is(err, keyring.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return it.Data, nil
}

func (l *libRing) Set(name string, data []byte) error {
	return l.bounded(func() error {
		return l.r.Set(keyring.Item{Key: name, Data: data, Label: "stsd: AWS access key " + name, Description: "IAM user access key kept by stsd"})
	})
}

func (l *libRing) Remove(name string) error {
	// Some backends (secret-service) remove an absent item silently.
	if _, err := l.Get(name); err != nil {
		return err
	}
	err := l.bounded(func() error { return l.r.Remove(name) })
	if errors.Is(err, keyring.ErrKeyNotFound) || errors.Is(err, os.ErrNotExist) {
		return ErrNotFound
	}
	return err
}

// bounded runs op within ringTimeout and turns its failure into one line
// saying what to do.
func (l *libRing) bounded(op func() error) error {
	done := make(chan error, 1)
	go func() { done <- op() }()
	select {
	case err := <-done:
		if err == nil || errors.Is(err, keyring.ErrKeyNotFound) {
			return err
		}
		return unavailable(l.backend, l.kr, err)
	case <-time.After(ringTimeout):
		return unavailable(l.backend, l.kr, fmt.Errorf("no answer within %s", ringTimeout))
	}
}

// UnavailableError is a keyring that is locked, absent or failing. Its
// text is one line: what happened and how to unlock it or which backend
// to choose instead.
type UnavailableError struct {
	Backend string
	Hint    string
	Err     error
}

func (e *UnavailableError) Error() string {
	if e.Hint == "" {
		return fmt.Sprintf("keyring %s: %s", e.Backend, oneLine(e.Err.Error()))
	}
	return fmt.Sprintf("keyring %s: %s: %s", e.Backend, oneLine(e.Err.Error()), e.Hint)
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// hints say how to unlock each backend, or what to choose instead.
var hints = map[string]string{
	"secret-service": "unlock the %[1]q collection (log in to the desktop, or run `gnome-keyring-daemon --unlock` in the session), or set [keyring] backend = \"pass\" or \"file\"",
	"kwallet":        "open and unlock KWallet in the desktop session, or set [keyring] backend = \"pass\" or \"file\"",
	"pass":           "install pass and gpg, run `pass init GPG-ID` and unlock the GPG key (gpg-agent), or set [keyring] backend = \"file\"",
	"keyctl":         "the kernel keyring needs keyutils support and forgets keys at reboot; set [keyring] backend = \"file\" for a key that lasts",
	"wincred":        "run stsd as a logged-in user (the Credential Manager needs a profile), or set [keyring] backend = \"file\"",
	"keychain":       "unlock it with `security unlock-keychain`%[2]s, or set [keyring] backend = \"file\"",
	"file":           "give the passphrase through STSD_KEYRING_PASSWORD, passphrase_command or the terminal",
}

func unavailable(backend string, kr config.Keyring, err error) error {
	var ue *UnavailableError
	if errors.As(err, &ue) {
		return err
	}
	if errors.Is(err, keyring.ErrNoAvailImpl) {
		err = errors.New("not available on this host")
	}
	name := ""
	if kr.KeychainName != "" {
		name = " " + kr.KeychainName
	}
	return &UnavailableError{Backend: backend, Hint: fmt.Sprintf(hints[backend], kr.Collection, name), Err: err}
}

// oneLine keeps the first line of a backend's message.
func oneLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
