//go:build !unix

package opener

import "io/fs"

// checkOwner has nothing to add where the parent's owner-only DACL (the
// cache directory's) is what protects the pages.
func checkOwner(string, fs.FileInfo) error { return nil }
