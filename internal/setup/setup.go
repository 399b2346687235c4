// Package setup is `stsd init`: a guided first run that asks every
// question first and then applies the whole plan, so stopping at any
// question changes nothing.
package setup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/install"
	"github.com/stsd/stsd/internal/paths"
	"github.com/stsd/stsd/internal/stsclient"
)

// Custody moves a long-term key out of the shared credentials file into
// a key store (the keyring); nil Options.Custody leaves keys where they
// are.
type Custody interface {
	// Store names where Move puts keys, for the question ("the keyring").
	Store() string
	// Move puts profile's key into the store, as cfg (the config init is
	// about to write, naming the key's store) says, and takes it out of
	// the shared credentials file; source_profile keeps naming it. When
	// it fails the file still holds the key.
	Move(ctx context.Context, cfg *config.Config, profile string) error
}

// Options configure Run. Zero values mean defaults.
type Options struct {
	In  io.Reader // the terminal's input
	Out io.Writer // the terminal: questions, the plan, progress
	Yes bool      // take every default without asking

	// ConfigPath is the stsd config to write (absolute).
	ConfigPath string
	// Executable is the stsd binary the service runs and beside which
	// stsd-credential-process lives; "" = this program.
	Executable string
	// Custody moves keys into a key store; nil = none (keys stay put).
	Custody Custody

	// Seams; nil = the real thing.
	MFADevices func(context.Context, stsclient.SourceOptions) ([]string, error) // iam:ListMFADevices
	// Install installs and starts the user service (install.Install).
	Install func(context.Context, install.Options) error
	// ServiceManager reports whether a service manager runs here.
	ServiceManager func() bool
	// Verify asks AWS who profile is (the AWS CLI, else credential_process).
	Verify func(ctx context.Context, profile, region string) error
}

func (o *Options) defaults() error {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.MFADevices == nil {
		o.MFADevices = stsclient.MFADevices
	}
	if o.Install == nil {
		o.Install = install.Install
	}
	if o.ServiceManager == nil {
		o.ServiceManager = func() bool { return install.Available(install.DefaultInit()) }
	}
	if o.Verify == nil {
		o.Verify = o.verify
	}
	if o.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("path of the stsd binary: %w", err)
		}
		o.Executable = exe
	}
	if o.ConfigPath == "" {
		return errors.New("no config path")
	}
	return nil
}

// plan is everything init will do, settled before anything is done.
type plan struct {
	answers
	oldConfig   []byte // the config file as it was (nil: none)
	newConfig   []byte
	service     bool // install and start the user service
	noService   bool // no service manager runs here
	credsFile   string
	awsConfig   string
	credentials []install.SharedKey
}

// Run asks, shows the plan, and applies it once confirmed.
func Run(ctx context.Context, o Options) error {
	if err := o.defaults(); err != nil {
		return err
	}
	a := &asker{ctx: ctx, out: o.Out, yes: o.Yes, in: o.In}
	p, err := o.ask(a)
	if err != nil {
		return err
	}
	o.show(p)
	ok, err := a.confirm("Apply this plan?", true)
	if err != nil {
		return err
	}
	if !ok {
		fmt.Fprintln(o.Out, "Nothing was changed.")
		return nil
	}
	return o.apply(ctx, p)
}

// ask settles the plan: every question, in order, nothing changed.
func (o *Options) ask(a *asker) (*plan, error) {
	p := &plan{credsFile: paths.AWSCredentialsFile(""), awsConfig: paths.AWSConfigFile()}
	if env := os.Getenv("AWS_SHARED_CREDENTIALS_FILE"); env != "" {
		p.credentialsFile = p.credsFile
	}
	keys, err := install.LongTermKeys(p.credsFile)
	if err != nil {
		return nil, fmt.Errorf("read the shared credentials file: %w", err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s holds no long-term key (aws_access_key_id AKIA… with a secret): add the IAM user's key first (`aws configure --profile NAME-long-term`), then run stsd init again", p.credsFile)
	}
	p.credentials = keys
	if p.oldConfig, err = os.ReadFile(o.ConfigPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", o.ConfigPath, err)
	}
	steps := []func(*asker, *plan) error{o.askSource, o.askCustody, o.askProfile, o.askRegion, o.askDuration, o.askMFA, o.askYubiKey, o.askService, o.askConfig}
	for _, step := range steps {
		if err := step(a, p); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// show prints the plan.
func (o *Options) show(p *plan) {
	w := o.Out
	fmt.Fprintln(w, "\nThe plan:")
	if p.keyring {
		fmt.Fprintf(w, "  - move the key of [%s] into %s\n", p.source, o.Custody.Store())
	}
	verb := "write"
	if p.oldConfig != nil {
		verb = "update"
	}
	fmt.Fprintf(w, "  - %s %s with profile %s, and check it\n", verb, o.ConfigPath, p.profile)
	fmt.Fprintf(w, "  - point AWS profile %s at stsd in %s (credential_process)\n", p.profile, p.awsConfig)
	switch {
	case p.service:
		fmt.Fprintln(w, "  - install and start the stsd user service")
	case p.noService:
		fmt.Fprintln(w, "  - no service manager runs here: you start `stsd run` yourself (shown at the end)")
	default:
		fmt.Fprintln(w, "  - no service: you start `stsd run` yourself")
	}
	fmt.Fprintf(w, "  - check it works: aws sts get-caller-identity --profile %s\n", p.profile)
}

// credentialProcessBinary is the small binary beside exe.
func credentialProcessBinary(exe string) string {
	return filepath.Join(filepath.Dir(exe), install.CredentialProcessName)
}

// shellQuote quotes s for sh when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// parseErrors is the config's problems as one error per line, or nil.
func parseErrors(path string, data []byte) config.Errors {
	_, err := config.Parse(path, data, config.Options{})
	var errs config.Errors
	errors.As(err, &errs)
	return errs
}
