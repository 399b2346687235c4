package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"sort"
	"strings"

	"github.com/stsd/stsd/internal/paths"
)

// fingerprintVersion changes whenever the encoding below changes, so old
// cache entries stop matching instead of matching wrongly.
const fingerprintVersion = "stsd-fingerprint-v1"

// Fingerprint is a stable hex SHA-256 of everything that shapes this
// profile's credentials for client ("" outside the broker): mode, source
// profile, credentials file path, duration, region, federation name (with
// {client} expanded), policy text, ARNs, tags (sorted), MFA serial and
// client; for a role profile also the role ARN, via_profile, external id,
// session name, source identity, transitive tag keys and the parent's own
// fingerprint (so the whole chain). Not the source key id (a rotated key keeps the fingerprint), nor
// settings that only decide when or where credentials are served
// (refresh_before, endpoints, uids).
func (p *Profile) Fingerprint(client string) string {
	type tag struct{ K, V string }
	in := struct {
		V               string
		Mode            Mode
		SourceProfile   string
		CredentialsFile string
		DurationSeconds int64
		Region          string
		Name            string
		Policy          string
		PolicyARNs      []string
		Tags            []tag
		MFASerial       string
		Client          string
		// Role mode; omitted when empty so that other profiles keep the
		// fingerprints they had before roles existed.
		RoleARN           string   `json:",omitempty"`
		ViaProfile        string   `json:",omitempty"`
		ExternalID        string   `json:",omitempty"`
		RoleSessionName   string   `json:",omitempty"`
		SourceIdentity    string   `json:",omitempty"`
		TransitiveTagKeys []string `json:",omitempty"`
		Parent            string   `json:",omitempty"`
	}{
		V:               fingerprintVersion,
		Mode:            p.Mode,
		SourceProfile:   p.SourceProfile,
		CredentialsFile: p.CredentialsFile,
		DurationSeconds: int64(p.Duration.Seconds()),
		Region:          p.Region,
		Policy:          p.Policy,
		PolicyARNs:      p.PolicyARNs,
		MFASerial:       p.MFASerial,
		Client:          client,

		RoleARN:           p.RoleARN,
		ViaProfile:        p.ViaProfile,
		ExternalID:        p.ExternalID,
		RoleSessionName:   p.RoleSessionName,
		SourceIdentity:    p.SourceIdentity,
		TransitiveTagKeys: slices.Sorted(slices.Values(p.TransitiveTagKeys)),
		Parent:            p.ParentFingerprint,
	}
	if p.Mode == ModeFederation {
		in.Name = strings.ReplaceAll(p.FederationName, "{client}", client)
	}
	for k, v := range p.Tags {
		in.Tags = append(in.Tags, tag{k, v})
	}
	sort.Slice(in.Tags, func(i, j int) bool { return in.Tags[i].K < in.Tags[j].K })
	b, err := json.Marshal(in)
	if err != nil { // strings, ints and slices of them always marshal
		panic("config: fingerprint: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// SourceFiles lists every file p's credentials are made from, for the cache
// to record and re-check: the config file, the shared credentials file and
// the AWS config file (paths.AWSCredentialsFile, paths.AWSConfigFile) and
// p's policy file when it has one. Paths are absolute and resolved at call
// time (environment and home directory).
func (c *Config) SourceFiles(p *Profile) []string {
	out := []string{c.Path, paths.AWSCredentialsFile(c.CredentialsFile), paths.AWSConfigFile()}
	if p != nil && p.PolicyFile != "" {
		out = append(out, p.PolicyFile)
	}
	return out
}

// ProfileNames returns the profile names sorted.
func (c *Config) ProfileNames() []string {
	names := make([]string, 0, len(c.Profiles))
	for n := range c.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
