//go:build windows

package config

import "io/fs"

// checkFileInfo is a no-op on Windows: Go reports modes there as 0666/0444,
// and owner-only DACLs are checked where stsd creates files.
func checkFileInfo(string, fs.FileInfo, fileKind, bool) []string { return nil }
