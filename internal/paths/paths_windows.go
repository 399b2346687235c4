package paths

import (
	"os"
	"path/filepath"
	"strings"
)

func programData() string {
	if d := os.Getenv("ProgramData"); d != "" {
		return filepath.Join(d, "stsd")
	}
	return `C:\ProgramData\stsd`
}

func systemConfigDir() string { return programData() }
func systemCacheDir() string  { return filepath.Join(programData(), "cache") }
func systemStateDir() string  { return filepath.Join(programData(), "state") }
func systemSocket() string    { return filepath.Join(programData(), "stsd.sock") }

// InSystemTree reports whether p is %ProgramData%\stsd or lies inside it:
// what stsd creates there gets the system layout's DACL.
func InSystemTree(p string) bool {
	root := filepath.Clean(programData())
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	p = filepath.Clean(p)
	if len(p) < len(root) || !strings.EqualFold(p[:len(root)], root) {
		return false
	}
	return len(p) == len(root) || os.IsPathSeparator(p[len(root)])
}

// IsSystemSocketDir reports whether dir is the system socket's directory,
// which clients trust only when SYSTEM or Administrators own it.
func IsSystemSocketDir(dir string) bool {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return strings.EqualFold(filepath.Clean(dir), filepath.Dir(systemSocket()))
}
