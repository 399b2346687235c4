package winacl_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stsd/stsd/internal/winacl"
)

const (
	me    = "S-1-5-21-1-2-3-1001"
	other = "S-1-5-21-1-2-3-1002"
	sy    = winacl.SIDSystem
	ba    = winacl.SIDAdministrators
	users = winacl.SIDUsers

	// Access masks as Windows writes them into ACEs.
	fileAllAccess    = 0x1F01FF
	fileGenericRead  = 0x120089
	fileGenericWrite = 0x120116
	fileGenericExec  = 0x1200A0
	fileReadData     = 0x1
	fileWriteData    = 0x2
	fileExecute      = 0x20
	fileReadAttrs    = 0x80
	readControl      = 0x20000
	synchronize      = 0x100000
	accessDelete     = 0x10000
	writeDAC         = 0x40000
	writeOwner       = 0x80000
	genericAll       = 0x10000000
	genericWrite     = 0x40000000
	genericRead      = 0x80000000
	// usersAddFiles is ProgramData's "Users:(CI)(WD,AD,WEA,WA)".
	usersAddFiles = 0x116
)

func allow(sid string, mask uint32) winacl.ACE {
	return winacl.ACE{Type: winacl.Allow, SID: sid, Mask: mask}
}

func inherited(sid string, mask uint32) winacl.ACE {
	return winacl.ACE{Type: winacl.Allow, SID: sid, Mask: mask, Inherited: true}
}

// private is what stsd creates in the user layout.
func private(k winacl.Kind) winacl.Descriptor {
	return winacl.Descriptor{Owner: me, Kind: k, ACEs: []winacl.ACE{allow(me, fileAllAccess), allow(sy, fileAllAccess)}}
}

// programDataChild is a directory made in %ProgramData% by an elevated
// administrator without stsd: it inherits ProgramData's ACEs.
func programDataChild() winacl.Descriptor {
	return winacl.Descriptor{Owner: ba, Kind: winacl.Dir, ACEs: []winacl.ACE{
		inherited(sy, fileAllAccess),
		inherited(ba, fileAllAccess),
		inherited(winacl.SIDCreatorOwner, genericAll),
		inherited(users, fileGenericRead|fileGenericExec),
		inherited(users, usersAddFiles),
	}}
}

func TestSDDL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		owner  string
		layout winacl.Layout
		kind   winacl.Kind
		want   string
	}{
		{"user file", me, winacl.UserLayout, winacl.File,
			"O:" + me + "D:P(A;;FA;;;" + me + ")(A;;FA;;;S-1-5-18)"},
		{"user dir", me, winacl.UserLayout, winacl.Dir,
			"O:" + me + "D:P(A;OICI;FA;;;" + me + ")(A;OICI;FA;;;S-1-5-18)"},
		{"user layout as SYSTEM", sy, winacl.UserLayout, winacl.File,
			"O:S-1-5-18D:P(A;;FA;;;S-1-5-18)"},
		{"system dir as SYSTEM", sy, winacl.SystemLayout, winacl.Dir,
			"O:S-1-5-18D:P(A;OICI;FA;;;S-1-5-18)(A;OICI;FA;;;S-1-5-32-544)"},
		{"system file as Administrators", ba, winacl.SystemLayout, winacl.File,
			"O:S-1-5-32-544D:P(A;;FA;;;S-1-5-18)(A;;FA;;;S-1-5-32-544)"},
		{"system dir as a service account", other, winacl.SystemLayout, winacl.Dir,
			"O:" + other + "D:P(A;OICI;FA;;;S-1-5-18)(A;OICI;FA;;;S-1-5-32-544)(A;OICI;FA;;;" + other + ")"},
		{"system dir, token's default owner", "", winacl.SystemLayout, winacl.Dir,
			"D:P(A;OICI;FA;;;S-1-5-18)(A;OICI;FA;;;S-1-5-32-544)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := winacl.SDDL(tt.owner, tt.layout, tt.kind); got != tt.want {
				t.Errorf("SDDL(%q, %v, %v) = %q; want %q", tt.owner, tt.layout, tt.kind, got, tt.want)
			}
		})
	}
}

// aceRe matches the ACEs SDDL writes.
var aceRe = regexp.MustCompile(`\(A;(OICI)?;FA;;;([^)]+)\)`)

// TestSDDLPassesCheck: what stsd creates passes what stsd checks, in both
// layouts, for secrets and config alike.
func TestSDDLPassesCheck(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		owner, me string
		layout    winacl.Layout
	}{
		{me, me, winacl.UserLayout},
		{sy, sy, winacl.SystemLayout},
		{ba, me, winacl.SystemLayout},
		{other, other, winacl.SystemLayout},
	} {
		for _, k := range []winacl.Kind{winacl.File, winacl.Dir} {
			sddl := winacl.SDDL(c.owner, c.layout, k)
			owner, _, _ := strings.Cut(strings.TrimPrefix(sddl, "O:"), "D:")
			d := winacl.Descriptor{Owner: owner, Kind: k}
			for _, m := range aceRe.FindAllStringSubmatch(sddl, -1) {
				d.ACEs = append(d.ACEs, allow(m[2], fileAllAccess))
			}
			if len(d.ACEs) == 0 || !strings.Contains(sddl, "D:P(") {
				t.Fatalf("SDDL %q: no protected DACL", sddl)
			}
			for _, p := range []winacl.Purpose{winacl.Secret, winacl.Config} {
				r := winacl.Rule{Purpose: p, Layout: c.layout, Me: c.me}
				if ps := winacl.Check(`C:\x`, d, r); ps != nil {
					t.Errorf("Check(SDDL %q, %+v) = %v; want none", sddl, r, ps)
				}
			}
		}
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	userSecret := winacl.Rule{Purpose: winacl.Secret, Layout: winacl.UserLayout, Me: me}
	userConfig := winacl.Rule{Purpose: winacl.Config, Layout: winacl.UserLayout, Me: me}
	sysSecret := winacl.Rule{Purpose: winacl.Secret, Layout: winacl.SystemLayout, Me: sy}
	edited := func(r winacl.Rule) winacl.Rule { r.Edited = true; return r }
	with := func(d winacl.Descriptor, aces ...winacl.ACE) winacl.Descriptor {
		d.ACEs = append(append([]winacl.ACE(nil), d.ACEs...), aces...)
		return d
	}
	owned := func(d winacl.Descriptor, owner string) winacl.Descriptor { d.Owner = owner; return d }
	// profileFile is a file under %USERPROFILE%: Windows gives SYSTEM,
	// Administrators and the user full control of the profile directory.
	profileFile := winacl.Descriptor{Owner: me, ACEs: []winacl.ACE{
		inherited(sy, fileAllAccess), inherited(ba, fileAllAccess), inherited(me, fileAllAccess),
	}}
	const p = `C:\x`
	problem := func(what, fix string) []*winacl.Problem {
		return []*winacl.Problem{{Path: p, What: what, Fix: fix}}
	}
	tests := []struct {
		name string
		d    winacl.Descriptor
		r    winacl.Rule
		want []*winacl.Problem
	}{
		{name: "owner and SYSTEM", d: private(winacl.File), r: userSecret},
		{name: "owner and SYSTEM dir", d: private(winacl.Dir), r: userSecret},
		{name: "empty DACL", d: winacl.Descriptor{Owner: me}, r: userSecret},
		{name: "owned by SYSTEM", d: owned(private(winacl.File), sy), r: userSecret},
		{name: "owned by Administrators", d: owned(private(winacl.File), ba), r: userSecret},
		{name: "Users read secret", d: with(private(winacl.File), allow(users, fileGenericRead)), r: userSecret,
			want: problem("holds secrets but grants read access to Users (S-1-5-32-545)", `icacls "C:\x" /remove:g *S-1-5-32-545`)},
		{name: "Users read config", d: with(private(winacl.File), allow(users, fileGenericRead)), r: userConfig},
		{name: "Everyone write config", d: with(private(winacl.File), allow(winacl.SIDEveryone, fileGenericWrite)), r: userConfig,
			want: problem("grants write access to Everyone (S-1-1-0), so others could change what stsd does", `icacls "C:\x" /remove:g *S-1-1-0`)},
		{name: "Everyone write secret", d: with(private(winacl.File), allow(winacl.SIDEveryone, fileGenericWrite)), r: userSecret,
			want: problem("holds secrets but grants write access to Everyone (S-1-1-0)", `icacls "C:\x" /remove:g *S-1-1-0`)},
		{name: "Authenticated Users read", d: with(private(winacl.File), allow(winacl.SIDAuthenticatedUsers, fileReadData)), r: userSecret,
			want: problem("holds secrets but grants read access to Authenticated Users (S-1-5-11)", `icacls "C:\x" /remove:g *S-1-5-11`)},
		{name: "another user full control", d: with(private(winacl.File), allow(other, fileAllAccess)), r: userSecret,
			want: problem("holds secrets but grants read and write access to "+other, `icacls "C:\x" /remove:g *`+other)},
		{name: "inherited from ProgramData", d: programDataChild(), r: sysSecret,
			want: problem("holds secrets but grants read and write access to Users (S-1-5-32-545, inherited)",
				`icacls "C:\x" /inheritance:r /grant:r "*S-1-5-18:(OI)(CI)F" "*S-1-5-32-544:(OI)(CI)F"`)},
		{name: "inherited from ProgramData, config", d: programDataChild(), r: winacl.Rule{Purpose: winacl.Config, Layout: winacl.SystemLayout, Me: sy},
			want: problem("grants write access to Users (S-1-5-32-545, inherited), so others could change what stsd does",
				`icacls "C:\x" /inheritance:r /grant:r "*S-1-5-18:(OI)(CI)F" "*S-1-5-32-544:(OI)(CI)F"`)},
		{name: "system fix names no administrator user", d: programDataChild(), r: winacl.Rule{Purpose: winacl.Secret, Layout: winacl.SystemLayout, Me: me},
			want: problem("holds secrets but grants read and write access to Users (S-1-5-32-545, inherited)",
				`icacls "C:\x" /inheritance:r /grant:r "*S-1-5-18:(OI)(CI)F" "*S-1-5-32-544:(OI)(CI)F"`)},
		{name: "explicit and inherited", d: with(winacl.Descriptor{Owner: me, ACEs: []winacl.ACE{inherited(users, fileGenericRead)}}, allow(winacl.SIDEveryone, writeDAC)), r: userSecret,
			want: problem("holds secrets but grants read access to Users (S-1-5-32-545, inherited), write access to Everyone (S-1-1-0)",
				`icacls "C:\x" /inheritance:r /remove:g *S-1-1-0 /grant:r "*`+me+`:F" "*S-1-5-18:F"`)},
		{name: "Administrators, user layout", d: with(private(winacl.Dir), allow(ba, fileAllAccess)), r: userSecret,
			want: problem("holds secrets but grants read and write access to Administrators (S-1-5-32-544)", `icacls "C:\x" /remove:g *S-1-5-32-544`)},
		{name: "Administrators, system layout", d: with(private(winacl.Dir), allow(ba, fileAllAccess)), r: winacl.Rule{Purpose: winacl.Secret, Layout: winacl.SystemLayout, Me: me}},
		{name: "Administrators, edited file", d: with(private(winacl.File), allow(ba, fileAllAccess)), r: edited(userSecret)},
		{name: "profile file, edited", d: profileFile, r: edited(userSecret)},
		{name: "profile file, made by stsd", d: profileFile, r: userSecret,
			want: problem("holds secrets but grants read and write access to Administrators (S-1-5-32-544, inherited)",
				`icacls "C:\x" /inheritance:r /grant:r "*`+me+`:F" "*S-1-5-18:F"`)},
		{name: "deny ACEs grant nothing", d: with(private(winacl.File),
			winacl.ACE{Type: winacl.Deny, SID: winacl.SIDEveryone, Mask: genericAll},
			winacl.ACE{Type: winacl.Deny, SID: users, Mask: fileAllAccess, Inherited: true}), r: userSecret},
		{name: "deny does not cancel an allow", d: with(private(winacl.File),
			winacl.ACE{Type: winacl.Deny, SID: users, Mask: genericRead}, allow(users, genericRead)), r: userSecret,
			want: problem("holds secrets but grants read access to Users (S-1-5-32-545)", `icacls "C:\x" /remove:g *S-1-5-32-545`)},
		{name: "CREATOR OWNER grants nothing itself", d: with(private(winacl.Dir), allow(winacl.SIDCreatorOwner, genericAll)), r: userSecret},
		{name: "unknown trustee", d: with(private(winacl.File), allow("", genericRead)), r: userSecret,
			want: problem("holds secrets but grants read access to an unknown trustee",
				`icacls "C:\x" /reset && icacls "C:\x" /inheritance:r /grant:r "*`+me+`:F" "*S-1-5-18:F"`)},
		{name: "foreign owner", d: owned(private(winacl.File), other), r: userConfig,
			want: problem("is owned by "+other+", not by you, SYSTEM or Administrators, so its owner could change what stsd does", `takeown /f "C:\x"`)},
		{name: "foreign owner, system layout", d: winacl.Descriptor{Owner: other, ACEs: []winacl.ACE{allow(sy, fileAllAccess), allow(ba, fileAllAccess)}}, r: winacl.Rule{Purpose: winacl.Config, Layout: winacl.SystemLayout, Me: sy},
			want: problem("is owned by "+other+", not by you, SYSTEM or Administrators, so its owner could change what stsd does", `takeown /a /f "C:\x"`)},
		{name: "no owner", d: owned(private(winacl.File), ""), r: userConfig,
			want: problem("is owned by an unknown trustee, not by you, SYSTEM or Administrators, so its owner could change what stsd does", `takeown /f "C:\x"`)},
		{name: "null DACL", d: winacl.Descriptor{Owner: me, NullDACL: true}, r: userSecret,
			want: problem("holds secrets but has no DACL, so everyone has full access", `icacls "C:\x" /inheritance:r /grant:r "*`+me+`:F" "*S-1-5-18:F"`)},
		{name: "null DACL config", d: winacl.Descriptor{Owner: me, NullDACL: true}, r: userConfig,
			want: problem("has no DACL, so everyone has full access", `icacls "C:\x" /inheritance:r /grant:r "*`+me+`:F" "*S-1-5-18:F"`)},
		{name: "foreign owner and Users read", d: with(owned(private(winacl.File), other), allow(users, genericRead)), r: userSecret,
			want: []*winacl.Problem{
				{Path: p, What: "is owned by " + other + ", not by you, SYSTEM or Administrators, so its owner could change what stsd does", Fix: `takeown /f "C:\x"`},
				{Path: p, What: "holds secrets but grants read access to Users (S-1-5-32-545)", Fix: `icacls "C:\x" /remove:g *S-1-5-32-545`},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := winacl.Check(p, tt.d, tt.r)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Check(%+v, %+v) (-want +got):\n%s", tt.d, tt.r, diff)
			}
		})
	}
}

// TestMasks: which access bits count as read and which as write.
func TestMasks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		mask            uint32
		secret, changes bool // refused for a secret; refused for config
	}{
		{"GENERIC_READ", genericRead, true, false},
		{"FILE_GENERIC_READ", fileGenericRead, true, false},
		{"FILE_READ_DATA", fileReadData, true, false},
		{"GENERIC_ALL", genericAll, true, true},
		{"FILE_ALL_ACCESS", fileAllAccess, true, true},
		{"GENERIC_WRITE", genericWrite, true, true},
		{"FILE_GENERIC_WRITE", fileGenericWrite, true, true},
		{"FILE_WRITE_DATA", fileWriteData, true, true},
		{"WRITE_DAC", writeDAC, true, true},
		{"WRITE_OWNER", writeOwner, true, true},
		{"DELETE", accessDelete, true, true},
		{"ProgramData Users add files", usersAddFiles, true, true},
		{"READ_CONTROL|SYNCHRONIZE", readControl | synchronize, false, false},
		{"FILE_EXECUTE (traverse)", fileExecute, false, false},
		{"FILE_READ_ATTRIBUTES", fileReadAttrs, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := winacl.Descriptor{Owner: me, ACEs: []winacl.ACE{allow(me, fileAllAccess), allow(users, tt.mask)}}
			for _, c := range []struct {
				p    winacl.Purpose
				want bool
			}{{winacl.Secret, tt.secret}, {winacl.Config, tt.changes}} {
				got := winacl.Check(`C:\x`, d, winacl.Rule{Purpose: c.p, Me: me}) != nil
				if got != c.want {
					t.Errorf("Check(Users:%#x, purpose %v) refused = %v; want %v", tt.mask, c.p, got, c.want)
				}
			}
		})
	}
}

func TestTrustSocketDir(t *testing.T) {
	t.Parallel()
	const dir = `C:\ProgramData\stsd`
	sysDir := func(owner string, aces ...winacl.ACE) winacl.Descriptor {
		return winacl.Descriptor{Owner: owner, Kind: winacl.Dir, ACEs: append([]winacl.ACE{allow(sy, fileAllAccess), allow(ba, fileAllAccess)}, aces...)}
	}
	userDir := func(owner string, aces ...winacl.ACE) winacl.Descriptor {
		return winacl.Descriptor{Owner: owner, Kind: winacl.Dir, ACEs: append([]winacl.ACE{allow(owner, fileAllAccess), allow(sy, fileAllAccess)}, aces...)}
	}
	tests := []struct {
		name   string
		d      winacl.Descriptor
		layout winacl.Layout
		want   *winacl.Problem
	}{
		{name: "system, SYSTEM owns", d: sysDir(sy), layout: winacl.SystemLayout},
		{name: "system, Administrators own", d: sysDir(ba), layout: winacl.SystemLayout},
		{name: "system, Users may read", d: sysDir(sy, allow(users, fileGenericRead|fileGenericExec)), layout: winacl.SystemLayout},
		{name: "system, a user owns", d: sysDir(me, allow(me, fileAllAccess)), layout: winacl.SystemLayout,
			want: &winacl.Problem{Path: dir, What: "is owned by " + me + ", not by SYSTEM or Administrators, so another user could have planted a fake daemon there", Fix: `takeown /a /f "C:\ProgramData\stsd"`}},
		{name: "system, made by an administrator without stsd", d: programDataChild(), layout: winacl.SystemLayout,
			want: &winacl.Problem{Path: dir, What: "grants write access to Users (S-1-5-32-545, inherited), so another user could plant a fake daemon there",
				Fix: `icacls "C:\ProgramData\stsd" /inheritance:r /grant:r "*S-1-5-18:(OI)(CI)F" "*S-1-5-32-544:(OI)(CI)F"`}},
		{name: "system, another user may write", d: sysDir(sy, allow(other, fileWriteData)), layout: winacl.SystemLayout,
			want: &winacl.Problem{Path: dir, What: "grants write access to " + other + ", so another user could plant a fake daemon there",
				Fix: `icacls "C:\ProgramData\stsd" /remove:g *` + other}},
		{name: "system, the current user may write", d: sysDir(sy, allow(me, fileAllAccess)), layout: winacl.SystemLayout,
			want: &winacl.Problem{Path: dir, What: "grants write access to " + me + ", so another user could plant a fake daemon there",
				Fix: `icacls "C:\ProgramData\stsd" /remove:g *` + me}},
		{name: "system, null DACL", d: winacl.Descriptor{Owner: sy, Kind: winacl.Dir, NullDACL: true}, layout: winacl.SystemLayout,
			want: &winacl.Problem{Path: dir, What: "has no DACL, so another user could plant a fake daemon there",
				Fix: `icacls "C:\ProgramData\stsd" /inheritance:r /grant:r "*S-1-5-18:(OI)(CI)F" "*S-1-5-32-544:(OI)(CI)F"`}},
		{name: "user, mine", d: userDir(me), layout: winacl.UserLayout},
		{name: "user, Administrators may write", d: userDir(me, inherited(ba, fileAllAccess)), layout: winacl.UserLayout},
		{name: "user, another user owns", d: userDir(other), layout: winacl.UserLayout,
			want: &winacl.Problem{Path: dir, What: "is owned by " + other + ", not by you, so another user could have planted a fake daemon there", Fix: `takeown /f "C:\ProgramData\stsd"`}},
		{name: "user, SYSTEM owns", d: userDir(sy), layout: winacl.UserLayout,
			want: &winacl.Problem{Path: dir, What: "is owned by SYSTEM (S-1-5-18), not by you, so another user could have planted a fake daemon there", Fix: `takeown /f "C:\ProgramData\stsd"`}},
		{name: "user, Everyone may write", d: userDir(me, allow(winacl.SIDEveryone, genericWrite)), layout: winacl.UserLayout,
			want: &winacl.Problem{Path: dir, What: "grants write access to Everyone (S-1-1-0), so another user could plant a fake daemon there",
				Fix: `icacls "C:\ProgramData\stsd" /remove:g *S-1-1-0`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := winacl.TrustSocketDir(dir, tt.d, tt.layout, me)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("TrustSocketDir(%+v, %v) (-want +got):\n%s", tt.d, tt.layout, diff)
			}
		})
	}
}

func TestProblemError(t *testing.T) {
	t.Parallel()
	p := &winacl.Problem{Path: `C:\a b\c`, What: "holds secrets but grants read access to Users (S-1-5-32-545)", Fix: `icacls "C:\a b\c" /remove:g *S-1-5-32-545`}
	want := `C:\a b\c holds secrets but grants read access to Users (S-1-5-32-545); run: icacls "C:\a b\c" /remove:g *S-1-5-32-545`
	if got := p.Error(); got != want || strings.ContainsAny(got, "\r\n") {
		t.Errorf("Error() = %q; want %q", got, want)
	}
}

func TestName(t *testing.T) {
	t.Parallel()
	for sid, want := range map[string]string{
		users:                  "Users (S-1-5-32-545)",
		winacl.SIDEveryone:     "Everyone (S-1-1-0)",
		winacl.SIDSystem:       "SYSTEM (S-1-5-18)",
		other:                  other,
		"":                     "an unknown trustee",
		winacl.SIDCreatorOwner: "CREATOR OWNER (S-1-3-0)",
	} {
		if got := winacl.Name(sid); got != want {
			t.Errorf("Name(%q) = %q; want %q", sid, got, want)
		}
	}
}
