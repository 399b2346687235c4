package config

import (
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/stsd/stsd/config/internal/tomlpos"
)

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

// federationPolicy reads policy or policy_file (not both), minifies it into
// Profile.Policy and checks the size of the policy and ARNs together.
func (p *parser) federationPolicy(st *profileState) {
	pr := st.pr
	switch {
	case st.policy != nil && st.policyFile != nil:
		second := st.policy
		if st.policyFile.Line > st.policy.Line {
			second = st.policyFile
		}
		p.errf(second, "set either policy or policy_file, not both")
		st.policyOK = false
	case st.policyFile != nil && st.policyOK:
		st.policyText, st.policyOK = p.readPolicyFile(st.policyFile, pr.PolicyFile)
	}
	src := st.policy
	if st.policyFile != nil {
		src = st.policyFile
	}
	if src != nil && st.policyOK {
		what := "the policy"
		if src == st.policyFile {
			what = "policy file " + pr.PolicyFile
		}
		if min, msg := minifyPolicy(st.policyText); msg != "" {
			p.errf(src, "%s %s", what, msg)
			st.policyOK = false
		} else {
			pr.Policy = min
		}
	}
	if st.policyOK {
		p.policySize(src, st.arns, pr)
	}
}

// federationPermissions refuses a federation profile without a session
// policy: GetFederationToken then returns credentials with no permissions.
func (p *parser) federationPermissions(st *profileState) {
	if st.policy == nil && st.policyFile == nil && st.arns == nil {
		p.errAt(st.n.Line, st.n.Name(), "a federation profile needs policy, policy_file or policy_arns: GetFederationToken without a session policy returns credentials with no permissions")
	}
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

// policyARNs reads a list of managed policy ARNs into dst.
func (p *parser) policyARNs(k *tomlpos.Node, dst *[]string) {
	if a, ok := k.Value.([]any); ok && len(a) > maxPolicyARNs {
		p.errf(k, "lists %d ARNs; STS allows at most %d managed session policies", len(a), maxPolicyARNs)
	}
	p.eachString(k, func(key, a string) {
		if n := utf8.RuneCountInString(a); !strings.HasPrefix(a, "arn:") || n < 20 || n > 2048 {
			p.errAt(k.Line, key, fmt.Sprintf(`%q is not a policy ARN (20..2048 characters starting "arn:", e.g. "arn:aws:iam::aws:policy/ReadOnlyAccess")`, a))
			return
		}
		*dst = append(*dst, a)
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
