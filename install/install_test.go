package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stsd/stsd/config"
)

// fakeManager keeps the service file in a temp dir and records calls. Like
// kardianos/service, Install refuses to overwrite and Uninstall refuses a
// missing service.
type fakeManager struct {
	file string

	mu      sync.Mutex // guards the fields that follow
	calls   []string
	running bool
}

func (f *fakeManager) record(c string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
}

func (f *fakeManager) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeManager) Installed() (bool, error) {
	_, err := os.Stat(f.file)
	return err == nil, nil
}

func (f *fakeManager) Install(text string) error {
	f.record(opInstall)
	if _, err := os.Stat(f.file); err == nil {
		return fmt.Errorf("init already exists: %s", f.file)
	}
	return os.WriteFile(f.file, []byte(text), 0o644)
}

func (f *fakeManager) Uninstall() error {
	f.record(opUninstall)
	return os.Remove(f.file)
}

func (f *fakeManager) Start() error {
	f.record(opStart)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running = true
	return nil
}

func (f *fakeManager) Stop() error {
	f.record(opStop)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running = false
	return nil
}

func (f *fakeManager) Status() (string, error) {
	if ok, _ := f.Installed(); !ok {
		return StateNotInstalled, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.running {
		return StateRunning, nil
	}
	return StateStopped, nil
}

// harness is Options with fakes for every seam: nothing touches the host.
type harness struct {
	dir    string
	config string
	m      *fakeManager
	stdout bytes.Buffer
	stderr bytes.Buffer
	ran    [][]string
}

func newHarness(t *testing.T, toml string) *harness {
	t.Helper()
	h := &harness{dir: t.TempDir()}
	h.config = filepath.Join(h.dir, "config.toml")
	if err := os.WriteFile(h.config, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	h.m = &fakeManager{file: filepath.Join(h.dir, "service-file")}
	return h
}

const goodConfig = "[profiles.dev]\nsource_profile = \"dev-long-term\"\n"

func (h *harness) options(i Init, system, running bool) Options {
	return Options{
		Init:        i,
		System:      system,
		ConfigPath:  h.config,
		Executable:  "/usr/local/bin/stsd",
		Home:        "/home/alice",
		Stdout:      &h.stdout,
		Stderr:      &h.stderr,
		Manager:     func(Service) (Manager, error) { return h.m, nil },
		Running:     func(Init) bool { return running },
		Run:         func(_ context.Context, argv []string) error { h.ran = append(h.ran, argv); return nil },
		LookupUser:  func(string) bool { return false },
		LookupGroup: func(string) bool { return false },
		FreeID:      func() (int, error) { return 401, nil },
		IsRoot:      func() bool { return true },
	}
}

// scrub replaces the temp dir in dry-run output so goldens are stable.
func (h *harness) scrub(s string) string { return strings.ReplaceAll(s, h.dir, "$TMP") }

func TestDryRunGolden(t *testing.T) {
	tests := []struct {
		name      string
		init      Init
		system    bool
		uninstall bool
		installed bool // the service exists already (and the init runs)
	}{
		{"systemd-system", Systemd, true, false, false},
		{"systemd-user", Systemd, false, false, false},
		{"systemd-user-reinstall", Systemd, false, false, true},
		{"launchd-system", Launchd, true, false, false},
		{"launchd-user", Launchd, false, false, false},
		{"windows-system", Windows, true, false, false},
		{"uninstall-systemd-system", Systemd, true, true, true},
		{"uninstall-systemd-user", Systemd, false, true, true},
		{"uninstall-launchd-user", Launchd, false, true, true},
		{"uninstall-launchd-system", Launchd, true, true, true},
		{"uninstall-windows-system", Windows, true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, goodConfig)
			if tt.installed {
				if err := os.WriteFile(h.m.file, []byte("old"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			o := h.options(tt.init, tt.system, tt.installed)
			o.DryRun = true
			var err error
			if tt.uninstall {
				err = Uninstall(t.Context(), o)
			} else {
				err = Install(t.Context(), o)
			}
			if err != nil {
				t.Fatalf("dry run = %v", err)
			}
			golden(t, "dryrun/"+tt.name+".golden", h.scrub(h.stdout.String()))
			// A dry run changes nothing.
			if c := h.m.Calls(); len(c) > 0 || len(h.ran) > 0 {
				t.Errorf("dry run called the manager %v and ran %v", c, h.ran)
			}
			if b, _ := os.ReadFile(h.m.file); tt.installed && string(b) != "old" {
				t.Errorf("dry run changed the service file to %q", b)
			}
			if _, err := os.Stat(h.m.file); !tt.installed && err == nil {
				t.Errorf("dry run wrote the service file")
			}
		})
	}
}

// TestSystemSetupGolden shows the steps for config and credentials files in
// the system config directory (which tests cannot create).
func TestSystemSetupGolden(t *testing.T) {
	for _, i := range []Init{Systemd, Launchd, Windows} {
		t.Run(string(i), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, goodConfig)
			o := h.options(i, true, false)
			if err := o.defaults(); err != nil {
				t.Fatal(err)
			}
			dir := map[Init]string{Systemd: "/etc/stsd", Launchd: "/Library/Application Support/stsd", Windows: `C:\ProgramData\stsd`}[i]
			cfg := &config.Config{Path: dir + "/config.toml", CredentialsFile: dir + "/credentials"}
			p := &plan{title: "system setup"}
			if err := o.systemSetup(p, o.service(), cfg); err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			p.write(&b)
			golden(t, "dryrun/setup-"+string(i)+".golden", b.String())
		})
	}
}

func TestSystemSetupSkipsExistingAccount(t *testing.T) {
	h := newHarness(t, goodConfig)
	o := h.options(Systemd, true, false)
	o.LookupUser = func(string) bool { return true }
	o.LookupGroup = func(string) bool { return true }
	o.DryRun = true
	if err := Install(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if out := h.stdout.String(); strings.Contains(out, "useradd") || strings.Contains(out, "groupadd") {
		t.Errorf("plan creates an existing account:\n%s", out)
	}
	if !strings.Contains(h.stderr.String(), "is outside /etc/stsd") {
		t.Errorf("no warning for a system config outside /etc/stsd: %q", h.stderr.String())
	}
}

func TestLaunchdFreeIDPlaceholder(t *testing.T) {
	h := newHarness(t, goodConfig)
	o := h.options(Launchd, true, false)
	o.FreeID = func() (int, error) { return 0, errors.New("no dscl") }
	o.DryRun = true
	if err := Install(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if out := h.stdout.String(); !strings.Contains(out, "UniqueID $ID") || !strings.Contains(out, "$ID: the lowest id") {
		t.Errorf("dry run without dscl does not explain $ID:\n%s", out)
	}
}

// TestInstallTwice installs, then installs again: the second run stops,
// uninstalls and installs, and the result is identical and single.
func TestInstallTwice(t *testing.T) {
	for _, tt := range []struct {
		init   Init
		system bool
	}{{Systemd, false}, {Systemd, true}, {Launchd, false}, {Windows, true}} {
		t.Run(fmt.Sprintf("%s-system=%v", tt.init, tt.system), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, goodConfig)
			o := h.options(tt.init, tt.system, true)
			if err := Install(t.Context(), o); err != nil {
				t.Fatalf("first Install = %v", err)
			}
			first, err := os.ReadFile(h.m.file)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff([]string{opInstall, opStart}, h.m.Calls()); d != "" {
				t.Errorf("first install calls (-want +got):\n%s", d)
			}
			firstRan := len(h.ran)
			if err := Install(t.Context(), o); err != nil {
				t.Fatalf("second Install = %v", err)
			}
			second, _ := os.ReadFile(h.m.file)
			if string(first) != string(second) {
				t.Errorf("re-install changed the service file:\n%s\n---\n%s", first, second)
			}
			if d := cmp.Diff([]string{opInstall, opStart, opStop, opUninstall, opInstall, opStart}, h.m.Calls()); d != "" {
				t.Errorf("re-install calls (-want +got):\n%s", d)
			}
			if d := cmp.Diff(h.ran[:firstRan], h.ran[firstRan:]); d != "" {
				t.Errorf("re-install ran other setup commands (-first +second):\n%s", d)
			}
			entries, _ := os.ReadDir(h.dir)
			if len(entries) != 2 { // config.toml and the one service file
				t.Errorf("dir holds %d entries after two installs; want 2", len(entries))
			}
			if st, err := State(o); err != nil || st != StateRunning {
				t.Errorf("State = %q, %v; want running", st, err)
			}
		})
	}
}

func TestNoStart(t *testing.T) {
	h := newHarness(t, goodConfig)
	o := h.options(Systemd, false, true)
	o.NoStart = true
	if err := Install(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{opInstall}, h.m.Calls()); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
}

func TestInstallRefuses(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		edit    func(*Options)
		wantErr error
		wantMsg string
	}{
		{"broken config", "[profiles.dev]\nsource_profile = \"src\"\nduration = \"1m\"\nmode = \"nope\"\n", nil, nil, "profiles.dev.duration"},
		{"no init", goodConfig, func(o *Options) { o.Running = func(Init) bool { return false } }, ErrNoInit, "not"},
		{"windows user", goodConfig, func(o *Options) { o.Init, o.System = Windows, false }, ErrUserWindows, "--system"},
		{"not root", goodConfig, func(o *Options) { o.IsRoot = func() bool { return false } }, nil, "needs root"},
		{"template marker", goodConfig, func(o *Options) { o.Executable = "/opt/{{x}}/stsd" }, nil, "template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tt.config)
			o := h.options(Systemd, true, true)
			if tt.edit != nil {
				tt.edit(&o)
			}
			err := Install(t.Context(), o)
			if err == nil {
				t.Fatal("Install = nil; want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Install = %v; want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Install = %v; want it to say %q", err, tt.wantMsg)
			}
			if c := h.m.Calls(); len(c) > 0 || len(h.ran) > 0 {
				t.Errorf("a refused install called %v and ran %v", c, h.ran)
			}
		})
	}
	t.Run("every config problem", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, "[profiles.dev]\nsource_profile = \"src\"\nduration = \"1m\"\nmode = \"nope\"\n")
		err := Install(t.Context(), h.options(Systemd, false, true))
		var ce config.Errors
		if !errors.As(err, &ce) || len(ce) != 2 {
			t.Errorf("Install = %v; want config.Errors with both problems", err)
		}
	})
}

// TestRealInstallWithoutInit uses the real detection: this machine's PID 1
// is not systemd, so a real install must stop with a clear message and
// touch nothing.
func TestRealInstallWithoutInit(t *testing.T) {
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("systemd is running here: a real install would change the host")
	}
	h := newHarness(t, goodConfig)
	for _, system := range []bool{false, true} {
		o := Options{Init: Systemd, System: system, ConfigPath: h.config, Executable: "/usr/local/bin/stsd", Home: h.dir,
			Run: func(_ context.Context, argv []string) error { t.Errorf("ran %v", argv); return nil }}
		err := Install(t.Context(), o)
		if !errors.Is(err, ErrNoInit) {
			t.Fatalf("Install(system=%v) = %v; want ErrNoInit", system, err)
		}
		if hostInit == Systemd && !strings.Contains(err.Error(), "systemd is not running on this host") {
			t.Errorf("Install = %v; want it to say systemd is not running", err)
		}
		for _, f := range []func(context.Context, Options) error{Uninstall, Start, Stop} {
			if err := f(t.Context(), o); !errors.Is(err, ErrNoInit) {
				t.Errorf("uninstall/start/stop = %v; want ErrNoInit", err)
			}
		}
		if _, err := State(o); !errors.Is(err, ErrNoInit) {
			t.Errorf("State = %v; want ErrNoInit", err)
		}
	}
}

func TestStartStopUninstall(t *testing.T) {
	h := newHarness(t, goodConfig)
	o := h.options(Systemd, false, true)
	if err := Start(t.Context(), o); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("Start before install = %v; want ErrNotInstalled", err)
	}
	if st, err := State(o); err != nil || st != StateNotInstalled {
		t.Errorf("State = %q, %v; want not installed", st, err)
	}
	if err := Uninstall(t.Context(), o); err != nil || !strings.Contains(h.stdout.String(), "not installed") {
		t.Errorf("Uninstall before install = %v, %q", err, h.stdout.String())
	}
	o.NoStart = true
	if err := Install(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if st, _ := State(o); st != StateStopped {
		t.Errorf("State after install --no-start = %q", st)
	}
	if err := Start(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if st, _ := State(o); st != StateRunning {
		t.Errorf("State after start = %q", st)
	}
	if err := Stop(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if err := Uninstall(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if ok, _ := h.m.Installed(); ok {
		t.Error("service file left after Uninstall")
	}
	want := []string{opInstall, opStart, opStop, opStop, opUninstall}
	if d := cmp.Diff(want, h.m.Calls()); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
}

func TestShellQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/etc/stsd", "/etc/stsd"},
		{"/Library/Application Support/stsd", "'/Library/Application Support/stsd'"},
		{"it's", `'it'\''s'`},
		{"*", "'*'"},
		{"", "''"},
	}
	for _, tt := range tests {
		if got := shellQuote(tt.in); got != tt.want {
			t.Errorf("shellQuote(%q) = %s; want %s", tt.in, got, tt.want)
		}
	}
}
