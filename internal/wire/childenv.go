package wire

import "strings"

// KeyringPasswordEnv passes the file keyring's passphrase to stsd. stsd
// reads it once and removes it from its own environment, and no child
// stsd starts ever sees it (ChildEnv).
const KeyringPasswordEnv = "STSD_KEYRING_PASSWORD"

// childSecrets are the variables ChildEnv drops.
var childSecrets = []string{KeyringPasswordEnv}

// ChildEnv is environ without the variables no child process of stsd may
// see: every command stsd runs (a source credential_process,
// mfa_process, notify_command, passphrase_command, an exec child, the
// keyring tools) gets its environment through it.
func ChildEnv(environ []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, s := range childSecrets {
			// Windows variable names ignore case.
			if strings.EqualFold(k, s) {
				drop = true
			}
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}
