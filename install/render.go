package install

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// Init names a service manager (`stsd install --init`).
type Init string

// The service managers stsd renders for.
const (
	Systemd Init = "systemd"
	Launchd Init = "launchd"
	Windows Init = "windows"
)

// ParseInit checks an --init value.
func ParseInit(s string) (Init, error) {
	switch i := Init(s); i {
	case Systemd, Launchd, Windows:
		return i, nil
	}
	return "", fmt.Errorf("--init %q: use systemd, launchd or windows", s)
}

// Service names, fixed so that a re-install replaces the service it made
// instead of adding a second one.
const (
	serviceName  = "stsd"
	launchdLabel = "com.github.stsd.stsd"
	description  = "stsd: short-lived AWS credentials from STS"
	docURL       = "https://github.com/stsd/stsd"
)

// Service is one stsd service as an init system sees it: which manager,
// user or system scope, and what it runs.
type Service struct {
	Init       Init
	System     bool   // system-wide service (else a per-user one)
	Executable string // absolute path of the stsd binary
	ConfigPath string // absolute path of the config file
	// SocketGroup is the config's socket_group; a systemd system unit adds
	// it to SupplementaryGroups so the daemon may hand the socket to it.
	SocketGroup string
	// LinkLocal: the config has link-local listeners (169.254.169.254,
	// 169.254.170.2), so a systemd system unit grants CAP_NET_ADMIN and
	// CAP_NET_BIND_SERVICE (and only then).
	LinkLocal bool
	// Home is the user's home directory, for per-user services (where
	// their file and log go).
	Home string
	// Origin is the systemd unit's first comment line, saying what wrote
	// it; "" = `stsd install` (a package says it installed the unit).
	Origin string
	// KeyringCredential is the file holding the file keyring's passphrase
	// for a systemd system unit; a ".cred" file is one systemd-creds
	// sealed (LoadCredentialEncrypted=), else LoadCredential=.
	KeyringCredential string
}

// ErrUserWindows is returned for a per-user service on Windows, which has
// no such thing.
var ErrUserWindows = errors.New("windows has no per-user services: use --system (run from an elevated prompt)")

// Args are the arguments the service runs stsd with.
func (s Service) Args() []string {
	a := []string{"run", "--config", s.ConfigPath}
	if s.System {
		a = append(a, "--system")
	}
	return a
}

// Name is the service's name for its manager: the systemd unit's base name,
// the launchd label, the Windows service name.
func (s Service) Name() string {
	if s.Init == Launchd {
		return launchdLabel
	}
	return serviceName
}

// UnitPath is where the service file goes; "" on Windows, whose SCM keeps the
// service in the registry. The paths are the ones kardianos/service writes.
func (s Service) UnitPath() string {
	switch s.Init {
	case Systemd:
		if s.System {
			return "/etc/systemd/system/" + serviceName + ".service"
		}
		return path.Join(s.Home, ".config/systemd/user", serviceName+".service")
	case Launchd:
		if s.System {
			return "/Library/LaunchDaemons/" + launchdLabel + ".plist"
		}
		return path.Join(s.Home, "Library/LaunchAgents", launchdLabel+".plist")
	}
	return ""
}

// check refuses what no rendering can carry safely.
func (s Service) check() error {
	if s.Init == Windows && !s.System {
		return ErrUserWindows
	}
	for _, p := range []struct{ what, v string }{{"stsd binary", s.Executable}, {"config", s.ConfigPath}} {
		if p.v == "" {
			return fmt.Errorf("the %s path is empty", p.what)
		}
		if strings.ContainsAny(p.v, "\x00\r\n") {
			return fmt.Errorf("the %s path %q contains a line break: move the file", p.what, p.v)
		}
		// kardianos/service renders the service text with its own template
		// engine; text without "{{" passes through it unchanged.
		if strings.Contains(p.v, "{{") {
			return fmt.Errorf("the %s path %q contains \"{{\", which kardianos/service would read as a template: move the file", p.what, p.v)
		}
	}
	if strings.ContainsAny(s.Origin, "\x00\r\n") || strings.Contains(s.Origin, "{{") {
		return fmt.Errorf("origin %q must be one line without \"{{\"", s.Origin)
	}
	if !s.System && s.Init != Windows && !path.IsAbs(s.Home) {
		return fmt.Errorf("home directory %q is not absolute", s.Home)
	}
	if s.LinkLocal && (s.Init != Systemd || !s.System) {
		return errors.New("link-local listeners (169.254.169.254, 169.254.170.2) need the Linux system service, which alone can grant CAP_NET_ADMIN and CAP_NET_BIND_SERVICE: use --system --init systemd, or listen on 127.0.0.1")
	}
	if s.SocketGroup != "" && !validName(s.SocketGroup) {
		return fmt.Errorf("socket_group %q is not a valid group name", s.SocketGroup)
	}
	return nil
}

func validName(n string) bool {
	if n == "" || len(n) > 32 {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// Render returns the service file for s: a systemd unit, a launchd plist, or
// the Windows service configuration as text. It is deterministic and works
// for every target on every OS.
func Render(s Service) (string, error) {
	if err := s.check(); err != nil {
		return "", err
	}
	var out string
	switch s.Init {
	case Systemd:
		out = renderSystemd(s)
	case Launchd:
		out = renderLaunchd(s)
	case Windows:
		out = WindowsConfigFor(s).String()
	default:
		return "", fmt.Errorf("unknown init system %q", s.Init)
	}
	if strings.Contains(out, "{{") { // cannot happen after check; kardianos must see no template markers
		return "", errors.New("rendered service text contains a template marker")
	}
	return out, nil
}

// systemdHardening is the sandbox of the system unit, as tight as stsd's
// job allows: read-only OS, private /tmp, no privilege gain, no
// capabilities. Devices stay visible (mfa_process may need a hardware
// token) and no syscall filter is set: mfa_process, a source
// credential_process and notify_command run as children and inherit it.
var systemdHardening = []string{
	"UMask=0077",
	// No core dump may hold the long-term key (stsd also sets this itself).
	"LimitCORE=0",
	"NoNewPrivileges=yes",
	"ProtectSystem=strict",
	"ProtectHome=read-only",
	"PrivateTmp=yes",
	"ProtectKernelTunables=yes",
	"ProtectKernelModules=yes",
	"ProtectKernelLogs=yes",
	"ProtectControlGroups=yes",
	"ProtectClock=yes",
	"ProtectHostname=yes",
	"RestrictSUIDSGID=yes",
	"RestrictRealtime=yes",
	"RestrictNamespaces=yes",
	"LockPersonality=yes",
	"SystemCallArchitectures=native",
	// AF_NETLINK: sock_diag, to find which user opened a loopback
	// connection, and rtnetlink for link-local addresses.
	"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
}

// systemdCapabilities are the system unit's capabilities: none, unless the
// config has link-local listeners. Those need CAP_NET_ADMIN (add the
// address to lo, and remove it at exit) and CAP_NET_BIND_SERVICE (port
// 80); the unit grants them as ambient capabilities, which pass to
// children, so stsd clears its ambient, inheritable and effective sets
// first thing and raises the two from its permitted set on one thread at
// a time: mfa_process, a source credential_process and notify_command get
// none. The process itself stays the stsd user, never root.
func systemdCapabilities(linkLocal bool) []string {
	if !linkLocal {
		return []string{"CapabilityBoundingSet=", "AmbientCapabilities="}
	}
	return []string{"CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE",
		"AmbientCapabilities=CAP_NET_ADMIN CAP_NET_BIND_SERVICE"}
}

// systemdUserHardening is what a user manager can apply without user
// namespaces (ProtectSystem, PrivateTmp and the like need them there).
var systemdUserHardening = []string{
	"UMask=0077",
	"LimitCORE=0",
	"NoNewPrivileges=yes",
	"RestrictSUIDSGID=yes",
	"RestrictRealtime=yes",
	"LockPersonality=yes",
	"SystemCallArchitectures=native",
}

// serviceText builds a service file line by line.
type serviceText struct{ strings.Builder }

// lines writes each of lines and a line break after it.
func (b *serviceText) lines(lines ...string) {
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
}

func renderSystemd(s Service) string {
	var b serviceText
	scope, target := "--user", "default.target"
	if s.System {
		scope, target = "--system", "multi-user.target"
	}
	w := b.lines
	origin := "# Written by `stsd install " + scope + "`; run it again to update, `stsd uninstall " + scope + "` to remove."
	if s.Origin != "" {
		origin = "# " + s.Origin
	}
	w(origin,
		"[Unit]",
		"Description="+description,
		"Documentation="+docURL,
		"After=network-online.target",
		"Wants=network-online.target",
		"",
		"[Service]",
		"Type=exec",
		"ExecStart="+systemdCommand(s.Executable, s.Args()),
		// stsd reloads its config on SIGHUP.
		"ExecReload=/bin/kill -HUP $MAINPID",
		"Restart=on-failure",
		"RestartSec=5s",
		// Exit 2 is a usage or config error: restarting cannot fix it.
		"RestartPreventExitStatus=2",
	)
	if s.System {
		w("User=stsd", "Group=stsd")
		if g := s.SocketGroup; g != "" && g != "stsd" {
			w("SupplementaryGroups=" + g)
		}
		w("CacheDirectory=stsd",
			"CacheDirectoryMode=0700",
			"StateDirectory=stsd",
			"StateDirectoryMode=0700",
			"RuntimeDirectory=stsd",
			"RuntimeDirectoryMode=0750")
		if c := s.KeyringCredential; c != "" {
			load := "LoadCredential="
			if strings.HasSuffix(c, ".cred") {
				load = "LoadCredentialEncrypted="
			}
			// $CREDENTIALS_DIRECTORY/keyring-passphrase unlocks the file
			// keyring in /var/lib/stsd (stsd reads it there).
			w(load + "keyring-passphrase:" + c)
		}
		// No session bus exists for a system service: the keyring library
		// would otherwise look for one (and may run dbus-launch) at start.
		w("Environment=DBUS_SESSION_BUS_ADDRESS=disabled:")
		w(systemdHardening...)
		w(systemdCapabilities(s.LinkLocal)...)
	} else {
		w(systemdUserHardening...)
	}
	w("", "[Install]", "WantedBy="+target)
	return b.String()
}

// systemdCommand writes a command line for ExecStart: each word quoted when
// needed, "%" and "$" doubled so systemd expands neither specifiers nor
// variables.
func systemdCommand(exe string, args []string) string {
	return quoteJoin(append([]string{exe}, args...), systemdQuote)
}

// quoteJoin is words, each quoted by quote, joined with spaces: a command
// line.
func quoteJoin(words []string, quote func(string) string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = quote(w)
	}
	return strings.Join(q, " ")
}

func systemdQuote(a string) string {
	a = strings.NewReplacer("%", "%%", "$", "$$").Replace(a)
	if a != "" && !strings.ContainsAny(a, " \t\"'\\;") {
		return a
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(a) + `"`
}

// Available reports whether init system i manages services on this host
// (systemd: running as PID 1).
func Available(i Init) bool { return running(i) }

// DefaultInit is this host's init system: launchd on macOS, the SCM on
// Windows, systemd on Linux (a real install also needs it running).
func DefaultInit() Init {
	if hostInit == "" {
		return Systemd
	}
	return hostInit
}
