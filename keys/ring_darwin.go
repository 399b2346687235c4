package keys

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/wire"
	"os"
)

// osBackend is this OS's own keyring for "auto": the Keychain.
func osBackend() string { return "keychain" }

func openKeychain(kr config.Keyring) (Ring, error) {
	if _, err := os.Stat(securityPath); err != nil {
		return nil, &UnavailableError{Backend: "keychain", Hint: "set [keyring] backend = \"file\"", Err: errors.New(securityPath + " is missing")}
	}
	return &keychainRing{keychain: kr.KeychainName, run: runSecurity}, nil
}

// runSecurity runs /usr/bin/security with args (never a secret) and stdin.
func runSecurity(stdin string, args ...string) (string, string, int) {
	cmd := exec.Command(securityPath, args...)
	cmd.Env = wire.ChildEnv(os.Environ())
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), errOut.String(), ee.ExitCode()
	case err != nil:
		return "", err.Error(), -1
	}
	return out.String(), errOut.String(), 0
}
