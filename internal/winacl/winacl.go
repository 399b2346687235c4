// Package winacl builds and checks the Windows security descriptors of what
// stsd owns: owner-only, protected DACLs, and the trust rule for sockets.
package winacl

import (
	"fmt"
	"slices"
	"strings"
)

// The rules in this file (SDDL text, the DACL checks) are OS-neutral so
// they are tested on every OS; winacl_windows.go reads and applies real
// descriptors.

// Well-known SIDs.
const (
	SIDSystem             = "S-1-5-18"
	SIDAdministrators     = "S-1-5-32-544"
	SIDUsers              = "S-1-5-32-545"
	SIDAuthenticatedUsers = "S-1-5-11"
	SIDEveryone           = "S-1-1-0"
	SIDCreatorOwner       = "S-1-3-0"
	// SIDOwnerRights stands for the object's owner in an ACE.
	SIDOwnerRights = "S-1-3-4"
)

// Access mask bits (winnt.h) that decide whether an ACE lets its trustee read
// or change an object.
const (
	fileReadData    = 0x1 // FILE_READ_DATA, FILE_LIST_DIRECTORY on a directory
	fileWriteData   = 0x2 // FILE_WRITE_DATA, FILE_ADD_FILE
	fileAppendData  = 0x4 // FILE_APPEND_DATA, FILE_ADD_SUBDIRECTORY
	fileDeleteChild = 0x40
	accessDelete    = 0x10000
	writeDAC        = 0x40000
	writeOwner      = 0x80000
	maximumAllowed  = 0x2000000
	genericAll      = 0x10000000
	genericWrite    = 0x40000000
	genericRead     = 0x80000000

	// readMask is what reveals an object's content (FILE_GENERIC_READ,
	// 0x120089, and FILE_ALL_ACCESS, 0x1F01FF, include FILE_READ_DATA).
	readMask = fileReadData | genericRead | genericAll | maximumAllowed
	// writeMask is what changes an object's content, replaces or removes
	// it, or rewrites its DACL or owner (and so grants read too).
	writeMask = fileWriteData | fileAppendData | fileDeleteChild | accessDelete |
		writeDAC | writeOwner | genericWrite | genericAll | maximumAllowed
)

// Layout says whose tree an object is in.
type Layout int

const (
	// UserLayout objects belong to the current user: full control for the
	// owner and SYSTEM only.
	UserLayout Layout = iota
	// SystemLayout objects (the %ProgramData%\stsd tree) belong to SYSTEM and
	// BUILTIN\Administrators, plus the owner when it is a service account.
	SystemLayout
)

// Kind is a file or a directory: a directory's ACEs are inherited by what
// is created inside it.
type Kind int

const (
	// File is a regular file.
	File Kind = iota
	// Dir is a directory; its ACEs are object- and container-inherit.
	Dir
)

// SDDL is the owner-only, protected (no inherited ACEs) security descriptor
// for an object of kind k owned by owner in layout l. An empty owner leaves
// the owner to the creator's token default (system layout only).
func SDDL(owner string, l Layout, k Kind) string {
	var b strings.Builder
	if owner != "" {
		b.WriteString("O:" + owner)
	}
	b.WriteString("D:P")
	for _, sid := range grantees(owner, l) {
		b.WriteString("(A;" + aceFlags(k) + ";FA;;;" + sid + ")")
	}
	return b.String()
}

func aceFlags(k Kind) string {
	if k == Dir {
		return "OICI"
	}
	return ""
}

// grantees are the SIDs an owner-only DACL gives full control.
func grantees(owner string, l Layout) []string {
	if l == SystemLayout {
		g := []string{SIDSystem, SIDAdministrators}
		if owner != "" && !slices.Contains(g, owner) {
			g = append(g, owner)
		}
		return g
	}
	if owner == "" || owner == SIDSystem {
		return []string{SIDSystem}
	}
	return []string{owner, SIDSystem}
}

// ACEType is what an ACE does with its mask.
type ACEType int

const (
	// Allow ACEs grant their mask.
	Allow ACEType = iota
	// Deny ACEs never grant access, so the checks ignore them.
	Deny
)

// ACE is one access control entry in OS-neutral form.
type ACE struct {
	Type ACEType
	// SID is the trustee's SID string; "" when it could not be read.
	SID  string
	Mask uint32
	// Inherited ACEs came from the parent directory (INHERITED_ACE).
	Inherited bool
}

// Descriptor is the part of an object's security descriptor the checks
// read.
type Descriptor struct {
	Owner string // SID string
	Kind  Kind
	// NullDACL: the object has no DACL, which grants everyone full access.
	NullDACL bool
	ACEs     []ACE
}

// Purpose says what an object holds and so which access others must not
// have.
type Purpose int

const (
	// Secret objects (credentials, TLS key, tokens, cache entries, stsd's
	// own directories): others may neither read nor write them.
	Secret Purpose = iota
	// Config objects (config, policy, certificates): others may not write
	// them.
	Config
)

// Rule is what Check holds an object to.
type Rule struct {
	Purpose Purpose
	Layout  Layout
	// Me is the current user's SID string.
	Me string
	// Edited marks a file the person writes (config, credentials, policy,
	// TLS files) rather than one stsd creates. Administrators may then hold
	// access in the user layout too: Windows gives them full control of
	// every profile directory by default, and like root on unix they can
	// read any file anyway. What stsd creates in the user layout carries
	// the owner and SYSTEM only.
	Edited bool
}

// Problem is one way an object fails a rule, with the command that fixes
// it.
type Problem struct {
	Path string
	What string // e.g. "holds secrets but grants read access to Users (S-1-5-32-545)"
	Fix  string
}

// Error is one line: the path, what is wrong, and the fix.
func (p *Problem) Error() string { return p.Path + " " + p.What + "; run: " + p.Fix }

// Check returns every way the object at path with descriptor d fails r
// (nil when none): its owner must be r.Me, SYSTEM or Administrators, and no
// allow ACE, explicit or inherited, may give anyone else the access r's
// purpose forbids. An ACE that only applies to what is created inside a
// directory still counts: it would grant that access to the next file.
func Check(path string, d Descriptor, r Rule) []*Problem {
	var out []*Problem
	if d.Owner == "" || !slices.Contains([]string{r.Me, SIDSystem, SIDAdministrators}, d.Owner) {
		fix := "takeown /f " + quote(path)
		if r.Layout == SystemLayout {
			fix = "takeown /a /f " + quote(path)
		}
		out = append(out, &Problem{Path: path, Fix: fix,
			What: "is owned by " + Name(d.Owner) + ", not by you, SYSTEM or Administrators, so its owner could change what stsd does"})
	}
	trusted := []string{r.Me, SIDSystem}
	if r.Layout == SystemLayout || r.Edited {
		trusted = append(trusted, SIDAdministrators)
	}
	bad := grants(d, trusted, r.Purpose == Secret)
	if d.NullDACL || len(bad) > 0 {
		what := ""
		switch {
		case d.NullDACL:
			what = "has no DACL, so everyone has full access"
			if r.Purpose == Secret {
				what = "holds secrets but " + what
			}
		case r.Purpose == Secret:
			what = "holds secrets but grants " + describe(bad)
		default:
			what = "grants " + describe(bad) + ", so others could change what stsd does"
		}
		// The system layout's fix names SYSTEM and Administrators only: an
		// administrator running stsd check must not grant themselves access
		// the daemon (SYSTEM) would then refuse.
		keep := grantees(r.Me, UserLayout)
		if r.Layout == SystemLayout {
			keep = grantees("", SystemLayout)
		}
		out = append(out, &Problem{Path: path, What: what, Fix: icacls(path, d, bad, keep)})
	}
	return out
}

// grant is the access one untrusted trustee holds.
type grant struct {
	sid                 string
	read, write         bool
	explicit, inherited bool
}

// grants returns the access d's allow ACEs give trustees outside trusted:
// write access always, read access too when read is set. CREATOR OWNER and
// OWNER RIGHTS stand for the owner, who is checked on its own.
func grants(d Descriptor, trusted []string, read bool) []grant {
	var out []grant
	for _, a := range d.ACEs {
		if a.Type != Allow || a.SID == SIDCreatorOwner || a.SID == SIDOwnerRights {
			continue
		}
		if a.SID != "" && slices.Contains(trusted, a.SID) {
			continue
		}
		r, w := a.Mask&readMask != 0 && read, a.Mask&writeMask != 0
		if !r && !w {
			continue
		}
		i := slices.IndexFunc(out, func(g grant) bool { return g.sid == a.SID })
		if i < 0 {
			out = append(out, grant{sid: a.SID})
			i = len(out) - 1
		}
		g := &out[i]
		g.read, g.write = g.read || r, g.write || w
		if a.Inherited {
			g.inherited = true
		} else {
			g.explicit = true
		}
	}
	return out
}

// describe renders grants as "read and write access to Everyone (S-1-1-0),
// read access to Users (S-1-5-32-545, inherited)".
func describe(gs []grant) string {
	parts := make([]string, 0, len(gs))
	for _, g := range gs {
		access := "write"
		switch {
		case g.read && g.write:
			access = "read and write"
		case g.read:
			access = "read"
		}
		parts = append(parts, access+" access to "+label(g.sid, g.inherited && !g.explicit))
	}
	return strings.Join(parts, ", ")
}

// icacls is the command that removes bad's access from path: explicit
// ACEs go with /remove:g; inherited ones (or a missing DACL) need the DACL
// protected, and then keep get explicit full control so they keep their
// access. An explicit ACE whose trustee could not be read can only go with
// /reset (back to the inherited ACEs), followed by protecting the DACL.
func icacls(path string, d Descriptor, bad []grant, keep []string) string {
	inherited, reset := d.NullDACL, false
	var remove []string
	for _, g := range bad {
		inherited = inherited || g.inherited
		switch {
		case g.explicit && g.sid == "":
			reset = true
		case g.explicit:
			remove = append(remove, "*"+g.sid)
		}
	}
	args := []string{"icacls", quote(path)}
	if reset {
		args = append(args, "/reset", "&&", "icacls", quote(path))
		inherited, remove = true, nil
	}
	if inherited {
		args = append(args, "/inheritance:r")
	}
	if len(remove) > 0 {
		args = append(append(args, "/remove:g"), remove...)
	}
	if inherited {
		perm := "F"
		if d.Kind == Dir {
			perm = "(OI)(CI)F"
		}
		args = append(args, "/grant:r")
		for _, sid := range keep {
			args = append(args, quote("*"+sid+":"+perm))
		}
	}
	return strings.Join(args, " ")
}

// TrustSocketDir decides whether a client may trust a control socket in
// dir, whose descriptor is d: a daemon there receives MFA codes and hands
// out credentials, so nobody but its rightful owner may have been able to
// put a socket there. The system socket's directory must be owned by
// SYSTEM or Administrators and writable by nobody else; a user socket's
// directory must be owned by me and writable by nobody but me, SYSTEM and
// Administrators. It returns nil or the problem.
func TrustSocketDir(dir string, d Descriptor, l Layout, me string) *Problem {
	owners, writers := []string{me}, []string{me, SIDSystem, SIDAdministrators}
	ownerText, fix := "you", "takeown /f "+quote(dir)
	keep := []string{me, SIDSystem}
	if l == SystemLayout {
		owners, writers = []string{SIDSystem, SIDAdministrators}, []string{SIDSystem, SIDAdministrators}
		ownerText, fix = "SYSTEM or Administrators", "takeown /a /f "+quote(dir)
		keep = writers
	}
	if d.Owner == "" || !slices.Contains(owners, d.Owner) {
		return &Problem{Path: dir, Fix: fix,
			What: "is owned by " + Name(d.Owner) + ", not by " + ownerText + ", so another user could have planted a fake daemon there"}
	}
	bad := grants(d, writers, false)
	if d.NullDACL || len(bad) > 0 {
		what := "has no DACL"
		if !d.NullDACL {
			what = "grants " + describe(bad)
		}
		return &Problem{Path: dir, Fix: icacls(dir, d, bad, keep),
			What: what + ", so another user could plant a fake daemon there"}
	}
	return nil
}

// names are the well-known SIDs messages name.
var names = map[string]string{
	SIDSystem:             "SYSTEM",
	SIDAdministrators:     "Administrators",
	SIDUsers:              "Users",
	SIDAuthenticatedUsers: "Authenticated Users",
	SIDEveryone:           "Everyone",
	SIDCreatorOwner:       "CREATOR OWNER",
	SIDOwnerRights:        "OWNER RIGHTS",
	"S-1-5-32-546":        "Guests",
	"S-1-5-4":             "INTERACTIVE",
	"S-1-5-7":             "ANONYMOUS LOGON",
}

// Name is how messages show a SID: "Users (S-1-5-32-545)" for a well-known
// one, else the SID itself.
func Name(sid string) string { return label(sid, false) }

// label is Name, marked "inherited" when the access comes only from the
// parent directory.
func label(sid string, inherited bool) string {
	note := ""
	if inherited {
		note = "inherited"
	}
	switch n, ok := names[sid]; {
	case sid == "":
		sid = "an unknown trustee"
	case ok:
		if note != "" {
			return fmt.Sprintf("%s (%s, %s)", n, sid, note)
		}
		return fmt.Sprintf("%s (%s)", n, sid)
	}
	if note != "" {
		return sid + " (" + note + ")"
	}
	return sid
}

// quote wraps a path or an icacls argument in double quotes, which neither
// can contain, for cmd.exe and PowerShell alike.
func quote(s string) string { return `"` + s + `"` }
