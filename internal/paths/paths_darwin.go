package paths

func systemConfigDir() string { return "/Library/Application Support/stsd" }
func systemCacheDir() string  { return "/Library/Caches/stsd" }
func systemStateDir() string  { return "/Library/Application Support/stsd/state" }
func systemSocket() string    { return "/var/run/stsd/stsd.sock" }
