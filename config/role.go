package config

import (
	"fmt"
	"os/user"
	"strings"
	"time"

	"github.com/stsd/stsd/config/internal/tomlpos"
)

// AssumeRole limits (STS API reference, API_AssumeRole.html): a role
// session lasts 900..43200 s and at most the role's MaxSessionDuration;
// called with any temporary credentials (GetSessionToken's included) it is
// role chaining, capped at 1 h.
const (
	defaultRoleDuration = time.Hour
	maxRoleDuration     = 12 * time.Hour
	maxChainedDuration  = time.Hour
	maxTransitiveTags   = 50

	defaultSessionName = "stsd-{user}-{hostname}"
	defaultConsoleName = "{user}"
)

// mfaKeyNames are the keys that only mean something with an MFA device.
var mfaKeyNames = []string{"mfa_serial", "mfa_process", "mfa_prompt", "mfa_reminder", "notify_command"}

// externalIDChar is STS's [\w+=,.@:\/-] (ExternalId).
func externalIDChar(r rune) bool { return isWord(r) || strings.ContainsRune("+=,.@:/-", r) }

func (p *parser) roleARNKey(st *profileState, k *tomlpos.Node) {
	s, ok := p.str(k)
	if !ok {
		return
	}
	if _, ok := roleARNPartition(s); !ok || len(s) > 2048 {
		p.errf(k, `%q is not a role ARN; write arn:PARTITION:iam::ACCOUNT:role/NAME, e.g. "arn:aws:iam::123456789012:role/admin"`, s)
		return
	}
	st.pr.RoleARN = s
}

func (p *parser) viaProfileKey(st *profileState, k *tomlpos.Node) {
	s, ok := p.nonEmpty(k)
	if !ok {
		return
	}
	if s == st.pr.Name {
		p.errf(k, "%q is this profile itself; name the stsd session or role profile whose credentials assume the role", s)
		return
	}
	st.pr.ViaProfile = s
}

// roleProfile runs the checks between a role profile's keys: the caller
// (via_profile or source_profile, exactly one), role_arn, MFA only with the
// long-term key, the session name, session policies and transitive tags.
func (p *parser) roleProfile(st *profileState) {
	n := st.n
	via, src := n.Child("via_profile"), n.Child("source_profile")
	switch {
	case via != nil && src != nil:
		second := via
		if src.Line > via.Line {
			second = src
		}
		p.errf(second, "set either via_profile (an stsd profile whose credentials assume the role) or source_profile (an AWS profile with the IAM user's long-term key), not both")
	case via == nil && src == nil:
		p.errAt(n.Line, n.Name()+".via_profile", "missing: a role profile assumes the role with via_profile (an stsd session or role profile) or source_profile (an AWS profile with the IAM user's long-term key); set one")
	}
	p.require(n, "role_arn", `the ARN of the role to assume, e.g. "arn:aws:iam::123456789012:role/admin"`)
	if via != nil {
		for _, name := range mfaKeyNames {
			if k := n.Child(name); k != nil {
				p.errf(k, "applies only with source_profile: with via_profile the MFA code belongs to the parent's session; set it on profile %q", st.pr.ViaProfile)
			}
		}
	}
	p.roleSessionName(st)
	p.federationPolicy(st)
	p.transitiveTags(st)
}

// roleSessionName expands role_session_name (default
// stsd-{user}-{hostname}, cut to 64 characters).
func (p *parser) roleSessionName(st *profileState) {
	k := st.n.Child("role_session_name")
	name, ok := p.expand(k, st.sessionTmpl, st.pr.Name)
	if !ok {
		return
	}
	if k == nil {
		st.pr.RoleSessionName = truncate(name, 64)
		return
	}
	if msg := checkChars(name, 2, 64, nameChar, "a role session name", "letters, digits and _+=,.@-"); msg != "" {
		what := fmt.Sprintf("%q", name)
		if name != st.sessionTmpl {
			what = fmt.Sprintf("%q expands to %q, which", st.sessionTmpl, name)
		}
		p.errf(k, "%s %s", what, msg)
		return
	}
	st.pr.RoleSessionName = name
}

// transitiveTags checks transitive_tag_keys: each names one of tags.
func (p *parser) transitiveTags(st *profileState) {
	k := st.transitive
	if k == nil {
		return
	}
	if a, ok := k.Value.([]any); ok && len(a) > maxTransitiveTags {
		p.errf(k, "lists %d keys; STS allows at most %d transitive tag keys", len(a), maxTransitiveTags)
	}
	p.eachString(k, func(key, s string) {
		for t := range st.pr.Tags {
			if strings.EqualFold(t, s) {
				st.pr.TransitiveTagKeys = append(st.pr.TransitiveTagKeys, t)
				return
			}
		}
		p.errAt(k.Line, key, fmt.Sprintf("%q is not a key of tags: a transitive tag key names one of this session's tags; add it to tags or remove it", s))
	})
}

// roleCross checks via_profile against the other profiles: it exists, is
// not a federation profile, and the chain ends.
func (p *parser) roleCross(st *profileState) {
	pr := st.pr
	k := st.n.Child("via_profile")
	if k == nil || pr.ViaProfile == "" {
		return
	}
	parent, ok := p.cfg.Profiles[pr.ViaProfile]
	switch {
	case !ok:
		p.errf(k, "%q is not a profile in this file; add [profiles.%s] or fix the name", pr.ViaProfile, pr.ViaProfile)
	case parent.Mode == ModeFederation:
		p.errf(k, "%q is a federation profile: GetFederationToken credentials cannot call AssumeRole; name a session or role profile", pr.ViaProfile)
	default:
		if chain := p.viaLoop(pr); chain != nil {
			p.errf(k, "the via_profile chain %s loops back to this profile; end it at a session profile or a role profile with source_profile", strings.Join(chain, " → "))
		}
	}
}

// viaLoop returns the chain of via_profile names from pr when it comes
// back to pr, else nil (a loop elsewhere is reported by its own members).
func (p *parser) viaLoop(pr *Profile) []string {
	chain := []string{pr.Name}
	seen := map[string]bool{pr.Name: true}
	for cur := pr; cur.ViaProfile != ""; {
		next := p.cfg.Profiles[cur.ViaProfile]
		if next == nil {
			return nil
		}
		chain = append(chain, next.Name)
		if next.Name == pr.Name {
			return chain
		}
		if seen[next.Name] {
			return nil
		}
		seen[next.Name] = true
		cur = next
	}
	return nil
}

// chainFingerprints sets every role profile's ParentFingerprint, parents
// first. It runs on a config without problems (so without loops).
func (c *Config) chainFingerprints() {
	done := map[string]bool{}
	var visit func(pr *Profile, depth int)
	visit = func(pr *Profile, depth int) {
		if done[pr.Name] || depth > len(c.Profiles) {
			return
		}
		if parent := c.Profiles[pr.ViaProfile]; parent != nil {
			visit(parent, depth+1)
			pr.ParentFingerprint = parent.Fingerprint("")
		}
		done[pr.Name] = true
	}
	for _, name := range c.ProfileNames() {
		visit(c.Profiles[name], 0)
	}
}

// consoleKeys expands console_name (default {user}: when that does not
// make a federated user name, ConsoleName stays "" and `stsd console`
// asks for console_name) and defaults console_policy_arns to the
// partition's AdministratorAccess, which leaves the user's own permissions.
func (p *parser) consoleKeys(st *profileState) {
	pr := st.pr
	if st.consoleARNs == nil {
		pr.ConsolePolicyARNs = []string{"arn:" + pr.Partition() + ":iam::aws:policy/AdministratorAccess"}
	} else if a, ok := st.consoleARNs.Value.([]any); ok && len(a) == 0 {
		{
			p.errf(st.consoleARNs, "is empty: a console session without a policy has no permissions; list ARNs or remove the key for AdministratorAccess (the user's own permissions)")
		}
	}
	k := st.n.Child("console_name")
	name, ok := p.expand(k, st.consoleTmpl, pr.Name)
	if !ok {
		return
	}
	msg := checkChars(name, 2, 32, nameChar, "a federated user name", "letters, digits and _+=,.@-")
	switch {
	case msg == "":
		pr.ConsoleName = name
	case k != nil && name == st.consoleTmpl:
		p.errf(k, "%q %s", name, msg)
	case k != nil:
		p.errf(k, "%q expands to %q, which %s", st.consoleTmpl, name, msg)
	}
}

// expand replaces {user}, {hostname} and {profile} in tmpl, the value of
// k (nil: the default). It reports unknown placeholders at k.
func (p *parser) expand(k *tomlpos.Node, tmpl, profile string) (string, bool) {
	out := strings.ReplaceAll(tmpl, "{profile}", profile)
	for _, ph := range placeholderRe.FindAllString(out, -1) {
		if ph != "{user}" && ph != "{hostname}" {
			p.errf(k, "unknown placeholder %s in %q; use {user}, {hostname} or {profile}", ph, tmpl)
			return "", false
		}
	}
	if strings.Contains(out, "{hostname}") {
		h, err := p.host()
		if err != nil {
			if k == nil {
				h = "host"
			} else {
				p.errf(k, "cannot expand {hostname}: %v", err)
				return "", false
			}
		}
		out = strings.ReplaceAll(out, "{hostname}", hostLabel(h))
	}
	if strings.Contains(out, "{user}") {
		out = strings.ReplaceAll(out, "{user}", p.userLabel())
	}
	return out, true
}

// userLabel is the login name of the user running stsd (Options.User),
// without a Windows domain, with every character STS does not allow in a
// name replaced by '-'.
func (p *parser) userLabel() string {
	u := p.o.User
	if u == "" {
		if cur, err := user.Current(); err == nil {
			u = cur.Username
		}
	}
	if i := strings.LastIndexByte(u, '\\'); i >= 0 {
		u = u[i+1:]
	}
	if u == "" {
		u = "user"
	}
	return strings.Map(func(r rune) rune {
		if nameChar(r) {
			return r
		}
		return '-'
	}, u)
}

func truncate(s string, n int) string {
	if len(s) > n { // names are ASCII after hostLabel/userLabel
		return s[:n]
	}
	return s
}

// Partition is the AWS partition the profile's credentials belong to: the
// role ARN's for a role profile, else the region's.
func (p *Profile) Partition() string {
	if part, ok := roleARNPartition(p.RoleARN); ok {
		return part
	}
	return RegionPartition(p.Region)
}

// RegionPartition is the AWS partition of a region name: aws-cn for cn-*,
// aws-us-gov for us-gov-*, aws-iso for us-iso-*, aws-iso-b for us-isob-*,
// aws-eusc for eusc-*, else aws.
func RegionPartition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "eusc-"):
		return "aws-eusc"
	}
	return "aws"
}
