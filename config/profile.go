package config

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/stsd/stsd/config/internal/tomlpos"
	"github.com/stsd/stsd/internal/linklocal"
)

var mfaPrompts = []string{"tty", "zenity", "kdialog", "osascript", "none"}

// profileKey is one key a [profiles.NAME] table may hold.
type profileKey struct {
	name string
	mode Mode // the only mode the key belongs to; "" for both
	// read parses the key into st. It is nil for mode, which is read before
	// the other keys because which of them are allowed depends on it.
	read func(p *parser, st *profileState, k *tomlpos.Node)
}

// profileKeys is every key of a [profiles.NAME] table: the keys of both
// modes, then session, then federation mode, in the order messages list
// them.
var profileKeys = []profileKey{
	{"source_profile", "", (*parser).sourceProfileKey},
	{"mode", "", nil},
	{"duration", "", (*parser).durationKey},
	{"region", "", (*parser).regionKey},
	{"refresh_before", "", func(p *parser, st *profileState, k *tomlpos.Node) {
		if d, ok := p.duration(k); ok {
			st.pr.RefreshBefore, st.refresh = d, k
		}
	}},
	{"imds_listen", "", (*parser).imdsListenKey},
	{"imds_v1", "", func(p *parser, st *profileState, k *tomlpos.Node) {
		st.pr.IMDSV1, _ = p.boolean(k)
		st.imdsV1 = k
	}},
	{"imds_any_local_user", "", func(p *parser, st *profileState, k *tomlpos.Node) {
		st.pr.IMDSAnyLocalUser, _ = p.boolean(k)
		st.anyLocalUser = k
	}},
	{"allowed_uids", "", (*parser).allowedUIDsKey},
	{"container_cidrs", "", func(p *parser, st *profileState, k *tomlpos.Node) {
		st.pr.ContainerCIDRs, st.ctrCIDRs = p.cidrs(k), k
	}},
	{"replace_instance_metadata", "", func(p *parser, st *profileState, k *tomlpos.Node) {
		st.pr.ReplaceInstanceMetadata, _ = p.boolean(k)
		st.replace = k
	}},

	{"mfa_serial", ModeSession, (*parser).mfaSerialKey},
	{"mfa_process", ModeSession, func(p *parser, st *profileState, k *tomlpos.Node) {
		if s, ok := p.nonEmpty(k); ok {
			st.pr.MFAProcess = s
		}
	}},
	{"mfa_prompt", ModeSession, func(p *parser, st *profileState, k *tomlpos.Node) {
		if s, ok := p.oneOf(k, mfaPrompts, "%q is not a prompt; use tty, zenity, kdialog, osascript or none"); ok {
			st.pr.MFAPrompt = s
		}
	}},
	{"mfa_reminder", ModeSession, func(p *parser, st *profileState, k *tomlpos.Node) {
		if d, ok := p.duration(k); ok {
			st.pr.MFAReminder, st.reminder = d, k
		}
	}},
	{"notify_command", ModeSession, func(p *parser, st *profileState, k *tomlpos.Node) {
		if s, ok := p.nonEmpty(k); ok {
			st.pr.NotifyCommand = s
		}
	}},

	{"name", ModeFederation, func(p *parser, st *profileState, k *tomlpos.Node) {
		if s, ok := p.str(k); ok {
			st.nameTmpl = s
		} else {
			st.nameTmpl = ""
		}
	}},
	{"policy", ModeFederation, func(p *parser, st *profileState, k *tomlpos.Node) {
		st.policy = k
		if s, ok := p.str(k); ok {
			st.policyText = s
		} else {
			st.policyOK = false
		}
	}},
	{"policy_file", ModeFederation, func(p *parser, st *profileState, k *tomlpos.Node) {
		st.policyFile = k
		if path, ok := p.filePath(k); ok {
			st.pr.PolicyFile = path
		} else {
			st.policyOK = false
		}
	}},
	{"policy_arns", ModeFederation, func(p *parser, st *profileState, k *tomlpos.Node) {
		st.arns = k
		p.policyARNs(k, st.pr)
	}},
	{"tags", ModeFederation, func(p *parser, st *profileState, k *tomlpos.Node) { p.tags(k, st.pr) }},
}

// profileKeyNames are the names of profileKeys, for suggestions.
var profileKeyNames = func() []string {
	out := make([]string, len(profileKeys))
	for i, pk := range profileKeys {
		out[i] = pk.name
	}
	return out
}()

// maxPolicyFile bounds how much of a policy file is read; STS takes 2048
// characters after minifying, so anything near this is a mistake.
const maxPolicyFile = 1 << 20

// profileState is one profile while it is read: the keys' results for the
// checks between keys, and what the cross-profile checks need.
type profileState struct {
	n          *tomlpos.Node
	pr         *Profile
	nameTmpl   string // `name` as written ("{profile}" by default)
	nameOK     bool   // placeholders valid, FederationName set
	usesClient bool

	modeWritten bool          // mode is written, not the default
	durationOK  bool          // duration is the default or a valid value
	refresh     *tomlpos.Node // refresh_before, when it is a duration
	reminder    *tomlpos.Node // mfa_reminder, when it is a duration

	policy, policyFile, arns *tomlpos.Node
	policyText               string // policy's text, or policy_file's once read
	policyOK                 bool   // no problem found with policy or policy_file yet

	imds, imdsV1, anyLocalUser *tomlpos.Node
	imdsLinkLocal              bool // imds_listen is 169.254.169.254
	ctrCIDRs, replace          *tomlpos.Node
}

// profile reads one [profiles.NAME] table: mode first, then every key, then
// the checks between keys. It returns nil when n is not a table.
func (p *parser) profile(n *tomlpos.Node) *profileState {
	name := n.Last()
	if !p.table(n) {
		return nil
	}
	validName := profileName.MatchString(name) && !strings.HasPrefix(name, ".")
	if !validName {
		p.errf(n, "invalid profile name: use 1..64 letters, digits and _+=,.@-, not starting with \".\" (it names cache files and URL paths)")
	}
	st := newProfileState(n)
	p.profileMode(st)
	p.readProfileKeys(st)
	p.require(n, "source_profile", "name the AWS profile that holds the IAM user's long-term key (static keys or a credential_process returning an AKIA… key)")
	p.profileTiming(st)
	p.sessionMFAKeys(st)
	if st.pr.Mode == ModeFederation {
		p.federationName(st)
		p.federationPolicy(st)
		p.federationPermissions(st)
	}
	p.profileEndpoints(st)
	if validName {
		p.cfg.Profiles[name] = st.pr
	}
	return st
}

// newProfileState starts profile n with every default applied.
func newProfileState(n *tomlpos.Node) *profileState {
	pr := &Profile{
		Name:          n.Last(),
		Line:          n.Line,
		Mode:          ModeSession,
		Duration:      defaultDuration,
		Region:        defaultRegion,
		RefreshBefore: defaultRefreshBefore,
		MFAPrompt:     "tty",
		MFAReminder:   defaultMFAReminder,
	}
	return &profileState{n: n, pr: pr, nameTmpl: "{profile}", durationOK: true, policyOK: true}
}

// profileMode reads mode, which decides which other keys are allowed.
func (p *parser) profileMode(st *profileState) {
	k := st.n.Child("mode")
	if k == nil {
		return
	}
	s, ok := p.str(k)
	if !ok {
		return
	}
	switch Mode(s) {
	case ModeSession, ModeFederation:
		st.pr.Mode, st.modeWritten = Mode(s), true
	default:
		p.errf(k, `%q is not a mode; use "session" (GetSessionToken) or "federation" (GetFederationToken)`, s)
	}
}

// readProfileKeys reads the keys of the profile in file order, refusing
// unknown keys and keys of the other mode.
func (p *parser) readProfileKeys(st *profileState) {
	for _, k := range st.n.Kids {
		key := k.Last()
		i := slices.IndexFunc(profileKeys, func(pk profileKey) bool { return pk.name == key })
		if i < 0 {
			p.errf(k, "%s", suggest(key, profileKeyNames))
			continue
		}
		pk := profileKeys[i]
		if pk.mode != "" && pk.mode != st.pr.Mode {
			suffix := ""
			if !st.modeWritten {
				suffix = " (the default)"
			}
			p.errf(k, "belongs to %s mode, but this profile uses %s mode%s; set mode = %q or remove the key", pk.mode, st.pr.Mode, suffix, pk.mode)
			continue
		}
		if pk.read != nil {
			pk.read(p, st, k)
		}
	}
}

func (p *parser) sourceProfileKey(st *profileState, k *tomlpos.Node) {
	if s, ok := p.nonEmpty(k); ok {
		st.pr.SourceProfile = s
		if s == st.pr.Name {
			p.errf(k, "%q is this profile itself: stsd would call its own credential_process for its source key; name the AWS profile that holds the IAM user's long-term key", s)
		}
	}
}

func (p *parser) durationKey(st *profileState, k *tomlpos.Node) {
	d, ok := p.duration(k)
	st.durationOK = ok
	switch {
	case !ok:
	case d < minDuration:
		p.errf(k, "%q is shorter than 15m (STS allows 15m..36h)", k.Value)
		st.durationOK = false
	case d > maxDuration:
		p.errf(k, "%q is longer than 36h (STS allows 15m..36h)", k.Value)
		st.durationOK = false
	default:
		st.pr.Duration = d
	}
}

func (p *parser) regionKey(st *profileState, k *tomlpos.Node) {
	if s, ok := p.str(k); ok {
		if !regionRe.MatchString(s) {
			p.errf(k, `%q is not an AWS region name such as "us-east-1", "eu-west-1", "cn-north-1" or "us-gov-west-1"`, s)
		} else {
			st.pr.Region = s
		}
	}
}

// imdsListenKey reads imds_listen: a loopback address, or the instance
// metadata address 169.254.169.254 for at most one profile (the host's
// "instance role").
func (p *parser) imdsListenKey(st *profileState, k *tomlpos.Node) {
	st.imds = k
	if s, ok := k.Value.(string); ok {
		host, _, _ := net.SplitHostPort(s)
		if a, err := netip.ParseAddr(host); err == nil && a.Is4() && a.IsLinkLocalUnicast() {
			if first := p.instanceProfile; first != nil {
				p.errf(k, "169.254.169.254 already serves profile %q (line %d): the instance address has one role; serve this profile on 127.0.0.1", first.pr.Name, first.imds.Line)
				return
			}
			if s, ok := p.linkLocalListener(k, linklocal.InstanceMetadata); ok {
				st.pr.IMDSListen, st.imdsLinkLocal, p.instanceProfile = s, true, st
			}
			return
		}
	}
	if s, ok := p.listener(k, true); ok {
		st.pr.IMDSListen = s
	}
}

func (p *parser) allowedUIDsKey(st *profileState, k *tomlpos.Node) {
	if a, ok := p.array(k, "integer uids"); ok {
		for i, v := range a {
			uid, msg := uidValue(v)
			if msg != "" {
				p.errAt(k.Line, elem(k, i), msg)
				continue
			}
			st.pr.AllowedUIDs = append(st.pr.AllowedUIDs, uid)
		}
	}
}

func (p *parser) mfaSerialKey(st *profileState, k *tomlpos.Node) {
	if s, ok := p.str(k); ok {
		if msg := checkChars(s, 9, 256, serialChar, "an MFA serial", "letters, digits and _+=/:,.@-"); msg != "" {
			p.errf(k, "%q %s; use the device ARN (arn:aws:iam::123456789012:mfa/alice) or a hardware serial (GAHT12345678)", s, msg)
		} else {
			st.pr.MFASerial = s
		}
	}
}

// profileTiming checks refresh_before and mfa_reminder against duration.
func (p *parser) profileTiming(st *profileState) {
	pr := st.pr
	if k := st.refresh; k != nil {
		switch {
		case pr.RefreshBefore < minRefreshBefore:
			p.errf(k, "%q is shorter than 1m; refreshing later than that races the expiry", k.Value)
		case st.durationOK && pr.RefreshBefore >= pr.Duration:
			p.errf(k, "%q is not shorter than duration (%s): credentials would be refreshed as soon as they arrive", k.Value, fmtDur(pr.Duration))
		}
	}
	if k := st.reminder; k != nil {
		switch {
		case pr.MFAReminder < time.Minute:
			p.errf(k, "%q is shorter than 1m, too late to type a code", k.Value)
		case st.durationOK && pr.MFAReminder >= pr.Duration:
			p.errf(k, "%q is not shorter than duration (%s): stsd would ask for a code as soon as credentials arrive", k.Value, fmtDur(pr.Duration))
		}
	}
}

// sessionMFAKeys reports the session keys that need mfa_serial when it is
// missing.
func (p *parser) sessionMFAKeys(st *profileState) {
	if st.pr.Mode != ModeSession || st.pr.MFASerial != "" || st.n.Child("mfa_serial") != nil {
		return
	}
	for _, pk := range profileKeys {
		if pk.mode != ModeSession || pk.name == "mfa_serial" {
			continue
		}
		if k := st.n.Child(pk.name); k != nil {
			p.errf(k, "has no effect without mfa_serial; set mfa_serial or remove this key")
		}
	}
}

// profileEndpoints checks imds_listen: who may connect to it, and the keys
// that only mean something with it.
func (p *parser) profileEndpoints(st *profileState) {
	pr := st.pr
	if st.imds != nil && pr.IMDSListen != "" {
		if !p.tcpPeerCheck && !pr.IMDSAnyLocalUser {
			p.errf(st.imds, "this OS cannot tell which local user opened a TCP connection, so any local user could read these credentials; set imds_any_local_user = true to accept that, or use credential_process")
		}
		if p.o.System && len(pr.AllowedUIDs) == 0 && !pr.IMDSAnyLocalUser {
			p.errf(st.imds, "the system layout needs allowed_uids for imds_listen (the daemon's own uid is no user's); list the uids that may read this profile")
		}
	}
	if st.imds == nil {
		for _, k := range []*tomlpos.Node{st.imdsV1, st.anyLocalUser} {
			if k != nil {
				p.errf(k, "has no effect without imds_listen; set imds_listen or remove this key")
			}
		}
	}
	if k := st.replace; k != nil && !st.imdsLinkLocal {
		p.errf(k, `has no effect without imds_listen = "169.254.169.254:80"; set that or remove this key`)
	}
	if k := st.ctrCIDRs; k != nil && !st.imdsLinkLocal && (p.cfg.ECS == nil || p.cfg.ECS.ContainerListen == "") {
		p.errf(k, `has no effect: containers reach stsd only on the link-local listeners; set imds_listen = "169.254.169.254:80" or [ecs] container_listen = "169.254.170.2:80", or remove this key`)
	}
}

// profileCross runs the checks that need the whole file: source profiles
// that are stsd profiles, federated names with each broker client, listener
// scoping and the [default]-source warning.
func (p *parser) profileCross(st *profileState) {
	pr := st.pr
	if src := st.n.Child("source_profile"); src != nil && pr.SourceProfile != "" && pr.SourceProfile != pr.Name {
		if _, ok := p.cfg.Profiles[pr.SourceProfile]; ok {
			p.errf(src, "%q is an stsd profile: its credentials are temporary, and STS refuses temporary credentials for %s; name the AWS profile that holds the IAM user's long-term key", pr.SourceProfile, opName(pr.Mode))
		}
	}
	if pr.Mode == ModeFederation && st.nameOK {
		p.checkFederationName(st)
	}
	if st.usesClient && pr.IMDSListen != "" {
		p.errf(st.n.Child("imds_listen"), "a profile whose name uses {client} is served by the broker only; remove imds_listen or the {client} placeholder")
	}
	if src := st.n.Child("source_profile"); src != nil && pr.SourceProfile == "default" {
		var via []string
		if pr.IMDSListen != "" {
			via = append(via, "IMDS (imds_listen)")
		}
		if p.cfg.ECS != nil {
			via = append(via, "ECS ([ecs])")
		}
		if len(via) > 0 {
			p.warnf(src, `is "default" while this profile is served over %s: botocore reads the shared credentials file's [default] before IMDS/ECS, so those clients would silently use the long-term key; move the key to a profile with another name`, strings.Join(via, " and "))
		}
	}
}

func opName(m Mode) string {
	if m == ModeFederation {
		return "GetFederationToken"
	}
	return "GetSessionToken"
}
