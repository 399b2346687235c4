// Package config parses and validates stsd's TOML configuration; it is the
// single source of truth for every STS parameter rule.
package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/stsd/stsd/internal/linklocal"
)

// Mode selects the STS call a profile makes.
type Mode string

// The STS modes.
const (
	ModeSession    Mode = "session"    // GetSessionToken
	ModeFederation Mode = "federation" // GetFederationToken
	ModeRole       Mode = "role"       // AssumeRole
)

// Config is a loaded, validated configuration. Every path in it is absolute
// and every default is resolved.
type Config struct {
	Path            string // absolute path of the file loaded
	System          bool   // loaded for the system layout (Options.System)
	CredentialsFile string // shared credentials file ("" = AWS_SHARED_CREDENTIALS_FILE / SDK default)
	LogLevel        string // debug|info|warn|error
	MetricsListen   string // optional loopback host:port
	SocketGroup     string // optional group for a 0660 socket
	// SigninEndpoint overrides the console sign-in federation endpoint
	// (https, or http on a loopback host); "" = the partition's.
	SigninEndpoint string
	ECS            *ECS // nil when [ecs] is absent
	Broker         *Broker

	// Keys by name ([keys.NAME]); Config.Key gives the default for others.
	Keys    map[string]*Key
	Keyring Keyring // [keyring], defaults applied

	// Profiles by name. Each profile's Name field repeats its key.
	Profiles map[string]*Profile

	// Warnings are problems that do not stop the config from loading
	// (root source, [default] as source while IMDS/ECS serve it, ...).
	Warnings []*Error
}

// ECS is the optional ECS-compatible endpoint.
type ECS struct {
	Listen   string // loopback host:port
	TokenDir string // absolute; <profile>.token files, and the container ids' hashes
	// ContainerListen is the container listener (Linux): "169.254.170.2:80",
	// where SDKs resolve AWS_CONTAINER_CREDENTIALS_RELATIVE_URI; "" = none.
	ContainerListen string
}

// Broker is the optional HTTPS broker ([broker]) that serves federation
// profiles to the clients listed under it; their names fill `{client}`.
type Broker struct {
	Listen         string  // host:port, any address
	TLSCertFile    string  // absolute
	TLSKeyFile     string  // absolute
	ClientCAFile   string  // absolute; "" = no client certificates
	Rate           float64 // requests per second per client (token bucket; burst 2 × rate); default 10
	MaxConnections int     // default 1024
	// MaxConnectionsPerAddress bounds one client address's (an IPv6
	// /64's) connections; default 64.
	MaxConnectionsPerAddress int
	TrustedProxies           []netip.Prefix

	// Clients by name ([broker.clients.NAME]).
	Clients map[string]*BrokerClient
}

// BrokerClient is one [broker.clients.NAME] table.
type BrokerClient struct {
	Name         string
	Line         int    // line of its header (for messages)
	TokenSHA256  string // 64 lowercase hex digits
	Profiles     []string
	AllowedCIDRs []netip.Prefix // empty = any address
	// CertSHA256 ties the token to one client certificate: 64 lowercase
	// hex digits of the SHA-256 of its DER; "" = any the client CA signed.
	CertSHA256 string
}

// Profile is one [profiles.NAME] table with defaults applied.
type Profile struct {
	Name          string // the table name
	Line          int    // line of its [profiles.NAME] header (for messages)
	SourceProfile string
	Mode          Mode
	Duration      time.Duration // 15m..36h (role: ..1h with via_profile, ..12h with source_profile); default 12h (role: 1h)
	Region        string        // default us-east-1
	RefreshBefore time.Duration // default 30m

	// Session mode (MFA also role mode with source_profile).
	MFASerial     string
	MFAProcess    string
	MFAPrompt     string        // tty|zenity|kdialog|osascript|none; default tty
	MFAReminder   time.Duration // default 30m
	NotifyCommand string

	// Console sign-in of a session profile: the GetFederationToken made
	// for the console.
	ConsoleName       string   // {user} {hostname} {profile} expanded; "" when the default does not fit (the console asks for console_name)
	ConsolePolicyARNs []string // default the partition's AdministratorAccess

	// Federation mode (Policy, PolicyFile, PolicyARNs and Tags also role mode).
	FederationName string // `name` with {hostname} and {profile} expanded; {client} left in place
	Policy         string // minified JSON ("" when none)
	PolicyFile     string // absolute path, when the policy came from a file
	PolicyARNs     []string
	Tags           map[string]string

	// Role mode.
	RoleARN string
	// ViaProfile is the stsd profile (session or role) whose current
	// credentials call AssumeRole; "" when SourceProfile's long-term key does.
	ViaProfile        string
	ExternalID        string
	RoleSessionName   string // {user} {hostname} {profile} expanded
	SourceIdentity    string
	TransitiveTagKeys []string
	// ParentFingerprint is ViaProfile's Fingerprint(""), so that a change
	// anywhere up the chain changes this profile's fingerprint too.
	ParentFingerprint string

	// Local endpoints.
	IMDSListen       string
	IMDSV1           bool
	IMDSAnyLocalUser bool
	AllowedUIDs      []int // empty = the daemon's uid
	// ContainerCIDRs may read the profile from containers over the
	// link-local listeners; empty = no container may.
	ContainerCIDRs []netip.Prefix
	// ReplaceInstanceMetadata serves imds_listen = 169.254.169.254 even
	// where a real instance metadata service answers.
	ReplaceInstanceMetadata bool

	// CredentialsFile repeats Config.CredentialsFile so a profile alone
	// determines its fingerprint.
	CredentialsFile string
}

// Error is one configuration problem, located in its file.
type Error struct {
	File string
	Line int    // 0 when unknown
	Key  string // dotted key, e.g. "profiles.dev.duration"; "" for the file as a whole
	Msg  string // what is wrong and what to do
	Err  error  // the underlying error, if any (e.g. fs.ErrNotExist); not printed
}

// Unwrap returns the underlying error, so errors.Is(err, fs.ErrNotExist)
// works on a missing config file.
func (e *Error) Unwrap() error { return e.Err }

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one load, in file order. Load returns it
// as its error when it is not empty.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, for errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// LinkLocal is one link-local listener of a config.
type LinkLocal struct {
	Addr    netip.AddrPort
	Key     string // the key that sets it, e.g. "profiles.dev.imds_listen"
	Profile string // the IMDS profile; "" for the ECS container listener
	// Probe: look for a real instance metadata service first (the IMDS
	// address, unless replace_instance_metadata).
	Probe bool
}

// LinkLocalListeners lists the config's link-local listeners: the one
// profile's imds_listen on 169.254.169.254 and [ecs] container_listen.
func (c *Config) LinkLocalListeners() []LinkLocal {
	var out []LinkLocal
	for _, name := range c.ProfileNames() {
		p := c.Profiles[name]
		if ap, err := netip.ParseAddrPort(p.IMDSListen); err == nil && ap.Addr() == linklocal.InstanceMetadata {
			out = append(out, LinkLocal{Addr: ap, Key: "profiles." + name + ".imds_listen", Profile: name, Probe: !p.ReplaceInstanceMetadata})
		}
	}
	if c.ECS != nil && c.ECS.ContainerListen != "" {
		if ap, err := netip.ParseAddrPort(c.ECS.ContainerListen); err == nil {
			out = append(out, LinkLocal{Addr: ap, Key: "ecs.container_listen"})
		}
	}
	return out
}
