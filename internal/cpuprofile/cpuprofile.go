// Package cpuprofile writes a CPU profile of a whole daemon run to a new,
// owner-only file: the debug switch `stsd run --cpu-profile FILE`. A
// profile is only ever a file; no listener serves one.
package cpuprofile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/pprof"
)

// Profile is a CPU profile being written.
type Profile struct {
	f *os.File
}

// Start creates path and starts profiling this process's CPU into it. The
// file must not exist: an existing file, or a symlink (even a dangling
// one), is refused, so a profile never overwrites a file or follows a
// link planted where it would be written. It is created owner-only (0600;
// on Windows with an owner-only DACL).
func Start(path string) (*Profile, error) {
	if path == "" {
		return nil, errors.New("--cpu-profile needs a file name")
	}
	f, err := createNew(path)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("--cpu-profile %s already exists (a file or a symlink): name a new file; a profile never overwrites one or follows a link", path)
	}
	if err != nil {
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	return &Profile{f: f}, nil
}

// Stop ends the profile, writes what it gathered and closes the file. It
// is safe to call more than once.
func (p *Profile) Stop() error {
	if p == nil || p.f == nil {
		return nil
	}
	pprof.StopCPUProfile()
	err := p.f.Sync()
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	p.f = nil
	if err != nil {
		return fmt.Errorf("--cpu-profile: %w", err)
	}
	return nil
}
