// Package install installs stsd as an OS service (systemd, launchd, the
// Windows SCM) and points AWS profiles at it in ~/.aws/config.
//
// stsd renders every service file itself, for every target on every OS, so
// `--dry-run` shows exactly what a real install writes. kardianos/service
// performs real installs only, handed that text verbatim: left to itself it
// picks SysV in a container whose PID 1 is not systemd, refuses to
// overwrite an existing service and renders its own templates.
package install

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/paths"
)

// Service states State returns.
const (
	StateRunning      = "running"
	StateStopped      = "stopped"
	StateFailed       = "failed"
	StateNotInstalled = "not installed"
)

// ErrNoInit reports that the chosen init system does not run on this host;
// errors carrying it say what to do instead.
var ErrNoInit = errors.New("no supported init system is running")

// ErrNotInstalled reports that start or stop found no stsd service.
var ErrNotInstalled = errors.New("the stsd service is not installed: run `stsd install` first")

// Manager performs what an init system does with the stsd service.
// kardianos/service implements it for real installs; tests use a fake.
type Manager interface {
	Installed() (bool, error)
	// Install writes text (exactly as rendered) and registers the service.
	Install(text string) error
	Uninstall() error
	Start() error
	Stop() error
	// Status is one of the State constants.
	Status() (string, error)
}

// Options configures Install, Uninstall, Start, Stop and State. The zero
// value of each field means its default.
type Options struct {
	Init   Init // "" = DefaultInit()
	System bool // system-wide service; else a per-user one

	// ConfigPath is the config file the service runs with (Install only);
	// made absolute.
	ConfigPath string
	// Executable is the stsd binary the service runs; "" = this program.
	Executable string
	// Home is the user's home directory, for per-user services; "" =
	// paths.Home().
	Home string

	DryRun  bool // print the plan, change nothing
	NoStart bool // install without starting

	Stdout io.Writer // the plan (dry run) or progress; nil = discard
	Stderr io.Writer // config warnings; nil = discard

	// Seams; nil = the real thing.
	Manager     func(Service) (Manager, error)                 // kardianos/service
	Running     func(Init) bool                                // whether an init system runs here
	Run         func(ctx context.Context, argv []string) error // runs a plan's commands
	LookupUser  func(name string) bool                         // whether a user exists
	LookupGroup func(name string) bool                         // whether a group exists
	FreeID      func() (int, error)                            // a free uid+gid for the macOS account
	IsRoot      func() bool                                    // whether we may install a system service
	Exists      func(path string) bool                         // whether a file exists
}

func (o *Options) defaults() error {
	if o.Init == "" {
		o.Init = DefaultInit()
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	if o.Manager == nil {
		o.Manager = newKardianos
	}
	if o.Running == nil {
		o.Running = running
	}
	if o.Run == nil {
		o.Run = runCommand
	}
	if o.Exists == nil {
		o.Exists = func(p string) bool { _, err := os.Stat(p); return err == nil }
	}
	if o.LookupUser == nil {
		o.LookupUser = func(n string) bool { _, err := user.Lookup(n); return err == nil }
	}
	if o.LookupGroup == nil {
		o.LookupGroup = func(n string) bool { _, err := user.LookupGroup(n); return err == nil }
	}
	if o.FreeID == nil {
		o.FreeID = darwinFreeID
	}
	if o.IsRoot == nil {
		o.IsRoot = isRoot
	}
	if o.Home == "" && !o.System {
		h, err := paths.Home()
		if err != nil {
			return fmt.Errorf("home directory: %w", err)
		}
		o.Home = h
	}
	if o.Executable == "" {
		exe, err := executable()
		if err != nil {
			return err
		}
		o.Executable = exe
	}
	return nil
}

// executable is the path of this program, its symlinks resolved.
func executable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("path of the stsd binary: %w", err)
	}
	return realPath(exe), nil
}

// realPath is p with its symlinks resolved, or p itself when they cannot
// be (it does not exist yet).
func realPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

// service is the Service o describes (without config details).
func (o *Options) service() Service {
	s := Service{Init: o.Init, System: o.System, Executable: o.Executable, ConfigPath: o.ConfigPath, Home: o.Home}
	if s.Init == Systemd && s.System {
		s.KeyringCredential = keyringCredential
		if o.Exists != nil && o.Exists(keyringCredentialEncrypted) {
			s.KeyringCredential = keyringCredentialEncrypted
		}
	}
	return s
}

// The system daemon's file-keyring passphrase, a systemd credential: a
// root-only file systemd hands the service (LoadCredential=), or the same
// sealed by `systemd-creds encrypt` (LoadCredentialEncrypted=), used when
// it exists. The daemon cannot write /etc under ProtectSystem=strict, and
// the kernel keyring it gets is new at every start, so its keys live
// encrypted in /var/lib/stsd/keyring, unlocked with this.
const (
	keyringCredential          = "/etc/stsd/keyring-passphrase"
	keyringCredentialEncrypted = "/etc/stsd/keyring-passphrase.cred"
)

// scope is the flag that selects o's scope, for messages.
func (o *Options) scope() string {
	if o.System {
		return "--system"
	}
	return "--user"
}

// supported checks that s.Init manages services like s here.
func (o *Options) supported(s Service) error {
	if s.Init == Windows && !s.System {
		return ErrUserWindows
	}
	if !o.Running(s.Init) {
		return noInit(s.Init)
	}
	return nil
}

// ready checks that o.Init manages services here and that we may change
// them, and returns its Manager.
func (o *Options) ready(s Service) (Manager, error) {
	if err := o.supported(s); err != nil {
		return nil, err
	}
	if s.System && !o.IsRoot() {
		return nil, fmt.Errorf("a system service needs root: run it with sudo (or from an elevated prompt), or use --user")
	}
	return o.Manager(s)
}

// readyInstalled is ready, plus whether the stsd service is installed.
func (o *Options) readyInstalled(s Service) (Manager, bool, error) {
	m, err := o.ready(s)
	if err != nil {
		return nil, false, err
	}
	installed, err := m.Installed()
	if err != nil {
		return nil, false, fmt.Errorf("is stsd installed: %w", err)
	}
	return m, installed, nil
}

func noInit(i Init) error {
	switch {
	case i == Systemd && hostInit == Systemd:
		return fmt.Errorf("%w: systemd is not running on this host (/run/systemd/system is absent; SysV, OpenRC and container inits are not supported): run `stsd run` under your own supervisor; --dry-run shows the unit", ErrNoInit)
	case hostInit == "":
		return fmt.Errorf("%w: stsd installs services with systemd, launchd or the Windows SCM, none of which runs this OS: run `stsd run` under your own supervisor; --dry-run shows the %s service file", ErrNoInit, i)
	}
	return fmt.Errorf("%w: %s does not run on this host (its init system is %s): install on the target host; --dry-run shows the service file", ErrNoInit, i, hostInit)
}

// Install validates the config, then installs (or re-installs: stop,
// uninstall, install) and starts the stsd service. A broken config returns
// its config.Errors.
func Install(ctx context.Context, o Options) error {
	if err := o.defaults(); err != nil {
		return err
	}
	if o.ConfigPath == "" {
		return errors.New("no config path")
	}
	abs, err := filepath.Abs(o.ConfigPath)
	if err != nil {
		return fmt.Errorf("config path: %w", err)
	}
	o.ConfigPath = abs
	cfg, err := config.Load(o.ConfigPath, config.Options{System: o.System})
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(o.Stderr, "warning: %s\n", w.Error())
	}
	s := o.service()
	s.SocketGroup = cfg.SocketGroup
	s.LinkLocal = len(cfg.LinkLocalListeners()) > 0
	text, err := Render(s)
	if err != nil {
		return err
	}
	if s.System && s.Init == Systemd && cfg.SocketGroup != "" && cfg.SocketGroup != "stsd" {
		fmt.Fprintf(o.Stderr, "warning: socket_group %q: the socket's directory /run/stsd is stsd:stsd 0750, so its users must also be in group stsd (usermod -aG stsd USER); socket_group = \"stsd\" is simpler\n", cfg.SocketGroup)
	}
	if dir := systemConfigDir(s.Init); s.System && dir != "" && !strings.HasPrefix(cfg.Path, dir+"/") {
		fmt.Fprintf(o.Stderr, "warning: %s is outside %s: make sure the service's user can read it and every file it names, or move them there\n", cfg.Path, dir)
	}
	var m Manager
	installed := false
	if o.DryRun {
		// Show the re-install steps only when this host can tell the
		// service is there; reading its state changes nothing.
		if o.Running(s.Init) {
			if m, err = o.Manager(s); err == nil {
				installed, _ = m.Installed()
			}
		}
	} else if m, installed, err = o.readyInstalled(s); err != nil {
		return err
	}
	p := &plan{title: fmt.Sprintf("stsd install %s (%s)", o.scope(), s.Init)}
	if s.System {
		if err := o.systemSetup(p, s, cfg); err != nil {
			return err
		}
	}
	if installed {
		p.managerStep(s, m, opStop, "")
		p.managerStep(s, m, opUninstall, "")
	}
	p.managerStep(s, m, opInstall, text)
	if !o.NoStart {
		p.managerStep(s, m, opStart, "")
	}
	done := fmt.Sprintf("stsd service installed (%s, %s)", s.Init, strings.TrimPrefix(o.scope(), "--"))
	if f := s.UnitPath(); f != "" {
		done += ": " + f
	}
	return p.apply(ctx, o, done)
}

// Uninstall stops and removes the stsd service. It keeps the config, the
// cache, the state and the stsd user.
func Uninstall(ctx context.Context, o Options) error {
	if err := o.defaults(); err != nil {
		return err
	}
	s := o.service()
	if s.Init == Windows && !s.System {
		return ErrUserWindows
	}
	p := &plan{title: fmt.Sprintf("stsd uninstall %s (%s)", o.scope(), s.Init)}
	var m Manager
	if !o.DryRun {
		var installed bool
		var err error
		if m, installed, err = o.readyInstalled(s); err != nil {
			return err
		}
		if !installed {
			fmt.Fprintln(o.Stdout, "stsd service is not installed: nothing to do")
			return nil
		}
	}
	p.managerStep(s, m, opStop, "")
	p.managerStep(s, m, opUninstall, "")
	return p.apply(ctx, o, "stsd service removed; the config, cache, state and any stsd user are kept")
}

// Start starts the installed stsd service.
func Start(_ context.Context, o Options) error { return control(o, opStart) }

// Stop stops the stsd service.
func Stop(_ context.Context, o Options) error { return control(o, opStop) }

func control(o Options, op string) error {
	if err := o.defaults(); err != nil {
		return err
	}
	s := o.service()
	m, installed, err := o.readyInstalled(s)
	if err != nil {
		return err
	}
	if !installed {
		return ErrNotInstalled
	}
	if op == opStart {
		err = m.Start()
	} else {
		err = m.Stop()
	}
	if err != nil {
		return fmt.Errorf("%s the %s service: %w", op, s.Init, err)
	}
	return nil
}

// State is the stsd service's state for `stsd status`: one of the State
// constants. It returns an error wrapping ErrNoInit when no supported init
// system runs here.
func State(o Options) (string, error) {
	if err := o.defaults(); err != nil {
		return "", err
	}
	s := o.service()
	if err := o.supported(s); err != nil {
		return "", err
	}
	m, err := o.Manager(s)
	if err != nil {
		return "", err
	}
	return m.Status()
}

// systemSetup adds the steps that prepare a system install: the service
// account, the config directory (root's, readable by the account's group)
// and the directories the daemon writes (the account's: cache and state
// 0700, the socket's 0750). systemd creates the cache, state and runtime
// directories itself (CacheDirectory= and friends).
func (o *Options) systemSetup(p *plan, s Service, cfg *config.Config) error {
	var confDir, acct string
	var dirs []dirSpec
	confDir = systemConfigDir(s.Init)
	switch s.Init {
	case Systemd:
		acct = "stsd"
		if !o.LookupGroup(acct) {
			p.cmd("create the stsd group", "groupadd", "--system", acct)
		}
		if !o.LookupUser(acct) {
			p.cmd("create the stsd user (no login, no home)", "useradd", "--system", "--gid", acct,
				"--no-create-home", "--home-dir", "/var/lib/stsd", "--shell", "/usr/sbin/nologin",
				"--comment", "stsd credential daemon", acct)
		}
	case Launchd:
		acct = launchdUser
		if !o.LookupUser(acct) || !o.LookupGroup(acct) {
			id := "$ID"
			note := "create the _stsd account (alias stsd); $ID: the lowest id in 300..499 that no user or group has (dscl . -list /Users UniqueID)"
			if n, err := o.FreeID(); err == nil {
				id, note = strconv.Itoa(n), "create the _stsd account (alias stsd) with a free id"
			} else if !o.DryRun {
				return fmt.Errorf("find a free id for the _stsd account: %w", err)
			}
			p.cmds(note,
				[]string{"dscl", ".", "-create", "/Groups/_stsd", "PrimaryGroupID", id},
				[]string{"dscl", ".", "-create", "/Groups/_stsd", "RealName", "stsd credential daemon"},
				[]string{"dscl", ".", "-append", "/Groups/_stsd", "RecordName", "stsd"},
				[]string{"dscl", ".", "-create", "/Users/_stsd", "UniqueID", id},
				[]string{"dscl", ".", "-create", "/Users/_stsd", "PrimaryGroupID", id},
				[]string{"dscl", ".", "-create", "/Users/_stsd", "RealName", "stsd credential daemon"},
				[]string{"dscl", ".", "-create", "/Users/_stsd", "NFSHomeDirectory", "/var/empty"},
				[]string{"dscl", ".", "-create", "/Users/_stsd", "UserShell", "/usr/bin/false"},
				[]string{"dscl", ".", "-create", "/Users/_stsd", "Password", "*"},
				[]string{"dscl", ".", "-append", "/Users/_stsd", "RecordName", "stsd"},
			)
		}
		dirs = []dirSpec{
			{"/Library/Caches/stsd", acct, "0700"},
			{"/Library/Application Support/stsd/state", acct, "0700"},
			{"/var/run/stsd", acct, "0750"},
		}
	default: // Windows: the daemon gives %ProgramData%\stsd an owner-only DACL.
		return nil
	}
	p.cmd("the config directory: root may write, the "+acct+" group may read", "install", "-d", "-o", "root", "-g", acct, "-m", "0750", confDir)
	for _, d := range dirs {
		p.cmd("a directory the daemon writes", "install", "-d", "-o", d.owner, "-g", acct, "-m", d.mode, d.path)
	}
	if s.Init == Systemd && !o.Exists(keyringCredential) && !o.Exists(keyringCredentialEncrypted) {
		// 32 random bytes, never on a command line; root's alone: systemd
		// reads it and hands the daemon a private copy.
		p.cmd("the file keyring's passphrase, a systemd credential (root-only; seal it with systemd-creds encrypt to use LoadCredentialEncrypted=)",
			"sh", "-c", "umask 077 && head -c 32 /dev/urandom | base64 > "+keyringCredential)
	}
	// Files in the config directory become root:stsd 0640 so the daemon can
	// read them and only root can change them.
	for _, f := range []string{cfg.Path, cfg.CredentialsFile} {
		if f != "" && strings.HasPrefix(f, confDir+"/") {
			p.cmds("let the "+acct+" group read "+f,
				[]string{"chown", "root:" + acct, f},
				[]string{"chmod", "0640", f})
		}
	}
	return nil
}

type dirSpec struct{ path, owner, mode string }

// runCommand runs argv, returning its output in the error when it fails.
func runCommand(ctx context.Context, argv []string) error {
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		if msg := strings.TrimSpace(string(out)); msg != "" {
			return fmt.Errorf("%s: %w: %s", argv[0], err, msg)
		}
		return fmt.Errorf("%s: %w", argv[0], err)
	}
	return nil
}

// darwinFreeID returns the lowest id in 300..499 that no local user or
// group has (dscl exists on macOS only).
func darwinFreeID() (int, error) {
	used := map[int]bool{}
	for _, q := range [][]string{{"/Users", "UniqueID"}, {"/Groups", "PrimaryGroupID"}} {
		out, err := exec.Command("dscl", ".", "-list", q[0], q[1]).Output()
		if err != nil {
			return 0, fmt.Errorf("dscl: %w", err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) == 2 {
				if n, err := strconv.Atoi(f[1]); err == nil {
					used[n] = true
				}
			}
		}
	}
	for id := 300; id < 500; id++ {
		if !used[id] {
			return id, nil
		}
	}
	return 0, errors.New("no free id in 300..499")
}

// systemConfigDir is the directory a Unix target's system service reads
// its config, credentials and TLS files from; "" for Windows, whose daemon
// keeps them in %ProgramData%\stsd.
func systemConfigDir(i Init) string {
	switch i {
	case Systemd:
		return "/etc/stsd"
	case Launchd:
		return "/Library/Application Support/stsd"
	}
	return ""
}
