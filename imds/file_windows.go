package imds

import "io/fs"

// checkPrivate: Go reports Windows modes as 0666/0444, so there is nothing
// to check here; token_dir lives in the user's owner-only profile or the
// owner-only ProgramData tree (design.md "Windows").
func checkPrivate(string, fs.FileInfo) string { return "" }
