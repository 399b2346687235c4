//go:build !windows && !darwin

package paths

func systemConfigDir() string { return "/etc/stsd" }
func systemCacheDir() string  { return "/var/cache/stsd" }
func systemStateDir() string  { return "/var/lib/stsd" }
func systemSocket() string    { return "/run/stsd/stsd.sock" }
