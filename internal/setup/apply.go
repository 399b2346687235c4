package setup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/install"
	"github.com/stsd/stsd/internal/atomicfile"
	"github.com/stsd/stsd/internal/redact"
)

// apply carries the plan out, in order, stopping at the first failure.
func (o *Options) apply(ctx context.Context, p *plan) error {
	fmt.Fprintln(o.Out)
	if p.keyring {
		o.moveKey(ctx, p)
	}
	if err := writeConfig(o.ConfigPath, p.newConfig); err != nil {
		if p.keyring {
			return fmt.Errorf("write %s: %w; the key of [%s] is in %s now: add [keys.%s] with store = \"keyring\" to the config", o.ConfigPath, err, p.source, o.Custody.Store(), p.source)
		}
		return fmt.Errorf("write %s: %w", o.ConfigPath, err)
	}
	fmt.Fprintf(o.Out, "Wrote %s.\n", o.ConfigPath)
	cfg, err := config.Load(o.ConfigPath, config.Options{})
	if err != nil {
		return fmt.Errorf("check %s: %w", o.ConfigPath, err)
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(o.Out, "warning: %s\n", w.Error())
	}
	fmt.Fprintf(o.Out, "Checked it: ok, %d profile(s).\n", len(cfg.Profiles))
	err = install.ConfigureProfiles(install.ProfileOptions{
		Config:   cfg,
		Profiles: []string{p.profile},
		Binary:   credentialProcessBinary(o.Executable),
		Stdout:   o.Out,
	})
	if err != nil {
		return fmt.Errorf("configure-profile %s: %w", p.profile, err)
	}
	o.startService(ctx, p)
	return o.Verify(ctx, p.profile, p.region)
}

// moveKey moves the key into the key store as the new config says. When
// that fails the key stays in the shared credentials file and the config
// is written without its [keys] table: init goes on, and says how to move
// the key later.
func (o *Options) moveKey(ctx context.Context, p *plan) {
	cfg, err := config.Parse(o.ConfigPath, p.newConfig, config.Options{})
	if err == nil {
		err = o.Custody.Move(ctx, cfg, p.source)
	}
	if err == nil {
		fmt.Fprintf(o.Out, "Moved the key of [%s] into %s.\n", p.source, o.Custody.Store())
		return
	}
	fmt.Fprintf(o.Out, "The key of [%s] stays in %s: moving it into %s failed (%v). Fix that, add [keys.%s] with store = \"keyring\" to the config, and run `stsd key import %s`.\n", p.source, p.credsFile, o.Custody.Store(), err, p.source, p.source)
	p.keyring = false
	p.compose()
}

// writeConfig writes the config atomically: a new file 0600 in a 0700
// directory, an existing one keeping its mode and owner.
func writeConfig(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	old, err := os.Stat(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return atomicfile.Write(path, data, func(f *os.File) error {
		if old == nil {
			return f.Chmod(0o600)
		}
		if err := f.Chmod(old.Mode().Perm()); err != nil {
			return err
		}
		return atomicfile.ChownLike(f, old)
	})
}

// startService installs and starts the user service, or says how to run
// the daemon where no service manager runs. Either way init goes on:
// credential_process works without a daemon.
func (o *Options) startService(ctx context.Context, p *plan) {
	how := fmt.Sprintf("run `%s run` in the background (nohup, tmux, or your supervisor); until it runs, stsd-credential-process calls STS itself and caches what it gets", o.Executable)
	switch {
	case p.noService:
		fmt.Fprintf(o.Out, "No service manager runs here (a container or CI?): %s.\n", how)
		return
	case !p.service:
		fmt.Fprintf(o.Out, "No service installed: %s.\n", how)
		return
	}
	err := o.Install(ctx, install.Options{ConfigPath: o.ConfigPath, Executable: o.Executable, Stdout: o.Out, Stderr: o.Out})
	switch {
	case errors.Is(err, install.ErrNoInit):
		fmt.Fprintf(o.Out, "No service manager runs here: %s.\n", how)
	case err != nil:
		fmt.Fprintf(o.Out, "Installing the service failed (%v): fix it and run `stsd install`; meanwhile %s.\n", err, how)
	}
}

// verify asks AWS who the new profile is, with the AWS CLI when it is
// installed, else through credential_process itself.
func (o *Options) verify(ctx context.Context, profile, region string) error {
	if aws, err := exec.LookPath("aws"); err == nil {
		argv := []string{aws, "sts", "get-caller-identity", "--profile", profile, "--region", region}
		fmt.Fprintf(o.Out, "\n$ aws sts get-caller-identity --profile %s --region %s\n", profile, region)
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, o.Out, o.Out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("aws sts get-caller-identity --profile %s failed (%v): see above, and `stsd status`", profile, err)
		}
		fmt.Fprintf(o.Out, "\nstsd is set up: profile %s gets short-lived credentials.\n", profile)
		return nil
	}
	// No AWS CLI: ask the small binary directly. Its stdout holds secrets:
	// only the key id (redacted) and the expiry are shown.
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, credentialProcessBinary(o.Executable), "--profile", profile)
	cmd.Stdout, cmd.Stderr = &out, o.Out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("stsd-credential-process --profile %s failed (%v): see above, and `stsd status`", profile, err)
	}
	var c struct{ AccessKeyId, Expiration string }
	if err := json.Unmarshal(out.Bytes(), &c); err != nil {
		return fmt.Errorf("stsd-credential-process --profile %s printed no credentials", profile)
	}
	fmt.Fprintf(o.Out, "\nThe AWS CLI is not installed; credential_process works: %s until %s.\nstsd is set up: profile %s gets short-lived credentials.\n", redact.KeyID(c.AccessKeyId), c.Expiration, profile)
	return nil
}
