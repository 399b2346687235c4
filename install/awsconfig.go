package install

import (
	"errors"
	"fmt"
	"github.com/stsd/stsd/internal/atomicfile"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/stsd/stsd/config"
)

// CredentialProcessName is the small binary's file name.
const CredentialProcessName = "stsd-credential-process" + exeSuffix

// ErrRefused marks a profile configure-profile will not write: a config
// problem the user fixes first.
var ErrRefused = errors.New("refused")

// writeAtomic replaces path with data, with mode and, when like is set,
// like's owner.
func writeAtomic(path string, data []byte, mode fs.FileMode, like fs.FileInfo) error {
	return atomicfile.Write(path, data, func(f *os.File) error {
		if err := f.Chmod(mode); err != nil || like == nil {
			return err
		}
		return atomicfile.ChownLike(f, like)
	})
}

// Refusals is every profile configure-profile refused, with the reason.
// Nothing is written when there is one.
type Refusals []string

func (r Refusals) Error() string { return strings.Join(r, "\n") }

// Unwrap makes errors.Is(err, ErrRefused) true.
func (r Refusals) Unwrap() error { return ErrRefused }

// ProfileOptions configures ConfigureProfiles.
type ProfileOptions struct {
	// Config is the loaded stsd config: its profiles and credentials file.
	Config *config.Config
	// Profiles to configure; All selects every profile of Config.
	Profiles []string
	All      bool
	// AWSConfig is the AWS config file; "" = $AWS_CONFIG_FILE, else
	// ~/.aws/config.
	AWSConfig string
	// CredentialsFile is the shared credentials file checked for keys that
	// would win over credential_process; "" = the config's credentials_file,
	// else $AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials.
	CredentialsFile string
	// Binary is the stsd-credential-process to name; "" = the one beside
	// this program.
	Binary string
	DryRun bool
	Stdout io.Writer // the diff (dry run) or what was done; nil = discard
}

// CredentialProcessCommand is the credential_process value for profile:
// binary (absolute) and `--profile profile`. botocore splits it with
// shlex.split, without a shell; the Go and JS SDKs hand it to a shell. So
// the path is double-quoted when it needs quoting at all, and paths with
// characters the two would read differently are refused.
func CredentialProcessCommand(binary, profile string) (string, error) {
	if !validProfileName(profile) {
		return "", fmt.Errorf("profile name %q: configure-profile writes names of letters, digits and _ . + = , @ - only; rename the profile", profile)
	}
	if !filepath.IsAbs(binary) {
		return "", fmt.Errorf("%s path %q is not absolute", CredentialProcessName, binary)
	}
	for _, r := range binary {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(quoteForbidden, r) {
			return "", fmt.Errorf("%s path %q contains %q, which botocore (no shell) and the Go and JS SDKs (a shell) would read differently: install it elsewhere (make install PREFIX=…)", CredentialProcessName, binary, r)
		}
	}
	word := binary
	if strings.Trim(binary, safeChars) != "" {
		word = `"` + binary + `"`
	}
	return word + " --profile " + profile, nil
}

// safeChars never need quoting, by a shell or by shlex.
const safeChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./+,:=@-" + pathSeparators

func validProfileName(p string) bool {
	return p != "" && strings.Trim(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+=,@-") == ""
}

// ConfigureProfiles writes credential_process for each chosen profile into
// the AWS config file, keeping every other byte. It checks every profile
// first and writes nothing when one is refused (Refusals). The previous
// file is kept as <file>.stsd-backup; the write is atomic and keeps the
// file's mode (and owner, when run as root).
func ConfigureProfiles(o ProfileOptions) error {
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	t, err := resolveTargets(o)
	if err != nil {
		return err
	}
	values, err := t.commands(o.Config)
	if err != nil {
		return err
	}
	if err := checkRootPath(t.awsPath); err != nil {
		return err
	}
	f, err := readAWSConfig(t.awsPath)
	if err != nil {
		return err
	}
	text, changes := setCommands(string(f.old), t.names, values)
	switch {
	case len(changes) == 0:
		fmt.Fprintf(o.Stdout, "%s: already set for %s; nothing to do\n", f.path, strings.Join(t.names, ", "))
		return nil
	case o.DryRun:
		f.printDiff(o.Stdout, changes)
		return nil
	}
	if err := f.replace(text); err != nil {
		return err
	}
	f.report(o.Stdout, changes)
	return nil
}

// profileTargets is what one ConfigureProfiles run works on.
type profileTargets struct {
	names     []string // the profiles to configure
	credsPath string   // the shared credentials file
	awsPath   string   // the AWS config file, as given
	binary    string   // the stsd-credential-process to name
}

// resolveTargets applies o's defaults: the profiles, the two files and the
// binary.
func resolveTargets(o ProfileOptions) (profileTargets, error) {
	cfg := o.Config
	if cfg == nil {
		return profileTargets{}, errors.New("no stsd config")
	}
	t := profileTargets{names: o.Profiles, binary: o.Binary}
	if o.All {
		t.names = cfg.ProfileNames()
		if len(t.names) == 0 {
			return profileTargets{}, Refusals{fmt.Sprintf("%s has no profiles", cfg.Path)}
		}
	}
	if len(t.names) == 0 {
		return profileTargets{}, errors.New("no profile given")
	}
	files := cfg.SourceFiles(nil) // config, credentials, AWS config
	t.credsPath, t.awsPath = files[1], files[2]
	if o.CredentialsFile != "" {
		t.credsPath = o.CredentialsFile
	}
	if o.AWSConfig != "" {
		t.awsPath = o.AWSConfig
	}
	if t.binary == "" {
		var err error
		if t.binary, err = credentialProcessBinary(); err != nil {
			return profileTargets{}, err
		}
	}
	return t, nil
}

// commands checks every profile and returns the credential_process value
// of each; when any is refused, it returns Refusals naming them all.
func (t profileTargets) commands(cfg *config.Config) (map[string]string, error) {
	creds, err := os.ReadFile(t.credsPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read the shared credentials file: %w", err)
	}
	credLines := parseINI(string(creds))
	var refused Refusals
	values := map[string]string{}
	for _, n := range t.names {
		v, err := t.command(cfg, credLines, n)
		if err != nil {
			refused = append(refused, fmt.Sprintf("%s: %v", n, err))
			continue
		}
		values[n] = v
	}
	if len(refused) > 0 {
		return nil, refused
	}
	return values, nil
}

// command is profile n's credential_process value, or why n is refused:
// it is not in cfg, it is its own source_profile, or credLines (the shared
// credentials file) has keys for it, which the AWS CLI and SDKs would use
// first.
func (t profileTargets) command(cfg *config.Config, credLines []iniLine, n string) (string, error) {
	p, ok := cfg.Profiles[n]
	if !ok {
		return "", fmt.Errorf("no profile %q in %s: add it there first (stsd check)", n, cfg.Path)
	}
	if p.SourceProfile == n {
		return "", fmt.Errorf("profile %q is its own source_profile: credential_process in [profile %s] would make stsd read its long-term key through itself; move the key to a profile of its own (e.g. %s-long-term) and set source_profile to it", n, n, n)
	}
	keys := sectionKeys(credLines, func(s string) bool { return pyStrip(s) == n })
	if keys["aws_access_key_id"] || keys["aws_secret_access_key"] || keys["aws_session_token"] {
		return "", fmt.Errorf("%s has keys under [%s], and the AWS CLI and SDKs use them before credential_process: move them to a profile of their own (e.g. [%s-long-term], then source_profile = \"%s-long-term\") and run this again", t.credsPath, n, n, n)
	}
	return CredentialProcessCommand(t.binary, n)
}

// profileChange is what setting credential_process changed for one
// profile.
type profileChange struct {
	profile string
	value   string // the credential_process written
	edits   []edit
}

// setCommands sets credential_process to values[n] for each profile n of
// names, in order, and returns the new text and the profiles it changed.
func setCommands(text string, names []string, values map[string]string) (string, []profileChange) {
	var changes []profileChange
	for _, n := range names {
		next, edits := setProfileKey(text, n, "credential_process", values[n])
		if next != text {
			changes = append(changes, profileChange{profile: n, value: values[n], edits: edits})
		}
		text = next
	}
	return text, changes
}

// awsConfigFile is the AWS config file as ConfigureProfiles found it.
type awsConfigFile struct {
	path   string // as given, for messages
	real   string // path with its symlinks resolved, so edits write through a symlinked config (dotfiles)
	old    []byte // its content
	exists bool
}

// readAWSConfig reads the AWS config file at path; a missing one is empty.
func readAWSConfig(path string) (awsConfigFile, error) {
	f := awsConfigFile{path: path, real: realPath(path)}
	old, err := os.ReadFile(f.real)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return awsConfigFile{}, fmt.Errorf("read the AWS config file: %w", err)
	}
	f.old, f.exists = old, err == nil
	return f, nil
}

// printDiff writes the dry run's diff of changes to w.
func (f awsConfigFile) printDiff(w io.Writer, changes []profileChange) {
	fmt.Fprintf(w, "# stsd configure-profile: dry run, nothing is changed\n--- %s\n+++ %s\n", f.path, f.path)
	for _, c := range changes {
		for _, e := range c.edits {
			fmt.Fprintf(w, "@@ line %d, profile %s @@\n", e.line, c.profile)
			for _, l := range e.old {
				fmt.Fprintf(w, "-%s\n", l)
			}
			for _, l := range e.new {
				fmt.Fprintf(w, "+%s\n", l)
			}
		}
	}
}

// replace backs up an existing file as <file>.stsd-backup, then writes
// text atomically, keeping the file's mode and owner. A new file is 0600;
// its missing directories are created private to the user.
func (f awsConfigFile) replace(text string) error {
	mode := fs.FileMode(0o600)
	var owner fs.FileInfo
	if f.exists {
		fi, err := os.Stat(f.real)
		if err != nil {
			return fmt.Errorf("stat the AWS config file: %w", err)
		}
		mode, owner = fi.Mode().Perm(), fi
		if err := writeAtomic(f.real+".stsd-backup", f.old, mode, owner); err != nil {
			return fmt.Errorf("back up the AWS config file: %w", err)
		}
	} else if err := mkdirPrivate(filepath.Dir(f.real)); err != nil {
		return fmt.Errorf("create the AWS config directory: %w", err)
	}
	if err := writeAtomic(f.real, []byte(text), mode, owner); err != nil {
		return fmt.Errorf("write the AWS config file: %w", err)
	}
	return nil
}

// report tells w what replace wrote.
func (f awsConfigFile) report(w io.Writer, changes []profileChange) {
	for _, c := range changes {
		fmt.Fprintf(w, "%s: profile %s: credential_process = %s\n", f.path, c.profile, c.value)
	}
	if f.exists {
		fmt.Fprintf(w, "previous file kept as %s.stsd-backup\n", f.real)
	}
}

// credentialProcessBinary finds stsd-credential-process beside this
// program, preferring the same file's $PATH name (a stable path when the
// binary itself lives in a versioned directory).
func credentialProcessBinary() (string, error) {
	exe, err := executable()
	if err != nil {
		return "", err
	}
	beside := filepath.Join(filepath.Dir(exe), CredentialProcessName)
	fi, err := os.Stat(beside)
	if err != nil {
		return "", fmt.Errorf("%s is not beside stsd (%s): install both together (make install), or pass --binary", CredentialProcessName, beside)
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(dir, CredentialProcessName)
		if !filepath.IsAbs(p) {
			continue
		}
		if pfi, err := os.Stat(p); err == nil && os.SameFile(fi, pfi) {
			return p, nil
		}
	}
	return beside, nil
}
