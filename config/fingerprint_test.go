package config_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/stsd/stsd/config"
)

func baseProfile() *config.Profile {
	return &config.Profile{
		Name: "ci", SourceProfile: "src", Mode: config.ModeFederation,
		Duration: 12 * time.Hour, Region: "us-east-1", RefreshBefore: 30 * time.Minute,
		FederationName: "{client}-ci", Policy: `{"Version":"2012-10-17"}`,
		PolicyARNs:      []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"},
		Tags:            map[string]string{"team": "build", "env": "ci"},
		CredentialsFile: "/home/a/.aws/credentials",
	}
}

func TestFingerprint(t *testing.T) {
	t.Parallel()
	base := baseProfile().Fingerprint("billing")
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(base) {
		t.Fatalf("Fingerprint = %q; want 64 hex digits", base)
	}
	for range 20 { // map order must not matter
		if got := baseProfile().Fingerprint("billing"); got != base {
			t.Fatalf("Fingerprint is not stable: %s then %s", base, got)
		}
	}

	changes := []struct {
		name   string
		mutate func(*config.Profile)
		client string
		same   bool
	}{
		{name: "mode", mutate: func(p *config.Profile) { p.Mode = config.ModeSession }},
		{name: "source profile", mutate: func(p *config.Profile) { p.SourceProfile = "other" }},
		{name: "credentials file", mutate: func(p *config.Profile) { p.CredentialsFile = "/etc/stsd/credentials" }},
		{name: "duration", mutate: func(p *config.Profile) { p.Duration = 13 * time.Hour }},
		{name: "region", mutate: func(p *config.Profile) { p.Region = "eu-west-1" }},
		{name: "name", mutate: func(p *config.Profile) { p.FederationName = "{client}-cd" }},
		{name: "policy", mutate: func(p *config.Profile) { p.Policy = `{"Version":"2008-10-17"}` }},
		{name: "arns", mutate: func(p *config.Profile) { p.PolicyARNs = nil }},
		{name: "tag value", mutate: func(p *config.Profile) { p.Tags["env"] = "prod" }},
		{name: "tag added", mutate: func(p *config.Profile) { p.Tags["x"] = "" }},
		{name: "tag key", mutate: func(p *config.Profile) { p.Tags = map[string]string{"team": "build", "env2": "ci"} }},
		{name: "mfa serial", mutate: func(p *config.Profile) { p.MFASerial = "GAHT12345678" }},
		{name: "role arn", mutate: func(p *config.Profile) { p.RoleARN = "arn:aws:iam::123456789012:role/a" }},
		{name: "via profile", mutate: func(p *config.Profile) { p.ViaProfile = "dev" }},
		{name: "external id", mutate: func(p *config.Profile) { p.ExternalID = "ext" }},
		{name: "role session name", mutate: func(p *config.Profile) { p.RoleSessionName = "stsd-alice" }},
		{name: "source identity", mutate: func(p *config.Profile) { p.SourceIdentity = "alice" }},
		{name: "transitive tag keys", mutate: func(p *config.Profile) { p.TransitiveTagKeys = []string{"team"} }},
		{name: "parent", mutate: func(p *config.Profile) { p.ParentFingerprint = "00" }},
		{name: "client", client: "other"},
		{name: "no client", client: "-"},
		{name: "refresh before", mutate: func(p *config.Profile) { p.RefreshBefore = time.Hour }, same: true},
		{name: "imds", mutate: func(p *config.Profile) { p.IMDSListen = "127.0.0.1:9912"; p.IMDSV1 = true }, same: true},
		{name: "uids", mutate: func(p *config.Profile) { p.AllowedUIDs = []int{1000} }, same: true},
		{name: "mfa prompt", mutate: func(p *config.Profile) { p.MFAPrompt = "none"; p.MFAProcess = "x" }, same: true},
		{name: "policy file path", mutate: func(p *config.Profile) { p.PolicyFile = "/etc/stsd/p.json" }, same: true},
		{name: "line", mutate: func(p *config.Profile) { p.Line = 99 }, same: true},
	}
	seen := map[string]string{base: "base"}
	for _, c := range changes {
		p := baseProfile()
		if c.mutate != nil {
			c.mutate(p)
		}
		client := "billing"
		switch c.client {
		case "":
		case "-":
			client = ""
		default:
			client = c.client
		}
		got := p.Fingerprint(client)
		if c.same {
			if got != base {
				t.Errorf("%s: Fingerprint changed; want it unchanged", c.name)
			}
			continue
		}
		if prev, ok := seen[got]; ok {
			t.Errorf("%s: Fingerprint = %s, the same as %s", c.name, got, prev)
		}
		seen[got] = c.name
	}
}

func TestFingerprintSessionIgnoresName(t *testing.T) {
	t.Parallel()
	p := baseProfile()
	p.Mode = config.ModeSession
	a := p.Fingerprint("")
	p.FederationName = "whatever"
	if b := p.Fingerprint(""); a != b {
		t.Errorf("session Fingerprint depends on FederationName")
	}
}

func BenchmarkFingerprint(b *testing.B) {
	p := baseProfile()
	for b.Loop() {
		p.Fingerprint("billing")
	}
}

// TestFingerprintChain: a change anywhere up a via_profile chain changes
// every role profile below it, and nothing above it.
func TestFingerprintChain(t *testing.T) {
	t.Parallel()
	load := func(sessionDuration string) map[string]string {
		t.Helper()
		src := "[profiles.dev]\nsource_profile = \"src\"\nduration = \"" + sessionDuration + "\"\n" +
			"[profiles.a]\nmode = \"role\"\nrole_arn = \"arn:aws:iam::123456789012:role/a\"\nvia_profile = \"dev\"\n" +
			"[profiles.b]\nmode = \"role\"\nrole_arn = \"arn:aws:iam::123456789012:role/b\"\nvia_profile = \"a\"\n"
		c, err := config.Parse("config.toml", []byte(src), config.Options{Hostname: "h", User: "u"})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for name, p := range c.Profiles {
			out[name] = p.Fingerprint("")
		}
		if c.Profiles["b"].ParentFingerprint != out["a"] || c.Profiles["a"].ParentFingerprint != out["dev"] {
			t.Errorf("ParentFingerprint is not the parent's Fingerprint")
		}
		return out
	}
	x, y := load("12h"), load("13h")
	for _, name := range []string{"dev", "a", "b"} {
		if x[name] == y[name] {
			t.Errorf("%s: Fingerprint unchanged after the chain's session profile changed", name)
		}
	}
}

// TestFingerprintKeptForOldModes: adding role fields left session and
// federation fingerprints as they were, so upgrades reuse the cache.
func TestFingerprintKeptForOldModes(t *testing.T) {
	t.Parallel()
	const want = "d50a57dd8b510a37d6ef845bef86bfca614243a3c18e49963ddd9cdfc121961d"
	if got := baseProfile().Fingerprint("billing"); got != want {
		t.Errorf("federation Fingerprint = %s; want %s (as before role mode)", got, want)
	}
}
