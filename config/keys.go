package config

import (
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/stsd/stsd/config/internal/tomlpos"
	"github.com/stsd/stsd/internal/paths"
)

// KeyStore says where a long-term key is kept.
type KeyStore string

// The key stores.
const (
	// StoreCredentialsFile is the shared credentials file (the default).
	StoreCredentialsFile KeyStore = "credentials_file"
	// StoreKeyring is the OS keyring ([keyring]).
	StoreKeyring KeyStore = "keyring"
)

// DefaultRotateGrace is how long a rotated-out key stays, inactive,
// before it is deleted: long enough to notice a copy still in use and
// re-activate it.
const DefaultRotateGrace = time.Hour

// minRotateEvery keeps a schedule clear of IAM's propagation delay and
// the grace period of the rotation before.
const minRotateEvery = time.Hour

// Key is one [keys.NAME] table: how the long-term key that profiles name
// as source_profile = NAME is kept and rotated. Config.Key gives the
// default for a name with no table.
type Key struct {
	Name        string
	Line        int // 0 when there is no [keys.NAME] table
	Store       KeyStore
	RotateEvery time.Duration // 0: rotated only by `stsd key rotate`
	RotateGrace time.Duration // default DefaultRotateGrace
	// MFASerial is the MFA device IAM calls need when the user's policy
	// demands MFA: the table's mfa_serial, else the one serial of the
	// profiles that use this key.
	MFASerial string
	// MFAProcess is mfa_process of a profile using this key with the
	// same serial, for rotations the daemon runs on its own.
	MFAProcess string
}

// Keyring is the [keyring] table with defaults applied.
type Keyring struct {
	Backend           string // auto|keychain|wincred|secret-service|kwallet|pass|keyctl|file
	KeychainName      string // keychain: a keychain other than the default one
	Collection        string // secret-service: default "login"
	PassDir           string // pass: the password store; default $PASSWORD_STORE_DIR or ~/.password-store
	FileDir           string // file: absolute; default <state dir>/keyring
	PassphraseCommand string // file: prints the passphrase (run with sh -c / cmd /C)
}

// KeyringBackends are the [keyring] backend values.
var KeyringBackends = []string{"auto", "keychain", "wincred", "secret-service", "kwallet", "pass", "keyctl", "file"}

// backendOS is where each OS-bound backend exists.
var backendOS = map[string][]string{
	"keychain":       {"darwin"},
	"wincred":        {"windows"},
	"keyctl":         {"linux"},
	"secret-service": {"linux", "freebsd", "openbsd", "netbsd", "dragonfly"},
	"kwallet":        {"linux", "freebsd", "openbsd", "netbsd", "dragonfly"},
}

var (
	keyKeys     = []string{"store", "rotate_every", "rotate_grace", "mfa_serial"}
	keyringKeys = []string{"backend", "keychain_name", "collection", "pass_dir", "file_dir", "passphrase_command"}
	// keyringOptionOf names the backend each option belongs to.
	keyringOptionOf = map[string]string{"keychain_name": "keychain", "collection": "secret-service", "pass_dir": "pass", "file_dir": "file", "passphrase_command": "file"}
)

// Key returns how the key named name is kept: its [keys.NAME] table, or
// the default (the shared credentials file, no schedule).
func (c *Config) Key(name string) *Key {
	if k, ok := c.Keys[name]; ok {
		return k
	}
	return &Key{Name: name, Store: StoreCredentialsFile, RotateGrace: DefaultRotateGrace, MFASerial: c.keyMFASerial(name)}
}

// KeyNames returns every source_profile and [keys.NAME] name, sorted.
func (c *Config) KeyNames() []string {
	var out []string
	for _, p := range c.Profiles {
		out = append(out, p.SourceProfile)
	}
	for n := range c.Keys {
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// keyMFASerial is the one MFA serial of the profiles using key name, or
// "" when none or several differ.
func (c *Config) keyMFASerial(name string) string {
	serial := ""
	for _, p := range c.Profiles {
		if p.SourceProfile != name || p.MFASerial == "" {
			continue
		}
		if serial != "" && serial != p.MFASerial {
			return ""
		}
		serial = p.MFASerial
	}
	return serial
}

// keyMFAProcess is mfa_process of a profile using key name with serial.
func (c *Config) keyMFAProcess(name, serial string) string {
	for _, pn := range c.ProfileNames() {
		p := c.Profiles[pn]
		if p.SourceProfile == name && p.MFASerial == serial && p.MFAProcess != "" {
			return p.MFAProcess
		}
	}
	return ""
}

// keysTable reads [keys]: one [keys.NAME] table per long-term key.
func (p *parser) keysTable(n *tomlpos.Node) {
	if !p.table(n) {
		return
	}
	p.cfg.Keys = map[string]*Key{}
	for _, kn := range n.Kids {
		p.keyTable(kn)
	}
}

func (p *parser) keyTable(n *tomlpos.Node) {
	name := n.Last()
	if !p.table(n) {
		return
	}
	if !isProfileName(name) || strings.HasPrefix(name, ".") {
		p.errf(n, "invalid key name: use the source_profile name (1..64 letters, digits and _+=,.@-, not starting with \".\")")
		return
	}
	k := &Key{Name: name, Line: n.Line, Store: StoreCredentialsFile, RotateGrace: DefaultRotateGrace}
	var every, grace *tomlpos.Node
	for _, kid := range n.Kids {
		switch kid.Last() {
		case "store":
			if s, ok := p.oneOf(kid, []string{string(StoreCredentialsFile), string(StoreKeyring)}, `%q is not a key store; use "credentials_file" (the shared credentials file) or "keyring" (the OS keyring, [keyring])`); ok {
				k.Store = KeyStore(s)
			}
		case "rotate_every":
			if d, ok := p.duration(kid); ok {
				k.RotateEvery, every = d, kid
			}
		case "rotate_grace":
			if d, ok := p.duration(kid); ok {
				k.RotateGrace, grace = d, kid
			}
		case "mfa_serial":
			if s, ok := p.str(kid); ok {
				if msg := checkChars(s, 9, 256, serialChar, "an MFA serial", "letters, digits and _+=/:,.@-"); msg != "" {
					p.errf(kid, "%q %s; use the device ARN (arn:aws:iam::123456789012:mfa/alice)", s, msg)
				} else {
					k.MFASerial = s
				}
			}
		default:
			p.errf(kid, "%s", suggest(kid.Last(), keyKeys))
		}
	}
	switch {
	case every != nil && k.RotateEvery < minRotateEvery:
		p.errf(every, "%q is shorter than 1h: IAM keys take a while to propagate and the old key stays rotate_grace; rotate daily (\"1d\") or less often", every.Value)
	case every != nil && k.RotateGrace >= k.RotateEvery:
		p.errf(every, "%q is not longer than rotate_grace (%s): the old key would not be deleted before the next rotation", every.Value, fmtDur(k.RotateGrace))
	}
	if grace != nil && k.RotateGrace < time.Minute {
		p.errf(grace, "%q is shorter than 1m; keep the old key long enough to notice a copy still in use", grace.Value)
	}
	if p.o.System && k.Store == StoreCredentialsFile && every != nil {
		p.errf(every, "a system daemon cannot rotate a key in the shared credentials file: /etc/stsd is read-only under ProtectSystem=strict; set store = \"keyring\" (the encrypted file backend under /var/lib/stsd) and run `stsd key import %s --system`", name)
	}
	p.cfg.Keys[name] = k
}

// keysCross fills each key's MFA defaults from the profiles that use it
// and warns about tables no profile uses.
func (p *parser) keysCross(n *tomlpos.Node) {
	for _, name := range slices.Sorted(maps.Keys(p.cfg.Keys)) {
		k := p.cfg.Keys[name]
		if k.MFASerial == "" {
			k.MFASerial = p.cfg.keyMFASerial(name)
		}
		if k.MFASerial != "" {
			k.MFAProcess = p.cfg.keyMFAProcess(name, k.MFASerial)
		}
		used := slices.ContainsFunc(slices.Collect(maps.Values(p.cfg.Profiles)), func(pr *Profile) bool { return pr.SourceProfile == name })
		if !used {
			if kn := n.Child(name); kn != nil {
				p.warnf(kn, "no profile has source_profile = %q; this key is kept (and rotated) but serves nothing", name)
			}
		}
	}
}

// keyringTable reads [keyring].
func (p *parser) keyringTable(n *tomlpos.Node) {
	if !p.table(n) {
		return
	}
	kr := &p.cfg.Keyring
	for _, k := range n.Kids {
		switch key := k.Last(); key {
		case "backend":
			if s, ok := p.oneOf(k, KeyringBackends, "%q is not a keyring backend; use "+strings.Join(KeyringBackends, ", ")); ok {
				kr.Backend = s
			}
		case "keychain_name":
			kr.KeychainName, _ = p.nonEmpty(k)
		case "collection":
			kr.Collection, _ = p.nonEmpty(k)
		case "pass_dir":
			kr.PassDir, _ = p.filePath(k)
		case "file_dir":
			kr.FileDir, _ = p.filePath(k)
		case "passphrase_command":
			kr.PassphraseCommand, _ = p.nonEmpty(k)
		case "passphrase", "password":
			p.errf(k, "a passphrase never goes in the config: set STSD_KEYRING_PASSWORD, passphrase_command, or type it when asked")
		default:
			p.errf(k, "%s", suggest(key, keyringKeys))
		}
	}
	p.keyringChecks(n)
}

// keyringChecks refuses backends this OS or layout lacks and options of
// another backend.
func (p *parser) keyringChecks(n *tomlpos.Node) {
	b := p.cfg.Keyring.Backend
	if b == "" {
		b = "auto"
	}
	if oses, ok := backendOS[b]; ok && !slices.Contains(oses, runtime.GOOS) {
		p.errf(n.Child("backend"), "%q is not available on %s; use %s", b, runtime.GOOS, strings.Join(backendsHere(), ", "))
	}
	if p.o.System && b != "auto" && b != "file" {
		p.errf(n.Child("backend"), "a system daemon has no login keyring, and the kernel keyring it gets is new at every start: use backend = \"file\" (the default in the system layout: encrypted under /var/lib/stsd, its passphrase a systemd credential)")
	}
	for _, k := range n.Kids {
		if owner, ok := keyringOptionOf[k.Last()]; ok && b != "auto" && b != owner {
			p.errf(k, "belongs to backend %q, but backend is %q; remove it or set backend = %q", owner, b, owner)
		}
	}
}

// backendsHere are the backends this OS has.
func backendsHere() []string {
	var out []string
	for _, b := range KeyringBackends {
		if oses, ok := backendOS[b]; !ok || slices.Contains(oses, runtime.GOOS) {
			out = append(out, b)
		}
	}
	return out
}

// keyringDefaults fills [keyring]'s defaults, present or not.
func (p *parser) keyringDefaults() {
	kr := &p.cfg.Keyring
	if kr.Backend == "" {
		kr.Backend = "auto"
	}
	if p.o.System && kr.Backend == "auto" {
		// A system daemon has no login keyring: the encrypted file under
		// /var/lib/stsd, unlocked by the systemd credential.
		kr.Backend = "file"
	}
	if kr.Collection == "" {
		// The unlocked login collection works headless; creating another
		// needs a desktop prompter.
		kr.Collection = "login"
	}
	if kr.FileDir == "" {
		if d, err := (paths.Layout{System: p.o.System}).StateDir(); err == nil {
			kr.FileDir = filepath.Join(d, "keyring")
		}
	}
}

// String names the store for listings.
func (s KeyStore) String() string { return string(s) }
