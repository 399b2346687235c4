// Package linklocal manages the link-local addresses where the AWS SDKs
// look for credentials without being told: the instance metadata service
// at 169.254.169.254 and the ECS container credentials endpoint at
// 169.254.170.2. It puts them on lo (marked with stsd's address label),
// binds them with capabilities raised for one thread only, takes them
// away again when stsd added them, keeps child processes from inheriting
// any capability, and probes for a real metadata service first.
package linklocal

import (
	"errors"
	"net/netip"
)

// The addresses the SDKs use when no endpoint variable names another.
var (
	InstanceMetadata     = netip.MustParseAddr("169.254.169.254")
	ContainerCredentials = netip.MustParseAddr("169.254.170.2")
)

// Known reports whether a is one of those addresses.
func Known(a netip.Addr) bool {
	a = a.Unmap()
	return a == InstanceMetadata || a == ContainerCredentials
}

// Label marks an address stsd put on lo. An address with it that no
// running stsd holds is a crashed daemon's leftover; an address without
// it is someone else's and is never removed. The kernel matches the label
// on removal too, so a delete can only take an address carrying it.
const Label = "lo:stsd"

// ErrUnsupported: this OS has no link-local listeners.
var ErrUnsupported = errors.New(unsupportedReason)

// ErrMetadataService: a real instance metadata service answers at
// 169.254.169.254, which a local listener would hide from this host.
var ErrMetadataService = errors.New("a real instance metadata service answers at 169.254.169.254 (this host runs on EC2 or another cloud): serving it locally would hide the host's own metadata; set replace_instance_metadata = true on the profile to serve it anyway, or use imds_listen on 127.0.0.1")

// Bind is one link-local listener to open.
type Bind struct {
	Addr netip.AddrPort // a Known address and its port
	// Probe looks for a real instance metadata service first (only when
	// the address is not on this host yet) and refuses with
	// ErrMetadataService when one answers.
	Probe bool
}
