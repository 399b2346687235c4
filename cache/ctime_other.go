//go:build unix && !linux && !darwin

package cache

import "syscall"

// ctime: other systems are not release targets; their files are hashed.
func ctime(*syscall.Stat_t) (sec, nsec int64, ok bool) { return 0, 0, false }
