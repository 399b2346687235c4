// Package linklocal manages the link-local addresses where the AWS SDKs
// look for credentials without being told: the instance metadata service
// at 169.254.169.254 and the ECS container credentials endpoint at
// 169.254.170.2.
package linklocal

import "net/netip"

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
