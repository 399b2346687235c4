package config

import (
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stsd/stsd/config/internal/tomlpos"
)

var (
	sessionKeys    = []string{"mfa_serial", "mfa_process", "mfa_prompt", "mfa_reminder", "notify_command"}
	federationKeys = []string{"name", "policy", "policy_file", "policy_arns", "tags"}
	commonKeys     = []string{"source_profile", "mode", "duration", "region", "refresh_before", "imds_listen", "imds_v1", "imds_any_local_user", "allowed_uids"}
	profileKeys    = slices.Concat(commonKeys, sessionKeys, federationKeys)
	mfaPrompts     = []string{"tty", "zenity", "kdialog", "osascript", "none"}
)

// maxPolicyFile bounds how much of a policy file is read; STS takes 2048
// characters after minifying, so anything near this is a mistake.
const maxPolicyFile = 1 << 20

// profileState carries what the cross-profile checks need.
type profileState struct {
	n          *tomlpos.Node
	pr         *Profile
	nameTmpl   string // `name` as written ("{profile}" by default)
	nameOK     bool   // placeholders valid, FederationName set
	usesClient bool
}

func (p *parser) profile(n *tomlpos.Node) *profileState {
	name := n.Last()
	if !p.table(n) {
		return nil
	}
	validName := profileName.MatchString(name) && !strings.HasPrefix(name, ".")
	if !validName {
		p.errf(n, "invalid profile name: use 1..64 letters, digits and _+=,.@-, not starting with \".\" (it names cache files and URL paths)")
	}
	pr := &Profile{
		Name:          name,
		Line:          n.Line,
		Mode:          ModeSession,
		Duration:      defaultDuration,
		Region:        defaultRegion,
		RefreshBefore: defaultRefreshBefore,
		MFAPrompt:     "tty",
		MFAReminder:   defaultMFAReminder,
	}
	st := &profileState{n: n, pr: pr, nameTmpl: "{profile}"}

	modeWritten := false
	if k := n.Child("mode"); k != nil {
		if s, ok := p.str(k); ok {
			switch Mode(s) {
			case ModeSession, ModeFederation:
				pr.Mode = Mode(s)
				modeWritten = true
			default:
				p.errf(k, `%q is not a mode; use "session" (GetSessionToken) or "federation" (GetFederationToken)`, s)
			}
		}
	}

	var (
		durationOK                   = true
		refreshNode, reminderNode    *tomlpos.Node
		policyNode, policyFileNode   *tomlpos.Node
		arnsNode                     *tomlpos.Node
		policyText                   string
		policyOK                     = true
		imdsNode, v1Node, anyUidNode *tomlpos.Node
	)
	for _, k := range n.Kids {
		key := k.Last()
		if !slices.Contains(profileKeys, key) {
			p.errf(k, "%s", suggest(key, profileKeys))
			continue
		}
		if other := otherModeKey(pr.Mode, key); other != "" {
			suffix := ""
			if !modeWritten {
				suffix = " (the default)"
			}
			p.errf(k, "belongs to %s mode, but this profile uses %s mode%s; %s or remove the key", other, pr.Mode, suffix, map[string]string{
				"federation": `set mode = "federation"`,
				"session":    `set mode = "session"`,
			}[other])
			continue
		}
		switch key {
		case "mode": // read above
		case "source_profile":
			if s, ok := p.nonEmpty(k); ok {
				pr.SourceProfile = s
				if s == name {
					p.errf(k, "%q is this profile itself: stsd would call its own credential_process for its source key; name the AWS profile that holds the IAM user's long-term key", s)
				}
			}
		case "duration":
			d, ok := p.duration(k)
			durationOK = ok
			switch {
			case !ok:
			case d < minDuration:
				p.errf(k, "%q is shorter than 15m (STS allows 15m..36h)", k.Value)
				durationOK = false
			case d > maxDuration:
				p.errf(k, "%q is longer than 36h (STS allows 15m..36h)", k.Value)
				durationOK = false
			default:
				pr.Duration = d
			}
		case "region":
			if s, ok := p.str(k); ok {
				if !regionRe.MatchString(s) {
					p.errf(k, `%q is not an AWS region name such as "us-east-1", "eu-west-1", "cn-north-1" or "us-gov-west-1"`, s)
				} else {
					pr.Region = s
				}
			}
		case "refresh_before":
			if d, ok := p.duration(k); ok {
				pr.RefreshBefore, refreshNode = d, k
			}
		case "mfa_serial":
			if s, ok := p.str(k); ok {
				if msg := checkChars(s, 9, 256, serialChar, "an MFA serial", "letters, digits and _+=/:,.@-"); msg != "" {
					p.errf(k, "%q %s; use the device ARN (arn:aws:iam::123456789012:mfa/alice) or a hardware serial (GAHT12345678)", s, msg)
				} else {
					pr.MFASerial = s
				}
			}
		case "mfa_process":
			if s, ok := p.nonEmpty(k); ok {
				pr.MFAProcess = s
			}
		case "mfa_prompt":
			if s, ok := p.str(k); ok {
				if !slices.Contains(mfaPrompts, s) {
					p.errf(k, "%q is not a prompt; use tty, zenity, kdialog, osascript or none", s)
				} else {
					pr.MFAPrompt = s
				}
			}
		case "mfa_reminder":
			if d, ok := p.duration(k); ok {
				pr.MFAReminder, reminderNode = d, k
			}
		case "notify_command":
			if s, ok := p.nonEmpty(k); ok {
				pr.NotifyCommand = s
			}
		case "imds_listen":
			if s, ok := p.listener(k, true); ok {
				pr.IMDSListen = s
			}
			imdsNode = k
		case "imds_v1":
			pr.IMDSV1, _ = p.boolean(k)
			v1Node = k
		case "imds_any_local_user":
			pr.IMDSAnyLocalUser, _ = p.boolean(k)
			anyUidNode = k
		case "allowed_uids":
			if a, ok := p.array(k, "integer uids"); ok {
				for i, v := range a {
					uid, msg := uidValue(v)
					if msg != "" {
						p.errAt(k.Line, elem(k, i), msg)
						continue
					}
					pr.AllowedUIDs = append(pr.AllowedUIDs, uid)
				}
			}
		case "name":
			if s, ok := p.str(k); ok {
				st.nameTmpl = s
			} else {
				st.nameTmpl = ""
			}
		case "policy":
			policyNode = k
			if s, ok := p.str(k); ok {
				policyText = s
			} else {
				policyOK = false
			}
		case "policy_file":
			policyFileNode = k
			if path, ok := p.filePath(k); ok {
				pr.PolicyFile = path
			} else {
				policyOK = false
			}
		case "policy_arns":
			arnsNode = k
			p.policyARNs(k, pr)
		case "tags":
			p.tags(k, pr)
		}
	}

	if pr.SourceProfile == "" && n.Child("source_profile") == nil {
		p.errAt(n.Line, n.Name()+".source_profile", "missing: name the AWS profile that holds the IAM user's long-term key (static keys or a credential_process returning an AKIA… key)")
	}

	// Timing.
	if refreshNode != nil {
		switch {
		case pr.RefreshBefore < minRefreshBefore:
			p.errf(refreshNode, "%q is shorter than 1m; refreshing later than that races the expiry", refreshNode.Value)
		case durationOK && pr.RefreshBefore >= pr.Duration:
			p.errf(refreshNode, "%q is not shorter than duration (%s): credentials would be refreshed as soon as they arrive", refreshNode.Value, fmtDur(pr.Duration))
		}
	}
	if reminderNode != nil {
		switch {
		case pr.MFAReminder < time.Minute:
			p.errf(reminderNode, "%q is shorter than 1m, too late to type a code", reminderNode.Value)
		case durationOK && pr.MFAReminder >= pr.Duration:
			p.errf(reminderNode, "%q is not shorter than duration (%s): stsd would ask for a code as soon as credentials arrive", reminderNode.Value, fmtDur(pr.Duration))
		}
	}

	// Session mode: the MFA keys need a serial.
	if pr.Mode == ModeSession && pr.MFASerial == "" && n.Child("mfa_serial") == nil {
		for _, key := range sessionKeys[1:] {
			if k := n.Child(key); k != nil {
				p.errf(k, "has no effect without mfa_serial; set mfa_serial or remove this key")
			}
		}
	}

	// Federation mode: name, policy, permissions.
	if pr.Mode == ModeFederation {
		p.federationName(st)
		switch {
		case policyNode != nil && policyFileNode != nil:
			second := policyNode
			if policyFileNode.Line > policyNode.Line {
				second = policyFileNode
			}
			p.errf(second, "set either policy or policy_file, not both")
			policyOK = false
		case policyFileNode != nil && policyOK:
			policyText, policyOK = p.readPolicyFile(policyFileNode, pr.PolicyFile)
		}
		src := policyNode
		if policyFileNode != nil {
			src = policyFileNode
		}
		if src != nil && policyOK {
			what := "the policy"
			if src == policyFileNode {
				what = "policy file " + pr.PolicyFile
			}
			if min, msg := minifyPolicy(policyText); msg != "" {
				p.errf(src, "%s %s", what, msg)
				policyOK = false
			} else {
				pr.Policy = min
			}
		}
		if policyOK {
			p.policySize(src, arnsNode, pr)
		}
		if src == nil && arnsNode == nil {
			p.errAt(n.Line, n.Name(), "a federation profile needs policy, policy_file or policy_arns: GetFederationToken without a session policy returns credentials with no permissions")
		}
	}

	// Local endpoints.
	if imdsNode != nil && pr.IMDSListen != "" {
		if !p.tcpPeerCheck && !pr.IMDSAnyLocalUser {
			p.errf(imdsNode, "this OS cannot tell which local user opened a TCP connection, so any local user could read these credentials; set imds_any_local_user = true to accept that, or use credential_process")
		}
		if p.o.System && len(pr.AllowedUIDs) == 0 && !pr.IMDSAnyLocalUser {
			p.errf(imdsNode, "the system layout needs allowed_uids for imds_listen (the daemon's own uid is no user's); list the uids that may read this profile")
		}
	}
	if imdsNode == nil {
		for _, k := range []*tomlpos.Node{v1Node, anyUidNode} {
			if k != nil {
				p.errf(k, "has no effect without imds_listen; set imds_listen or remove this key")
			}
		}
	}

	if validName {
		p.cfg.Profiles[name] = pr
	}
	return st
}

// otherModeKey returns the mode key belongs to when that is not m.
func otherModeKey(m Mode, key string) string {
	switch {
	case m == ModeSession && slices.Contains(federationKeys, key):
		return string(ModeFederation)
	case m == ModeFederation && slices.Contains(sessionKeys, key):
		return string(ModeSession)
	}
	return ""
}

// federationName checks the placeholders of `name` and expands {hostname}
// and {profile}; the length and characters are checked in profileCross,
// once the broker clients are known.
func (p *parser) federationName(st *profileState) {
	k := st.n.Child("name")
	if k != nil && st.nameTmpl == "" {
		if _, isStr := k.Value.(string); isStr {
			p.errf(k, "must not be empty; remove it for the default \"{profile}\" or name the federated user")
		}
		return
	}
	ok := true
	for _, ph := range placeholderRe.FindAllString(st.nameTmpl, -1) {
		switch ph {
		case "{hostname}", "{profile}":
		case "{client}":
			st.usesClient = true
			if p.cfg.Broker == nil {
				p.errf(k, "{client} needs a [broker] section: it expands to the name of the broker client asking")
				ok = false
			}
		default:
			p.errf(k, "unknown placeholder %s in %q; use {hostname}, {profile} or {client}", ph, st.nameTmpl)
			ok = false
		}
	}
	if !ok {
		return
	}
	name := strings.ReplaceAll(st.nameTmpl, "{profile}", st.pr.Name)
	if strings.Contains(name, "{hostname}") {
		h, err := p.host()
		if err != nil {
			p.errf(k, "cannot expand {hostname}: %v", err)
			return
		}
		name = strings.ReplaceAll(name, "{hostname}", hostLabel(h))
	}
	st.pr.FederationName = name
	st.nameOK = true
}

// readPolicyFile reads a policy_file after checking its owner and mode.
func (p *parser) readPolicyFile(k *tomlpos.Node, path string) (string, bool) {
	if !p.existingFile(k, path, kindConfig) {
		return "", false
	}
	f, err := os.Open(path)
	if err != nil {
		p.errf(k, "cannot read %s: %v", path, unwrapPath(err))
		return "", false
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPolicyFile+1))
	if err != nil {
		p.errf(k, "cannot read %s: %v", path, unwrapPath(err))
		return "", false
	}
	if len(b) > maxPolicyFile {
		p.errf(k, "%s is larger than 1 MiB; STS accepts 2048 characters of policy", path)
		return "", false
	}
	return string(b), true
}

func (p *parser) policyARNs(k *tomlpos.Node, pr *Profile) {
	if a, ok := k.Value.([]any); ok && len(a) > maxPolicyARNs {
		p.errf(k, "lists %d ARNs; STS allows at most %d managed session policies", len(a), maxPolicyARNs)
	}
	p.eachString(k, func(key, a string) {
		if n := utf8.RuneCountInString(a); !strings.HasPrefix(a, "arn:") || n < 20 || n > 2048 {
			p.errAt(k.Line, key, fmt.Sprintf(`%q is not a policy ARN (20..2048 characters starting "arn:", e.g. "arn:aws:iam::aws:policy/ReadOnlyAccess")`, a))
			return
		}
		pr.PolicyARNs = append(pr.PolicyARNs, a)
	})
}

// policySize applies STS's limit on the plaintext of the inline policy and
// the managed policy ARNs together.
func (p *parser) policySize(src, arnsNode *tomlpos.Node, pr *Profile) {
	pol := utf8.RuneCountInString(pr.Policy)
	arns := 0
	for _, a := range pr.PolicyARNs {
		arns += utf8.RuneCountInString(a)
	}
	total := pol + arns
	if total <= maxPolicyChars {
		return
	}
	at := src
	if at == nil {
		at = arnsNode
	}
	over := total - maxPolicyChars
	switch {
	case arns == 0:
		p.errf(at, "the policy is %d characters with whitespace already removed, %d over the STS limit of %d; shorten it or move statements into managed policies listed in policy_arns", pol, over, maxPolicyChars)
	case pol == 0:
		p.errf(at, "the ARNs total %d characters, %d over the STS limit of %d for policy and policy_arns together; list fewer ARNs", arns, over, maxPolicyChars)
	default:
		p.errf(at, "the policy (%d characters, whitespace already removed) and policy_arns (%d characters) total %d, %d over the STS limit of %d; shorten the policy or list fewer ARNs", pol, arns, total, over, maxPolicyChars)
	}
}

func (p *parser) tags(k *tomlpos.Node, pr *Profile) {
	if !k.Table {
		p.errf(k, `must be a table of strings such as { team = "build" }, not %s`, typeName(k.Value))
		return
	}
	if len(k.Kids) > maxTags {
		p.errf(k, "has %d tags; STS allows at most %d", len(k.Kids), maxTags)
	}
	seen := map[string]*tomlpos.Node{}
	tags := map[string]string{}
	for _, t := range k.Kids {
		key := t.Last()
		v, ok := t.Value.(string)
		if !ok {
			p.errf(t, "must be a string, not %s", typeName(t.Value))
			continue
		}
		if msg := checkChars(key, 1, 128, tagChar, "a tag key", "letters, digits, spaces and _.:/=+-@"); msg != "" {
			p.errf(t, "tag key %q %s", key, msg)
			continue
		}
		if msg := checkChars(v, 0, 256, tagChar, "a tag value", "letters, digits, spaces and _.:/=+-@"); msg != "" {
			p.errf(t, "%q %s", v, msg)
			continue
		}
		lk := strings.ToLower(key)
		if o := seen[lk]; o != nil {
			p.errf(t, "tag key %q duplicates %q (line %d): STS treats tag keys case-insensitively; keep one", key, o.Last(), o.Line)
			continue
		}
		seen[lk] = t
		tags[key] = v
	}
	if len(tags) > 0 {
		pr.Tags = tags
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

func (p *parser) checkFederationName(st *profileState) {
	pr := st.pr
	k := st.n.Child("name")
	line, key := st.n.Line, st.n.Name()+".name"
	if k != nil {
		line = k.Line
	}
	clients := []string{""}
	placeholder := false
	if st.usesClient {
		clients = nil
		if b := p.cfg.Broker; b != nil {
			for name, c := range b.Clients {
				if slices.Contains(c.Profiles, pr.Name) {
					clients = append(clients, name)
				}
			}
		}
		sort.Strings(clients)
		if len(clients) == 0 {
			// No client lists it yet: check with the shortest valid name.
			clients, placeholder = []string{"xx"}, true
		}
	}
	for _, c := range clients {
		name := strings.ReplaceAll(pr.FederationName, "{client}", c)
		msg := checkChars(name, 2, 32, nameChar, "a federated user name", "letters, digits and _+=,.@-")
		if msg == "" {
			continue
		}
		var what string
		switch {
		case k == nil:
			what = fmt.Sprintf("the default name {profile} gives %q, which", name)
		case name == st.nameTmpl:
			what = fmt.Sprintf("%q", name)
		default:
			what = fmt.Sprintf("%q expands to %q", st.nameTmpl, name)
			switch {
			case placeholder:
				what += " (with a 2-character client name)"
			case c != "":
				what += fmt.Sprintf(" for broker client %q", c)
			}
			what += ", which"
		}
		if k == nil {
			msg += "; set name"
		}
		p.errAt(line, key, what+" "+msg)
	}
}
