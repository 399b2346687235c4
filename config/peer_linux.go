package config

// tcpPeerCheck: on Linux the IMDS endpoint looks up the uid of each TCP
// peer (/proc/net/tcp or sock_diag), so imds_listen is safe by default.
const tcpPeerCheck = true
