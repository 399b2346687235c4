package setup

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/install"
	"github.com/stsd/stsd/internal/stsclient"
	"github.com/stsd/stsd/internal/testhome"
)

func TestMain(m *testing.M) { os.Exit(testhome.Main(m)) }

type fakeCustody struct {
	moved []string
	fail  error
}

func (f *fakeCustody) Store() string { return "the test store" }
func (f *fakeCustody) Move(_ context.Context, cfg *config.Config, p string) error {
	if cfg.Key(p).Store != config.StoreKeyring {
		return errors.New("the config does not put the key in the keyring")
	}
	if f.fail != nil {
		return f.fail
	}
	f.moved = append(f.moved, p)
	return nil
}

// world writes a credentials file with one long-term key under a fresh
// HOME and returns Options answering from input, with the service and
// AWS calls faked.
func world(t *testing.T, input string) (Options, *[]install.Options, *bytes.Buffer) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, ".aws/credentials"))
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(home, ".aws/config"))
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	os.MkdirAll(filepath.Join(home, ".aws"), 0o700)
	os.WriteFile(filepath.Join(home, ".aws/credentials"), []byte("[work-long-term]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = s3cr3t\n"), 0o600)
	var installs []install.Options
	var out bytes.Buffer
	return Options{
		In: strings.NewReader(input), Out: &out,
		ConfigPath: filepath.Join(home, ".config/stsd/config.toml"),
		Executable: filepath.Join(home, "bin/stsd"),
		MFADevices: func(context.Context, stsclient.SourceOptions) ([]string, error) {
			return nil, errors.New("ListMFADevices: AccessDenied")
		},
		ServiceManager: func() bool { return true },
		Install:        func(_ context.Context, o install.Options) error { installs = append(installs, o); return nil },
		Verify:         func(context.Context, string, string) error { return nil },
	}, &installs, &out
}

// TestRunAddsToExistingConfig: a bad answer is asked again with the
// config's own rule; an existing config gets the profile appended (its
// bytes kept) after the diff is accepted; the service is installed with
// that config; the key moves when a key store exists.
func TestRunAddsToExistingConfig(t *testing.T) {
	custody := &fakeCustody{}
	o, installs, out := world(t, "\ny\n\n\n1m\n2h\n\ny\ny\ny\n")
	o.Custody = custody
	old := "# mine\n[profiles.old]\nsource_profile = \"work-long-term\"" // no final newline
	os.MkdirAll(filepath.Dir(o.ConfigPath), 0o700)
	os.WriteFile(o.ConfigPath, []byte(old), 0o600)
	if err := Run(t.Context(), o); err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	got, _ := os.ReadFile(o.ConfigPath)
	if !strings.HasPrefix(string(got), old+"\n\n[profiles.work]\n") || !strings.Contains(string(got), `duration = "2h"`) || strings.Contains(string(got), "mfa_serial") {
		t.Errorf("config:\n%s", got)
	}
	for _, want := range []string{"+ [profiles.work]", "Could not list the user's MFA devices (ListMFADevices: AccessDenied)", "duration"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if len(*installs) != 1 || (*installs)[0].ConfigPath != o.ConfigPath || (*installs)[0].System {
		t.Errorf("installs = %+v", *installs)
	}
	if len(custody.moved) != 1 || custody.moved[0] != "work-long-term" {
		t.Errorf("moved = %v", custody.moved)
	}
	if !strings.Contains(string(got), "[keys.work-long-term]\n# The key lives in the OS keyring") || !strings.Contains(string(got), `store = "keyring"`) {
		t.Errorf("config lacks the key's [keys] table:\n%s", got)
	}
	aws, _ := os.ReadFile(os.Getenv("AWS_CONFIG_FILE"))
	if !strings.Contains(string(aws), "[profile work]\ncredential_process = ") {
		t.Errorf("AWS config:\n%s", aws)
	}
}

// TestRunKeyStaysWhenTheMoveFails: a key store that refuses the key (a
// locked keyring) leaves the key in the credentials file and the config
// without a [keys] table, init goes on and says how to move it later.
func TestRunKeyStaysWhenTheMoveFails(t *testing.T) {
	o, _, out := world(t, "")
	o.Yes = true
	o.Custody = &fakeCustody{fail: errors.New("keyring secret-service: the collection is locked")}
	if err := Run(t.Context(), o); err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	got, _ := os.ReadFile(o.ConfigPath)
	if strings.Contains(string(got), "[keys.") || !strings.Contains(string(got), "in the shared credentials file") {
		t.Errorf("config:\n%s", got)
	}
	if _, err := config.Parse(o.ConfigPath, got, config.Options{}); err != nil {
		t.Errorf("the config does not load: %v", err)
	}
	if want := "The key of [work-long-term] stays in " + os.Getenv("AWS_SHARED_CREDENTIALS_FILE") + ": moving it into the test store failed (keyring secret-service: the collection is locked)"; !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
}

// TestRunChangesNothingUnlessConfirmed: declining the plan, the input
// ending, and --yes on an existing config all leave the files alone.
func TestRunChangesNothingUnlessConfirmed(t *testing.T) {
	for _, tt := range []struct {
		name, input string
		yes, exists bool
		wantErr     error
	}{
		{"plan declined", "\n\n\n\n\n\nn\n", false, false, nil},
		{"input ends", "\n\n", false, false, errClosed},
		{"--yes keeps an existing config", "", true, true, errKept},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o, installs, out := world(t, tt.input)
			o.Yes = tt.yes
			if tt.exists {
				os.MkdirAll(filepath.Dir(o.ConfigPath), 0o700)
				os.WriteFile(o.ConfigPath, []byte("# mine\n"), 0o600)
			}
			err := Run(t.Context(), o)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Run = %v; want %v\n%s", err, tt.wantErr, out)
			}
			data, _ := os.ReadFile(o.ConfigPath)
			if tt.exists != (string(data) == "# mine\n") || !tt.exists && data != nil {
				t.Errorf("config = %q", data)
			}
			if _, err := os.Stat(os.Getenv("AWS_CONFIG_FILE")); err == nil || len(*installs) > 0 {
				t.Errorf("AWS config written or service installed (%v)", *installs)
			}
		})
	}
}

func TestWriteDiff(t *testing.T) {
	var b bytes.Buffer
	writeDiff(&b, "a\nb\nc\nd\ne\nf\ng\n", "a\nb\nc\nd\nX\nf\ng\n")
	want := "   …\n    c\n    d\n  - e\n  + X\n    f\n    g\n"
	if b.String() != want {
		t.Errorf("diff:\n%s\nwant:\n%s", b.String(), want)
	}
}
