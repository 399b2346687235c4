package config

// tcpPeerCheck: on Linux the IMDS endpoint looks up the uid of each TCP
// peer (/proc/net/tcp or sock_diag), so imds_listen is safe by default.
const tcpPeerCheck = true

// linkLocalSupported: Linux manages link-local addresses and tells a
// container caller from a local one.
const linkLocalSupported = true
