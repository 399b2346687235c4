package keys

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/stsd/stsd/internal/shell"
	"github.com/stsd/stsd/internal/wire"
)

// CredentialName is the systemd credential that holds a system daemon's
// file-keyring passphrase (LoadCredential=/LoadCredentialEncrypted=,
// found in $CREDENTIALS_DIRECTORY).
const CredentialName = "keyring-passphrase"

// passphraseTimeout bounds passphrase_command and the terminal prompt.
const passphraseTimeout = time.Minute

// maxPassphrase bounds what a passphrase source may give.
const maxPassphrase = 4096

// Passphrase is where the file backend's passphrase comes from, in
// order: the systemd credential, STSD_KEYRING_PASSWORD (read once and
// removed from the environment, so no child can inherit it), Command,
// then Prompt. It is never a config value. The first one found is kept
// for the life of the process.
type Passphrase struct {
	Command string // passphrase_command: prints the passphrase
	// Prompt asks a person; nil means the terminal (/dev/tty) when there
	// is one.
	Prompt func(ctx context.Context, text string) (string, error)

	mu    sync.Mutex // guards value
	value string
}

// TakeEnv returns STSD_KEYRING_PASSWORD as the process started and
// removes it from the environment at the first call, so nothing the
// process starts afterwards (a keyring tool included) can see it. stsd
// calls it first thing.
func TakeEnv() string { return envPassphrase() }

// envPassphrase is read once: the environment is the process's, and the
// variable is gone after the first read.
var envPassphrase = sync.OnceValue(func() string {
	v := os.Getenv(wire.KeyringPasswordEnv)
	_ = os.Unsetenv(wire.KeyringPasswordEnv)
	return v
})

// Set gives the passphrase directly (taken from the environment early).
func (p *Passphrase) Set(v string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.value = v
}

// Get returns the passphrase for the keyring in dir.
func (p *Passphrase) Get(ctx context.Context, dir string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.value != "" {
		return p.value, nil
	}
	v, err := p.find(ctx, dir)
	if err != nil {
		return "", err
	}
	if v == "" {
		return "", errors.New("keyring file: the passphrase is empty")
	}
	p.value = v
	return v, nil
}

func (p *Passphrase) find(ctx context.Context, dir string) (string, error) {
	if d := os.Getenv("CREDENTIALS_DIRECTORY"); d != "" {
		data, err := os.ReadFile(filepath.Join(d, CredentialName))
		if err == nil {
			return strings.TrimRight(string(data), "\r\n"), nil
		}
	}
	if v := TakeEnv(); v != "" {
		return v, nil
	}
	if p.Command != "" {
		return runPassphraseCommand(ctx, p.Command)
	}
	prompt := p.Prompt
	if prompt == nil {
		prompt = func(ctx context.Context, text string) (string, error) { return ReadSecret(ctx, "", text) }
	}
	v, err := prompt(ctx, fmt.Sprintf("passphrase of the stsd keyring in %s", dir))
	if err != nil {
		return "", fmt.Errorf("keyring file: no passphrase (%v): set %s, passphrase_command in [keyring], or run on a terminal", err, wire.KeyringPasswordEnv)
	}
	if empty(dir) {
		// A new keyring: a typo now would lock its keys away for good.
		again, err := prompt(ctx, "the same passphrase again (the keyring is new)")
		if err != nil || again != v {
			return "", errors.New("keyring file: the two passphrases differ: nothing stored")
		}
	}
	return v, nil
}

// empty reports whether dir holds no keyring item yet.
func empty(dir string) bool {
	ents, err := os.ReadDir(dir)
	return err != nil || len(ents) == 0
}

// runPassphraseCommand runs passphrase_command with the platform shell
// and returns its first line of output. Its stderr is the user's.
func runPassphraseCommand(ctx context.Context, command string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, passphraseTimeout)
	defer cancel()
	cmd := shell.Command(ctx, command)
	cmd.Env = append(wire.ChildEnv(os.Environ()), wire.ResolvingEnv+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("keyring file: passphrase_command failed (%v): fix it or set %s", err, wire.KeyringPasswordEnv)
	}
	if out.Len() > maxPassphrase {
		return "", errors.New("keyring file: passphrase_command printed more than 4096 bytes")
	}
	line, _, _ := strings.Cut(out.String(), "\n")
	return strings.TrimRight(line, "\r"), nil
}

// ReadSecret asks on the terminal tty (default /dev/tty) without echo and
// returns the line typed. It never reads stdout or argv.
func ReadSecret(ctx context.Context, tty, text string) (string, error) {
	if tty == "" {
		tty = "/dev/tty"
	}
	f, err := os.OpenFile(tty, os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("no terminal: %w", err)
	}
	defer f.Close()
	if !term.IsTerminal(int(f.Fd())) {
		return "", fmt.Errorf("%s is not a terminal", tty)
	}
	fmt.Fprintf(f, "%s: ", text)
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b, err := term.ReadPassword(int(f.Fd()))
		ch <- result{b, err}
	}()
	ctx, cancel := context.WithTimeout(ctx, passphraseTimeout)
	defer cancel()
	select {
	case r := <-ch:
		fmt.Fprintln(f)
		return strings.TrimSpace(string(r.b)), r.err
	case <-ctx.Done():
		fmt.Fprintln(f)
		return "", errors.New("nothing typed in time")
	}
}
