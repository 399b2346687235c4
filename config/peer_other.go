//go:build !linux

package config

// tcpPeerCheck: no peer uid lookup for TCP on this OS, so imds_listen needs
// imds_any_local_user = true (an explicit, documented risk).
const tcpPeerCheck = false

// linkLocalSupported: no link-local listeners on this OS (see
// linklocal.ErrUnsupported for why).
const linkLocalSupported = false
