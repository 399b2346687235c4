//go:build !windows

package config

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// checkFileInfo returns one message per problem with the file at path, each
// with the command that fixes it.
func checkFileInfo(path string, fi fs.FileInfo, kind fileKind, system bool) []string {
	var out []string
	q := shellQuote(path)
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		me := os.Getuid()
		if owner := int(st.Uid); owner != me && owner != 0 {
			cmd := "chown " + userName(me) + " " + q
			if me != 0 {
				cmd = "sudo " + cmd
			}
			out = append(out, fmt.Sprintf("%s is owned by %s, not by you (%s) or root, so its owner could change what stsd does; run: %s", path, userName(owner), userName(me), cmd))
		}
	}
	perm := fi.Mode().Perm()
	switch kind {
	case kindConfig:
		if w := perm & 0o022; w != 0 {
			out = append(out, fmt.Sprintf("%s is %s (mode %04o), so others could change what stsd does; run: chmod go-w %s", path, byClass(w, "group- and world-writable", "group-writable", "world-writable"), perm, q))
		}
	case kindSecret:
		allowed, want := fs.FileMode(0), "0600"
		if system {
			allowed, want = 0o040, "0640"
		}
		if perm&0o077&^allowed != 0 {
			out = append(out, fmt.Sprintf("%s holds secrets but is accessible to %s (mode %04o); run: chmod %s %s", path, byClass(perm&0o077&^allowed, "group and others", "its group", "others"), perm, want, q))
		}
	}
	return out
}

// byClass picks the words for permission bits that the group, others or
// both hold.
func byClass(bits fs.FileMode, both, group, others string) string {
	switch {
	case bits&0o070 != 0 && bits&0o007 != 0:
		return both
	case bits&0o070 != 0:
		return group
	default:
		return others
	}
}

// userName is the login name of uid, else the number.
func userName(uid int) string {
	s := strconv.Itoa(uid)
	if u, err := user.LookupId(s); err == nil && u.Username != "" {
		return u.Username
	}
	return s
}
