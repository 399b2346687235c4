//go:build !darwin && !windows

package keys

import (
	"errors"

	"github.com/stsd/stsd/config"
)

// osBackend is this OS's own keyring for "auto": none here.
func osBackend() string { return "" }

func openKeychain(config.Keyring) (Ring, error) {
	return nil, errors.New("keyring keychain: the macOS Keychain exists only on macOS: set [keyring] backend to another one")
}
