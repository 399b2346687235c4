package config

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stsd/stsd/config/internal/tomlpos"
	"github.com/stsd/stsd/internal/linklocal"
)

var mfaPrompts = []string{"tty", "zenity", "kdialog", "osascript", "none"}

// profileKey is one key a [profiles.NAME] table may hold.
type profileKey struct {
	name  string
	modes []Mode // the modes the key belongs to; nil for every mode
	// read parses the key into st. It is nil for mode, which is read before
	// the other keys because which of them are allowed depends on it.
	read func(p *parser, st *profileState, k *tomlpos.Node)
}

// The modes keys belong to.
var (
	sessionKey    = []Mode{ModeSession}
	federationKey = []Mode{ModeFederation}
	roleKey       = []Mode{ModeRole}
	mfaKey        = []Mode{ModeSession, ModeRole}    // MFA: session, and role with source_profile
	policyKey     = []Mode{ModeFederation, ModeRole} // session policies and tags
)

// profileKeys is every key of a [profiles.NAME] table: the keys of every
// mode, then session (with the MFA keys roles share), federation and role
// mode, in the order messages list them.
var profileKeys = []profileKey{
	{"source_profile", nil, (*parser).sourceProfileKey},
	{"mode", nil, nil},
	{"duration", nil, (*parser).durationKey},
	{"region", nil, (*parser).regionKey},
	{"refresh_before", nil, func(p *parser, st *profileState, k *tomlpos.Node) {
		if d, ok := p.duration(k); ok {
			st.pr.RefreshBefore, st.refresh = d, k
		}
	}},
	{"imds_listen", nil, (*parser).imdsListenKey},
	{"imds_v1", nil, func(p *parser, st *profileState, k *tomlpos.Node) {
		st.pr.IMDSV1, _ = p.boolean(k)
		st.imdsV1 = k
	}},
	{"imds_any_local_user", nil, func(p *parser, st *profileState, k *tomlpos.Node) {
		st.pr.IMDSAnyLocalUser, _ = p.boolean(k)
		st.anyLocalUser = k
	}},
	{"allowed_uids", nil, (*parser).allowedUIDsKey},
	{"container_cidrs", nil, func(p *parser, st *profileState, k *tomlpos.Node) {
		st.pr.ContainerCIDRs, st.ctrCIDRs = p.cidrs(k), k
	}},
	{"replace_instance_metadata", nil, func(p *parser, st *profileState, k *tomlpos.Node) {
		st.pr.ReplaceInstanceMetadata, _ = p.boolean(k)
		st.replace = k
	}},

	{"mfa_serial", mfaKey, (*parser).mfaSerialKey},
	{"mfa_process", mfaKey, func(p *parser, st *profileState, k *tomlpos.Node) {
		if s, ok := p.nonEmpty(k); ok {
			st.pr.MFAProcess = s
		}
	}},
	{"mfa_prompt", mfaKey, func(p *parser, st *profileState, k *tomlpos.Node) {
		if s, ok := p.oneOf(k, mfaPrompts, "%q is not a prompt; use tty, zenity, kdialog, osascript or none"); ok {
			st.pr.MFAPrompt = s
		}
	}},
	{"mfa_reminder", mfaKey, func(p *parser, st *profileState, k *tomlpos.Node) {
		if d, ok := p.duration(k); ok {
			st.pr.MFAReminder, st.reminder = d, k
		}
	}},
	{"notify_command", mfaKey, func(p *parser, st *profileState, k *tomlpos.Node) {
		if s, ok := p.nonEmpty(k); ok {
			st.pr.NotifyCommand = s
		}
	}},
	{"console_name", sessionKey, func(p *parser, st *profileState, k *tomlpos.Node) {
		if s, ok := p.str(k); ok {
			st.consoleTmpl = s
		}
	}},
	{"console_policy_arns", sessionKey, func(p *parser, st *profileState, k *tomlpos.Node) {
		st.consoleARNs = k
		p.policyARNs(k, &st.pr.ConsolePolicyARNs)
	}},

	{"name", federationKey, func(p *parser, st *profileState, k *tomlpos.Node) {
		if s, ok := p.str(k); ok {
			st.nameTmpl = s
		} else {
			st.nameTmpl = ""
		}
	}},
	{"policy", policyKey, func(p *parser, st *profileState, k *tomlpos.Node) {
		st.policy = k
		if s, ok := p.str(k); ok {
			st.policyText = s
		} else {
			st.policyOK = false
		}
	}},
	{"policy_file", policyKey, func(p *parser, st *profileState, k *tomlpos.Node) {
		st.policyFile = k
		if path, ok := p.filePath(k); ok {
			st.pr.PolicyFile = path
		} else {
			st.policyOK = false
		}
	}},
	{"policy_arns", policyKey, func(p *parser, st *profileState, k *tomlpos.Node) {
		st.arns = k
		p.policyARNs(k, &st.pr.PolicyARNs)
	}},
	{"tags", policyKey, func(p *parser, st *profileState, k *tomlpos.Node) { p.tags(k, st.pr) }},

	{"role_arn", roleKey, (*parser).roleARNKey},
	{"via_profile", roleKey, (*parser).viaProfileKey},
	{"external_id", roleKey, func(p *parser, st *profileState, k *tomlpos.Node) {
		if s, ok := p.str(k); ok {
			if msg := checkChars(s, 2, 1224, externalIDChar, "an external id", "letters, digits and _+=,.@:/-"); msg != "" {
				// Never quote the value: an external id is often treated as a shared secret.
				p.errf(k, "%s", msg)
			} else {
				st.pr.ExternalID = s
			}
		}
	}},
	{"role_session_name", roleKey, func(p *parser, st *profileState, k *tomlpos.Node) {
		if s, ok := p.str(k); ok {
			st.sessionTmpl = s
		}
	}},
	{"source_identity", roleKey, func(p *parser, st *profileState, k *tomlpos.Node) {
		if s, ok := p.str(k); ok {
			if msg := checkChars(s, 2, 64, nameChar, "a source identity", "letters, digits and _+=,.@-"); msg != "" {
				p.errf(k, "%q %s", s, msg)
			} else {
				st.pr.SourceIdentity = s
			}
		}
	}},
	{"transitive_tag_keys", roleKey, func(p *parser, st *profileState, k *tomlpos.Node) { st.transitive = k }},
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

	sessionTmpl       string        // role_session_name as written (the default when absent)
	consoleTmpl       string        // console_name as written (the default when absent)
	consoleARNs       *tomlpos.Node // console_policy_arns
	transitive        *tomlpos.Node // transitive_tag_keys
	imdsLinkLocal     bool          // imds_listen is 169.254.169.254
	ctrCIDRs, replace *tomlpos.Node
}

// profile reads one [profiles.NAME] table: mode first, then every key, then
// the checks between keys. It returns nil when n is not a table.
func (p *parser) profile(n *tomlpos.Node) *profileState {
	name := n.Last()
	if !p.table(n) {
		return nil
	}
	validName := isProfileName(name) && !strings.HasPrefix(name, ".")
	if !validName {
		p.errf(n, "invalid profile name: use 1..64 letters, digits and _+=,.@-, not starting with \".\" (it names cache files and URL paths)")
	}
	st := newProfileState(n)
	p.profileMode(st)
	p.readProfileKeys(st)
	if st.pr.Mode != ModeRole {
		p.require(n, "source_profile", "name the AWS profile that holds the IAM user's long-term key (static keys or a credential_process returning an AKIA… key)")
	}
	p.profileTiming(st)
	p.sessionMFAKeys(st)
	switch st.pr.Mode {
	case ModeSession:
		p.consoleKeys(st)
	case ModeFederation:
		p.federationName(st)
		p.federationPolicy(st)
		p.federationPermissions(st)
	case ModeRole:
		p.roleProfile(st)
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
	return &profileState{n: n, pr: pr, nameTmpl: "{profile}", durationOK: true, policyOK: true,
		sessionTmpl: defaultSessionName, consoleTmpl: defaultConsoleName}
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
	case ModeRole:
		st.pr.Mode, st.modeWritten = ModeRole, true
		st.pr.Duration = defaultRoleDuration
	default:
		p.errf(k, `%q is not a mode; use "session" (GetSessionToken), "federation" (GetFederationToken) or "role" (AssumeRole)`, s)
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
		if pk.modes != nil && !slices.Contains(pk.modes, st.pr.Mode) {
			suffix := ""
			if !st.modeWritten {
				suffix = " (the default)"
			}
			p.errf(k, "belongs to %s, but this profile uses %s mode%s; %s", modeNames(pk.modes), st.pr.Mode, suffix, setMode(pk.modes))
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
	hi, allows, why := maxDuration, "STS allows 15m..36h", ""
	if st.pr.Mode == ModeRole {
		hi, allows = maxRoleDuration, "STS allows role sessions of 15m..12h, and at most the role's MaxSessionDuration"
		if st.n.Child("via_profile") != nil {
			hi, allows = maxChainedDuration, "STS allows 15m..1h with via_profile"
			why = ": AssumeRole with another profile's temporary credentials is role chaining, which AWS caps at 1h; use source_profile (the long-term key) for longer sessions"
		}
	}
	switch {
	case !ok:
	case d < minDuration:
		p.errf(k, "%q is shorter than 15m (%s)", k.Value, allows)
		st.durationOK = false
	case d > hi && why != "":
		p.errf(k, "%q is longer than %s%s", k.Value, fmtDur(hi), why)
		st.durationOK = false
	case d > hi:
		p.errf(k, "%q is longer than %s (%s)", k.Value, fmtDur(hi), allows)
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
	if !slices.Contains(mfaKey, st.pr.Mode) || st.pr.MFASerial != "" || st.n.Child("mfa_serial") != nil {
		return
	}
	if st.pr.Mode == ModeRole && st.n.Child("via_profile") != nil {
		return // roleProfile refuses every MFA key with via_profile
	}
	for _, pk := range profileKeys {
		if !slices.Equal(pk.modes, mfaKey) || pk.name == "mfa_serial" {
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
		_, ok := p.cfg.Profiles[pr.SourceProfile]
		switch {
		case ok && pr.Mode == ModeRole:
			p.errf(src, "%q is an stsd profile, whose credentials are temporary; to assume the role with them write via_profile = %q instead", pr.SourceProfile, pr.SourceProfile)
		case ok:
			p.errf(src, "%q is an stsd profile: its credentials are temporary, and STS refuses temporary credentials for %s; name the AWS profile that holds the IAM user's long-term key", pr.SourceProfile, opName(pr.Mode))
		}
	}
	if pr.Mode == ModeRole {
		p.roleCross(st)
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

// modeNames is "federation mode" or "federation and role modes".
func modeNames(ms []Mode) string {
	if len(ms) == 1 {
		return string(ms[0]) + " mode"
	}
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = string(m)
	}
	return strings.Join(names[:len(ms)-1], ", ") + " and " + names[len(ms)-1] + " modes"
}

// setMode says which mode to set for a key of modes ms.
func setMode(ms []Mode) string {
	if len(ms) == 1 {
		return fmt.Sprintf("set mode = %q or remove the key", ms[0])
	}
	quoted := make([]string, len(ms))
	for i, m := range ms {
		quoted[i] = strconv.Quote(string(m))
	}
	return "set mode = " + strings.Join(quoted[:len(ms)-1], ", ") + " or " + quoted[len(ms)-1] + ", or remove the key"
}
