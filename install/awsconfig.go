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
	cfg := o.Config
	if cfg == nil {
		return errors.New("no stsd config")
	}
	names := o.Profiles
	if o.All {
		names = cfg.ProfileNames()
		if len(names) == 0 {
			return Refusals{fmt.Sprintf("%s has no profiles", cfg.Path)}
		}
	}
	if len(names) == 0 {
		return errors.New("no profile given")
	}
	files := cfg.SourceFiles(nil) // config, credentials, AWS config
	credsPath, awsPath := files[1], files[2]
	if o.CredentialsFile != "" {
		credsPath = o.CredentialsFile
	}
	if o.AWSConfig != "" {
		awsPath = o.AWSConfig
	}
	bin := o.Binary
	if bin == "" {
		var err error
		if bin, err = credentialProcessBinary(); err != nil {
			return err
		}
	}

	creds, err := os.ReadFile(credsPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read the shared credentials file: %w", err)
	}
	credLines := parseINI(string(creds))
	var refused Refusals
	values := map[string]string{}
	for _, n := range names {
		p, ok := cfg.Profiles[n]
		if !ok {
			refused = append(refused, fmt.Sprintf("%s: no profile %q in %s: add it there first (stsd check)", n, n, cfg.Path))
			continue
		}
		if p.SourceProfile == n {
			refused = append(refused, fmt.Sprintf("%s: profile %q is its own source_profile: credential_process in [profile %s] would make stsd read its long-term key through itself; move the key to a profile of its own (e.g. %s-long-term) and set source_profile to it", n, n, n, n))
			continue
		}
		keys := sectionKeys(credLines, func(s string) bool { return pyStrip(s) == n })
		if keys["aws_access_key_id"] || keys["aws_secret_access_key"] || keys["aws_session_token"] {
			refused = append(refused, fmt.Sprintf("%s: %s has keys under [%s], and the AWS CLI and SDKs use them before credential_process: move them to a profile of their own (e.g. [%s-long-term], then source_profile = \"%s-long-term\") and run this again", n, credsPath, n, n, n))
			continue
		}
		v, err := CredentialProcessCommand(bin, n)
		if err != nil {
			refused = append(refused, fmt.Sprintf("%s: %v", n, err))
			continue
		}
		values[n] = v
	}
	if len(refused) > 0 {
		return refused
	}

	if err := checkRootPath(awsPath); err != nil {
		return err
	}
	real := awsPath
	if r, err := filepath.EvalSymlinks(awsPath); err == nil {
		real = r // write through a symlinked config (dotfiles)
	}
	old, err := os.ReadFile(real)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read the AWS config file: %w", err)
	}
	text := string(old)
	type change struct {
		profile string
		edits   []edit
	}
	var changes []change
	for _, n := range names {
		next, edits := setProfileKey(text, n, "credential_process", values[n])
		if next != text {
			changes = append(changes, change{n, edits})
		}
		text = next
	}
	if len(changes) == 0 {
		fmt.Fprintf(o.Stdout, "%s: already set for %s; nothing to do\n", awsPath, strings.Join(names, ", "))
		return nil
	}
	if o.DryRun {
		fmt.Fprintf(o.Stdout, "# stsd configure-profile: dry run, nothing is changed\n--- %s\n+++ %s\n", awsPath, awsPath)
		for _, c := range changes {
			for _, e := range c.edits {
				fmt.Fprintf(o.Stdout, "@@ line %d, profile %s @@\n", e.line, c.profile)
				for _, l := range e.old {
					fmt.Fprintf(o.Stdout, "-%s\n", l)
				}
				for _, l := range e.new {
					fmt.Fprintf(o.Stdout, "+%s\n", l)
				}
			}
		}
		return nil
	}
	mode := fs.FileMode(0o600)
	var owner fs.FileInfo
	if exists {
		fi, err := os.Stat(real)
		if err != nil {
			return fmt.Errorf("stat the AWS config file: %w", err)
		}
		mode, owner = fi.Mode().Perm(), fi
		if err := writeAtomic(real+".stsd-backup", old, mode, owner); err != nil {
			return fmt.Errorf("back up the AWS config file: %w", err)
		}
	} else if err := mkdirPrivate(filepath.Dir(real)); err != nil {
		return fmt.Errorf("create the AWS config directory: %w", err)
	}
	if err := writeAtomic(real, []byte(text), mode, owner); err != nil {
		return fmt.Errorf("write the AWS config file: %w", err)
	}
	for _, c := range changes {
		fmt.Fprintf(o.Stdout, "%s: profile %s: credential_process = %s\n", awsPath, c.profile, values[c.profile])
	}
	if exists {
		fmt.Fprintf(o.Stdout, "previous file kept as %s.stsd-backup\n", real)
	}
	return nil
}

// credentialProcessBinary finds stsd-credential-process beside this
// program, preferring the same file's $PATH name (a stable path when the
// binary itself lives in a versioned directory).
func credentialProcessBinary() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("path of the stsd binary: %w", err)
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
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
