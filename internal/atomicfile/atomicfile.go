// Package atomicfile replaces files so that readers see the old bytes or
// the new ones, never a torn mix: a temp file in the same directory,
// fsynced, renamed over the target, then the directory fsynced.
package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces path with data. The temp file is created 0600 (on
// Windows with an owner-only, protected DACL), and prepare (may be nil)
// sets its mode and owner before any byte is written, so the data is never
// exposed under looser permissions. On error nothing is left behind.
func Write(path string, data []byte, prepare func(*os.File) error) (err error) {
	dir := filepath.Dir(path)
	f, err := createTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if prepare != nil {
		if err = prepare(f); err != nil {
			return err
		}
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// Like returns a prepare func giving the file like's mode and, when we run
// as root, like's owner: editing a user's file as root must not hand it
// to root.
func Like(like fs.FileInfo) func(*os.File) error {
	return func(f *os.File) error {
		if err := f.Chmod(like.Mode().Perm()); err != nil {
			return err
		}
		return ChownLike(f, like)
	}
}

// ChownLike gives f like's owner when we run as root (a no-op elsewhere
// and on Windows, where the file keeps the owner-only DACL it was created
// with).
func ChownLike(f *os.File, like fs.FileInfo) error { return chownLike(f, like) }

// Mode returns a prepare func setting mode.
func Mode(mode fs.FileMode) func(*os.File) error {
	return func(f *os.File) error { return f.Chmod(mode) }
}
