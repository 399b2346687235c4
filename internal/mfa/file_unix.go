//go:build !windows

package mfa

import "os"

// writePrivate writes a state file only its owner may read (0600).
func writePrivate(path string, data []byte) error { return os.WriteFile(path, data, 0o600) }
