package httpserve

import (
	"net/netip"
	"os"

	"github.com/stsd/stsd/internal/peercred"
)

// Profile is a profile a local endpoint serves, and who may read it.
type Profile struct {
	Name   string
	Region string // default us-east-1
	// AllowedUIDs may read the profile (the Linux peer check); empty means
	// the uid of this process.
	AllowedUIDs []int
	// AnyLocalUser turns the uid check of local callers off
	// (imds_any_local_user).
	AnyLocalUser bool
	// ContainerCIDRs may read the profile from containers over the
	// link-local listeners (container_cidrs; empty: no container may).
	ContainerCIDRs []netip.Prefix
}

// WithDefaults fills in the region and the allowed uids.
func (p Profile) WithDefaults() Profile {
	if p.Region == "" {
		p.Region = "us-east-1"
	}
	if len(p.AllowedUIDs) == 0 {
		p.AllowedUIDs = []int{os.Getuid()}
	}
	return p
}

// Rule is who may read p, for peercred.Check.
func (p Profile) Rule() peercred.Rule {
	return peercred.Rule{Profile: p.Name, AllowedUIDs: p.AllowedUIDs, Anyone: p.AnyLocalUser, ContainerCIDRs: p.ContainerCIDRs}
}
