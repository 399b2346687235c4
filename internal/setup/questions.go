package setup

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/install"
	"github.com/stsd/stsd/internal/redact"
	"github.com/stsd/stsd/internal/stsclient"
)

// checkKey returns a check that tries the answer as key of the profile
// being made: the config package's own rules decide.
func (o *Options) checkKey(p *plan, key string, set func(*answers, string)) func(string) (string, error) {
	return func(v string) (string, error) {
		trial := p.answers
		set(&trial, v)
		if trial.profile == "" {
			trial.profile = "x"
		}
		for _, e := range parseErrors(o.ConfigPath, []byte(section(trial))) {
			if strings.HasSuffix(e.Key, "."+key) {
				return "", errors.New(e.Msg)
			}
		}
		return v, nil
	}
}

func (o *Options) askSource(a *asker, p *plan) error {
	fmt.Fprintf(a.out, "Long-term keys in %s:\n", p.credsFile)
	var names []string
	for _, k := range p.credentials {
		fmt.Fprintf(a.out, "  %-20s %s\n", k.Profile, redact.KeyID(k.AccessKeyID))
		names = append(names, k.Profile)
	}
	v, err := a.ask(question{prompt: "Which key should stsd use", def: names[0], check: func(s string) (string, error) {
		if !slices.Contains(names, s) {
			return "", fmt.Errorf("pick one of: %s", strings.Join(names, ", "))
		}
		return s, nil
	}})
	if err != nil {
		return err
	}
	i := slices.Index(names, v)
	p.source, p.keyID = v, p.credentials[i].AccessKeyID
	return nil
}

// askCustody offers to move the key into a key store, when there is one
// and the existing config does not name the key already.
func (o *Options) askCustody(a *asker, p *plan) error {
	if o.Custody == nil {
		fmt.Fprintf(a.out, "The key stays in %s (this stsd has no key store to move it to).\n", p.credsFile)
		return nil
	}
	if p.oldConfig != nil {
		if names, err := config.ReadNames(o.ConfigPath); err == nil && slices.Contains(names.Keys, p.source) {
			fmt.Fprintf(a.out, "%s has [keys.%s] already: its store stays as it is (`stsd key import %s` moves a key into the keyring).\n", o.ConfigPath, p.source, p.source)
			return nil
		}
	}
	ok, err := a.confirm(fmt.Sprintf("Move the key of [%s] into %s", p.source, o.Custody.Store()), true)
	p.keyring = ok
	return err
}

func (o *Options) askProfile(a *asker, p *plan) error {
	def := strings.TrimSuffix(p.source, "-long-term")
	if def == p.source {
		def = p.source + "-sts"
	}
	existing, _ := config.ReadNames(o.ConfigPath)
	taken, _ := install.SharedSections(p.credsFile)
	v, err := a.ask(question{prompt: "Name of the new stsd (and AWS) profile", def: def, check: func(s string) (string, error) {
		switch {
		case slices.Contains(existing.Profiles, s):
			return "", fmt.Errorf("%s already has a profile %s: pick another name", o.ConfigPath, s)
		case slices.Contains(taken, s):
			return "", fmt.Errorf("%s has a section [%s], which the AWS tools would use before stsd: pick another name", p.credsFile, s)
		}
		// The name is all that varies in this trial: any problem is its.
		if errs := parseErrors(o.ConfigPath, []byte(section(answers{profile: s, source: p.source, region: "us-east-1", duration: "1h"}))); len(errs) > 0 {
			return "", errors.New(errs[0].Msg)
		}
		return s, nil
	}})
	p.profile = v
	return err
}

func (o *Options) askRegion(a *asker, p *plan) error {
	def := os.Getenv("AWS_REGION")
	for _, d := range []string{os.Getenv("AWS_DEFAULT_REGION"), install.ConfigValue(p.awsConfig, p.source, "region"), install.ConfigValue(p.awsConfig, "default", "region"), "us-east-1"} {
		if def == "" {
			def = d
		}
	}
	set := func(x *answers, v string) { x.region = v }
	v, err := a.ask(question{prompt: "STS region", def: def, check: o.checkKey(p, "region", set)})
	p.region = v
	return err
}

func (o *Options) askDuration(a *asker, p *plan) error {
	set := func(x *answers, v string) { x.duration = v }
	v, err := a.ask(question{prompt: "How long each set of credentials lasts (15m..36h)", def: "12h", check: o.checkKey(p, "duration", set)})
	p.duration = v
	return err
}

func (o *Options) askMFA(a *asker, p *plan) error {
	def := "none"
	devices, err := o.MFADevices(a.ctx, stsclient.SourceOptions{Profile: p.source, CredentialsFile: p.credsFile})
	switch {
	case a.ctx.Err() != nil:
		return ErrInterrupted
	case err != nil:
		fmt.Fprintf(a.out, "Could not list the user's MFA devices (%v): type the device's ARN, or none.\n", err)
	case len(devices) > 0:
		fmt.Fprintf(a.out, "MFA devices of the user: %s\n", strings.Join(devices, ", "))
		def = devices[0]
	default:
		fmt.Fprintln(a.out, "The user has no MFA device (none: STS is called without codes).")
	}
	set := func(x *answers, v string) { x.mfaSerial = v }
	check := o.checkKey(p, "mfa_serial", set)
	v, err := a.ask(question{prompt: "MFA device (an ARN, or none)", def: def, check: func(s string) (string, error) {
		if strings.EqualFold(s, "none") {
			return "", nil
		}
		return check(s)
	}})
	p.mfaSerial = v
	return err
}

// askYubiKey offers mfa_process for a YubiKey when ykman is installed.
func (o *Options) askYubiKey(a *asker, p *plan) error {
	if p.mfaSerial == "" {
		return nil
	}
	ykman, err := exec.LookPath("ykman")
	if err != nil {
		return nil
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(a.ctx, ykman, "oath", "accounts", "list")
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		if a.ctx.Err() != nil {
			return ErrInterrupted
		}
		fmt.Fprintf(a.out, "ykman is installed, but `ykman oath accounts list` failed (%v): codes will be asked for.\n", err)
		return nil
	}
	var accounts []string
	for l := range strings.Lines(out.String()) {
		if l = strings.TrimSpace(l); l != "" {
			accounts = append(accounts, l)
		}
	}
	if len(accounts) == 0 {
		return nil
	}
	def := accounts[0]
	for _, acct := range accounts {
		if l := strings.ToLower(acct); strings.Contains(l, "aws") || strings.Contains(l, "amazon") {
			def = acct
			break
		}
	}
	fmt.Fprintf(a.out, "YubiKey OATH accounts: %s\n", strings.Join(accounts, ", "))
	v, err := a.ask(question{prompt: "YubiKey account for MFA codes (none: type codes yourself)", def: def, check: func(s string) (string, error) {
		if strings.EqualFold(s, "none") || slices.Contains(accounts, s) {
			return s, nil
		}
		return "", fmt.Errorf("pick one of: %s, or none", strings.Join(accounts, ", "))
	}})
	if err == nil && !strings.EqualFold(v, "none") {
		p.mfaProcess = "ykman oath accounts code -s " + shellQuote(v)
	}
	return err
}

func (o *Options) askService(a *asker, p *plan) error {
	if !o.ServiceManager() {
		p.noService = true
		return nil
	}
	ok, err := a.confirm("Install and start the stsd user service", true)
	p.service = ok
	return err
}

// compose sets p.newConfig from the answers: a new file, or the existing
// one with the profile appended (its bytes kept).
func (p *plan) compose() {
	if p.oldConfig == nil {
		p.newConfig = []byte(header(p.answers) + section(p.answers))
		return
	}
	old := string(p.oldConfig)
	if old != "" && !strings.HasSuffix(old, "\n") {
		old += "\n"
	}
	p.newConfig = []byte(old + section(p.answers))
}

// errKept is a declined change to an existing config.
var errKept = errors.New("the config was kept as it was: nothing was changed")

// askConfig composes the config file and, when one exists, shows the
// change and asks before it may be made.
func (o *Options) askConfig(a *asker, p *plan) error {
	p.compose()
	if errs := parseErrors(o.ConfigPath, p.newConfig); len(errs) > 0 {
		return fmt.Errorf("the config would not load: %w", errs)
	}
	if p.oldConfig == nil {
		return nil
	}
	fmt.Fprintf(a.out, "%s exists; the change:\n", o.ConfigPath)
	writeDiff(a.out, string(p.oldConfig), string(p.newConfig))
	ok, err := a.confirm("Change "+o.ConfigPath+" like this", false)
	if err == nil && !ok {
		return errKept
	}
	return err
}
