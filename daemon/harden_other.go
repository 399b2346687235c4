//go:build !linux && !windows

package daemon

// notDumpable: only Linux has a per-process dumpable flag; the core size
// limit (unix) is what remains here.
func notDumpable() error { return nil }
