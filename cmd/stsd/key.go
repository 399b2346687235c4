package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/clidoc"
	"github.com/stsd/stsd/internal/mfa"
	"github.com/stsd/stsd/internal/stsclient"
	"github.com/stsd/stsd/keys"
)

// keyTable is `stsd key`'s subcommands.
var keyTable = []command{
	{name: "add", args: "NAME", summary: "store key NAME in the keyring: id and secret from the terminal or stdin, never argv", run: keyCommand("add", keyAdd)},
	{name: "import", args: "NAME", summary: "move key NAME from the shared credentials file into the keyring", run: keyCommand("import", keyImport), operands: clidoc.Key},
	{name: "list", summary: "list the keys: id (AKIA…WXYZ), store, age, last and next rotation", run: keyList},
	{name: "remove", args: "NAME", summary: "delete key NAME from its store", run: keyCommand("remove", keyRemove), operands: clidoc.Key},
	{name: "rotate", args: "NAME", summary: "rotate key NAME now: create, verify, store, deactivate, delete after the grace", run: keyCommand("rotate", keyRotate), operands: clidoc.Key},
}

func cmdKey(ctx context.Context, e *env, args []string) int {
	return dispatch(ctx, e, "key", keyTable, args)
}

// keyCommand runs `stsd key SUB NAME` with the config's key stores.
func keyCommand(sub string, do func(context.Context, *env, *keys.Stores, string) error) func(context.Context, *env, []string) int {
	return func(ctx context.Context, e *env, args []string) int {
		name := "stsd key " + sub
		pos, ok := e.parse(e.flags("key "+sub), args)
		if !ok {
			return exitUsage
		}
		if len(pos) != 1 {
			fmt.Fprintf(e.stderr, "%s: name one key (the source_profile name): stsd key %s NAME\n", name, sub)
			return exitUsage
		}
		cfg, ok := e.config()
		if !ok {
			return exitUsage
		}
		if err := do(ctx, e, e.keyStores(cfg), pos[0]); err != nil {
			fmt.Fprintf(e.stderr, "%s: %v\n", name, err)
			return exitFailure
		}
		return exitOK
	}
}

// keyStores are cfg's key stores, unlocked with this run's passphrase.
func (e *env) keyStores(cfg *config.Config) *keys.Stores {
	return keys.New(cfg, keys.Options{Passphrase: e.passphrase(cfg)})
}

// passphrase is the file keyring's passphrase source: the systemd
// credential, what STSD_KEYRING_PASSWORD held when stsd started, then
// passphrase_command, then the terminal.
func (e *env) passphrase(cfg *config.Config) *keys.Passphrase {
	return &keys.Passphrase{Command: cfg.Keyring.PassphraseCommand}
}

func keyAdd(ctx context.Context, e *env, st *keys.Stores, name string) error {
	if err := st.Addable(name); err != nil {
		return err
	}
	k, err := keys.ReadKey(ctx, e.stdin, "")
	if err != nil {
		return err
	}
	arn, err := stsclient.NewCloud(stsclient.CloudOptions{}).Identity(ctx, k)
	if err != nil {
		return fmt.Errorf("key %s does not work (nothing stored): %w", k, err)
	}
	if err := st.Add(ctx, name, k); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "stored key %s (%s) as %q in the keyring\n", k, arn, name)
	if err := keys.CheckIdentity(arn); err != nil {
		fmt.Fprintf(e.stderr, "stsd key add: warning: it cannot be rotated: %v\n", err)
	}
	return nil
}

func keyImport(ctx context.Context, e *env, st *keys.Stores, name string) error {
	id, err := st.Import(ctx, name)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "moved key %s of [%s] into the keyring and removed [%s] from %s\n", keys.Key{ID: id}, name, name, st.CredentialsFile())
	return nil
}

func keyRemove(ctx context.Context, e *env, st *keys.Stores, name string) error {
	if err := st.Remove(ctx, name); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "removed key %q from the keyring (its IAM key still exists: delete it with aws iam delete-access-key if it is no longer needed)\n", name)
	return nil
}

func keyRotate(ctx context.Context, e *env, st *keys.Stores, name string) error {
	kc := st.Config().Key(name)
	o := keys.RotateOptions{Cloud: stsclient.NewCloud(stsclient.CloudOptions{})}
	switch {
	case kc.MFAProcess != "":
		o.MFACode = func(ctx context.Context) (string, error) { return mfa.RunProcess(ctx, kc.MFAProcess) }
	case kc.MFASerial != "":
		o.MFACode = func(ctx context.Context) (string, error) {
			return mfa.Ask(ctx, "tty", mfa.Options{Profile: "key " + name, Serial: kc.MFASerial})
		}
	}
	out, err := st.Rotate(ctx, name, o)
	if err != nil {
		return err
	}
	switch {
	case out.Step == keys.StepDeactivated:
		fmt.Fprintf(e.stdout, "rotated key %q: %s is stored and in use; the old key %s is inactive and is deleted after rotate_grace (%s), by the daemon or by `stsd key rotate %s` then\n", name, out.New, out.Old, out.DeleteAt.Local().Format(time.DateTime), name)
	case out.New != "" && out.New != "-":
		fmt.Fprintf(e.stdout, "rotated key %q: %s is in use; the old key %s is deleted\n", name, out.New, out.Old)
	default:
		fmt.Fprintf(e.stdout, "key %q: a rotation cut short was rolled back; %s stays in use\n", name, out.Old)
	}
	return nil
}

func keyList(ctx context.Context, e *env, args []string) int {
	fs := e.flags("key list")
	asJSON := fs.Bool("json", false, "print JSON")
	if !e.noArgs(fs, args) {
		return exitUsage
	}
	cfg, ok := e.config()
	if !ok {
		return exitUsage
	}
	infos := e.keyStores(cfg).List(ctx)
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(infos); err != nil {
			return exitFailure
		}
		return exitOK
	}
	if err := keys.WriteTable(e.stdout, infos, time.Now()); err != nil {
		return exitFailure
	}
	return exitOK
}
