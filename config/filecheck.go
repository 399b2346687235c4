package config

// fileKind selects the checks a file gets.
type fileKind int

const (
	// kindConfig files (the config, policy files, TLS certificates) must be
	// owned by the current user or root and not be group- or
	// world-writable.
	kindConfig fileKind = iota
	// kindSecret files (credentials, TLS key) must in addition not be group-
	// or world-readable; the system layout allows group read (root:stsd
	// 0640).
	kindSecret
)
