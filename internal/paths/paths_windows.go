package paths

import (
	"os"
	"path/filepath"
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
