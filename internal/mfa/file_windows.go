package mfa

import "github.com/stsd/stsd/internal/atomicfile"

// writePrivate writes a state file only its owner may read: atomicfile
// creates it with an owner-only, protected DACL (os.WriteFile would keep
// an existing file's DACL or inherit the directory's).
func writePrivate(path string, data []byte) error { return atomicfile.Write(path, data, nil) }
