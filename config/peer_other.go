//go:build !linux

package config

// tcpPeerCheck: no peer uid lookup for TCP on this OS, so imds_listen needs
// imds_any_local_user = true (an explicit, documented risk).
const tcpPeerCheck = false
