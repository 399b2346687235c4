package keys

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// The macOS Keychain through /usr/bin/security, without cgo (the release
// builds darwin with CGO_ENABLED=0, and 99designs/keyring's keychain
// backend needs cgo). A secret never goes on a command line: writes go
// through `security -i`, which reads its commands from stdin, and reads
// print the item to stdout. Items are generic passwords with service
// "stsd" and the key's name as account; the data is hex, so no quoting
// is ever needed.

// securityPath is the Keychain's command-line tool.
const securityPath = "/usr/bin/security"

// errSecItemNotFound is security's exit status for a missing item.
const errSecItemNotFound = 44

// securityRunner runs security with args, stdin, and returns stdout and
// the exit status (-1 when it did not run).
type securityRunner func(stdin string, args ...string) (stdout, stderr string, status int)

// keychainRing is the Keychain as a Ring.
type keychainRing struct {
	keychain string // a keychain other than the default; "" for the default
	run      securityRunner
}

// args adds the keychain to a command when one is configured.
func (k *keychainRing) args(a ...string) []string {
	if k.keychain != "" {
		a = append(a, k.keychain)
	}
	return a
}

func (k *keychainRing) Get(name string) ([]byte, error) {
	out, errOut, st := k.run("", k.args("find-generic-password", "-s", serviceName, "-a", name, "-w")...)
	if st == errSecItemNotFound {
		return nil, ErrNotFound
	}
	if st != 0 {
		return nil, k.failed(errOut, st)
	}
	data, err := hex.DecodeString(strings.TrimSpace(out))
	if err != nil {
		return nil, errors.New("keyring keychain: the stsd item is not one stsd wrote: remove it with `stsd key remove` and add the key again")
	}
	return data, nil
}

// Set replaces the item (-U) through security's interactive mode, so the
// data is on stdin only.
func (k *keychainRing) Set(name string, data []byte) error {
	if !safeName(name) || !safeName(k.keychain) {
		return fmt.Errorf("keyring keychain: %q cannot be written safely", name)
	}
	line := strings.Join(k.args("add-generic-password", "-U", "-s", serviceName, "-a", name, "-l", serviceName+":"+name, "-w", hex.EncodeToString(data)), " ")
	_, errOut, st := k.run(line+"\n", "-i")
	if st != 0 || strings.TrimSpace(errOut) != "" {
		return k.failed(errOut, st)
	}
	return nil
}

func (k *keychainRing) Remove(name string) error {
	_, errOut, st := k.run("", k.args("delete-generic-password", "-s", serviceName, "-a", name)...)
	if st == errSecItemNotFound {
		return ErrNotFound
	}
	if st != 0 {
		return k.failed(errOut, st)
	}
	return nil
}

func (k *keychainRing) failed(stderr string, status int) error {
	msg := oneLine(stderr)
	if msg == "" {
		msg = fmt.Sprintf("security exited %d", status)
	}
	name := ""
	if k.keychain != "" {
		name = " " + k.keychain
	}
	return &UnavailableError{Backend: "keychain", Hint: fmt.Sprintf(hints["keychain"], "", name), Err: errors.New(msg)}
}

// safeName is a word security's command tokenizer takes as it is: the
// characters of key and keychain names, and paths without blanks.
func safeName(s string) bool {
	return !strings.ContainsAny(s, " \t\r\n\"'\\")
}
