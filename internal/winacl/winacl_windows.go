package winacl

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/stsd/stsd/internal/paths"
)

// me is the current process's user SID string, read once.
var me = sync.OnceValues(func() (string, error) {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return "", fmt.Errorf("read the current user's SID: %w", err)
	}
	return u.User.Sid.String(), nil
})

// Me returns the current user's SID string.
func Me() (string, error) { return me() }

// LayoutOf is the layout whose DACL path gets: SystemLayout inside
// %ProgramData%\stsd, else UserLayout.
func LayoutOf(path string) Layout {
	if paths.InSystemTree(path) {
		return SystemLayout
	}
	return UserLayout
}

// owner is who owns what stsd creates in layout l: the current user in the
// user layout; in the system layout SYSTEM when we run as SYSTEM, else
// Administrators when the token holds that group (elevated, and so allowed
// to make it the owner), else the current user (a service account).
func owner(l Layout) (string, error) {
	u, err := me()
	if err != nil {
		return "", err
	}
	if l == UserLayout || u == SIDSystem {
		return u, nil
	}
	if ba, err := windows.StringToSid(SIDAdministrators); err == nil {
		if ok, err := windows.Token(0).IsMember(ba); err == nil && ok {
			return SIDAdministrators, nil
		}
	}
	return u, nil
}

// create runs fn, which creates the object at path, with security
// attributes holding the owner-only descriptor of path's layout. When the
// token may not make Administrators the owner after all
// (ERROR_INVALID_OWNER), it retries leaving the owner to the token's
// default; the token is then in Administrators, which the DACL names.
func create(path string, k Kind, fn func(*windows.SecurityAttributes) error) error {
	l := LayoutOf(path)
	o, err := owner(l)
	if err != nil {
		return err
	}
	err = withSDDL(SDDL(o, l, k), fn)
	if errors.Is(err, windows.ERROR_INVALID_OWNER) && o == SIDAdministrators {
		err = withSDDL(SDDL("", l, k), fn)
	}
	return err
}

func withSDDL(sddl string, fn func(*windows.SecurityAttributes) error) error {
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		return fmt.Errorf("security descriptor %s: %w", sddl, err)
	}
	sa := &windows.SecurityAttributes{SecurityDescriptor: sd}
	sa.Length = uint32(unsafe.Sizeof(*sa))
	err = fn(sa)
	runtime.KeepAlive(sd)
	return err
}

// MkdirAll creates dir and any missing parent, each with the owner-only,
// protected DACL of its layout from the moment it exists. Directories that
// already exist are left as they are: callers check them.
func MkdirAll(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if fi.IsDir() {
			return nil
		}
		return &fs.PathError{Op: "mkdir", Path: dir, Err: windows.ERROR_DIRECTORY}
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := MkdirAll(parent); err != nil {
			return err
		}
	}
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return &fs.PathError{Op: "mkdir", Path: dir, Err: err}
	}
	err = create(dir, Dir, func(sa *windows.SecurityAttributes) error { return windows.CreateDirectory(p, sa) })
	if err != nil {
		if fi, serr := os.Lstat(dir); serr == nil && fi.IsDir() {
			return nil // another process made it meanwhile; callers check it
		}
		return &fs.PathError{Op: "mkdir", Path: dir, Err: err}
	}
	return nil
}

// OpenFile opens name with flag (os.O_RDONLY, O_WRONLY or O_RDWR, plus
// O_CREATE and O_EXCL). A file it creates has the owner-only, protected
// DACL of its layout from the start, so no handle opened before the DACL
// was set can read what is written later; an existing file keeps its own.
// With O_CREATE|O_EXCL a final symlink is not followed.
func OpenFile(name string, flag int) (*os.File, error) {
	const known = os.O_WRONLY | os.O_RDWR | os.O_CREATE | os.O_EXCL
	if flag&^known != 0 {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("unsupported open flag")}
	}
	access := uint32(windows.GENERIC_READ)
	switch {
	case flag&os.O_RDWR != 0:
		access = windows.GENERIC_READ | windows.GENERIC_WRITE
	case flag&os.O_WRONLY != 0:
		access = windows.GENERIC_WRITE
	}
	mode, attrs := uint32(windows.OPEN_EXISTING), uint32(windows.FILE_ATTRIBUTE_NORMAL)
	switch {
	case flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL:
		mode = windows.CREATE_NEW
		attrs |= windows.FILE_FLAG_OPEN_REPARSE_POINT
	case flag&os.O_CREATE != 0:
		mode = windows.OPEN_ALWAYS
	}
	p, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	var h windows.Handle
	err = create(name, File, func(sa *windows.SecurityAttributes) error {
		var err error
		// The share mode is os.OpenFile's.
		h, err = windows.CreateFile(p, access, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, sa, mode, attrs, 0)
		return err
	})
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(h), name), nil
}

// Describe reads the owner and DACL of path.
func Describe(path string) (Descriptor, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Descriptor{}, err
	}
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return Descriptor{}, &fs.PathError{Op: "read the security descriptor of", Path: path, Err: err}
	}
	return descriptor(path, sd, kindOf(fi))
}

// DescribeFile reads the owner and DACL of an open file.
func DescribeFile(f *os.File) (Descriptor, error) {
	fi, err := f.Stat()
	if err != nil {
		return Descriptor{}, err
	}
	sd, err := windows.GetSecurityInfo(windows.Handle(f.Fd()), windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return Descriptor{}, &fs.PathError{Op: "read the security descriptor of", Path: f.Name(), Err: err}
	}
	return descriptor(f.Name(), sd, kindOf(fi))
}

func kindOf(fi fs.FileInfo) Kind {
	if fi.IsDir() {
		return Dir
	}
	return File
}

// ACE types (winnt.h) beyond the two x/sys/windows names.
const (
	accessAllowedObject         = 0x5
	accessDeniedObject          = 0x6
	accessAllowedCallback       = 0x9
	accessDeniedCallback        = 0xA
	accessAllowedCallbackObject = 0xB
	accessDeniedCallbackObject  = 0xC
)

// descriptor turns sd into its neutral form.
func descriptor(path string, sd *windows.SECURITY_DESCRIPTOR, k Kind) (Descriptor, error) {
	defer runtime.KeepAlive(sd)
	d := Descriptor{Kind: k}
	o, _, err := sd.Owner()
	if err != nil {
		return d, &fs.PathError{Op: "read the owner of", Path: path, Err: err}
	}
	if o != nil {
		d.Owner = o.String()
	}
	acl, _, err := sd.DACL()
	switch {
	case errors.Is(err, windows.ERROR_OBJECT_NOT_FOUND):
		d.NullDACL = true
		return d, nil
	case err != nil:
		return d, &fs.PathError{Op: "read the DACL of", Path: path, Err: err}
	case acl == nil:
		d.NullDACL = true
		return d, nil
	}
	for i := range uint32(acl.AceCount) {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(acl, i, &ace); err != nil {
			return d, &fs.PathError{Op: "read the DACL of", Path: path, Err: err}
		}
		d.ACEs = append(d.ACEs, neutralACE(ace))
	}
	return d, nil
}

// neutralACE reads one ACE. Allow and deny ACEs of every kind are read with
// their trustee; any other type is taken as an allow ACE for an unknown
// trustee, so it is refused if its mask grants anything.
func neutralACE(ace *windows.ACCESS_ALLOWED_ACE) ACE {
	a := ACE{Type: Allow, Mask: uint32(ace.Mask), Inherited: ace.Header.AceFlags&windows.INHERITED_ACE != 0}
	base := unsafe.Pointer(ace)
	size := uintptr(ace.Header.AceSize)
	sidAt := unsafe.Offsetof(ace.SidStart)
	switch ace.Header.AceType {
	case windows.ACCESS_ALLOWED_ACE_TYPE, accessAllowedCallback:
	case windows.ACCESS_DENIED_ACE_TYPE, accessDeniedCallback:
		a.Type = Deny
	case accessAllowedObject, accessAllowedCallbackObject, accessDeniedObject, accessDeniedCallbackObject:
		if t := ace.Header.AceType; t == accessDeniedObject || t == accessDeniedCallbackObject {
			a.Type = Deny
		}
		// Mask, then Flags, then the GUIDs Flags says are present.
		flags := *(*uint32)(unsafe.Add(base, sidAt))
		sidAt += 4
		if flags&windows.ACE_OBJECT_TYPE_PRESENT != 0 {
			sidAt += 16
		}
		if flags&windows.ACE_INHERITED_OBJECT_TYPE_PRESENT != 0 {
			sidAt += 16
		}
	default:
		return a
	}
	if sidAt+8 > size {
		return a
	}
	if sid := (*windows.SID)(unsafe.Add(base, sidAt)); sid.IsValid() {
		a.SID = sid.String()
	}
	return a
}

// Problems returns every way path fails r (r.Me defaults to the current
// user), or the error that kept it from reading path's descriptor.
func Problems(path string, r Rule) ([]*Problem, error) {
	d, err := Describe(path)
	if err != nil {
		return nil, err
	}
	return check(path, d, r)
}

// Verify is Problems as one error: nil, the first *Problem, or the read
// error.
func Verify(path string, r Rule) error {
	ps, err := Problems(path, r)
	return first(ps, err)
}

// VerifyFile is Verify on an open file, so what is checked is what is
// read.
func VerifyFile(f *os.File, r Rule) error {
	d, err := DescribeFile(f)
	if err != nil {
		return err
	}
	return first(check(f.Name(), d, r))
}

func check(path string, d Descriptor, r Rule) ([]*Problem, error) {
	if r.Me == "" {
		u, err := me()
		if err != nil {
			return nil, err
		}
		r.Me = u
	}
	return Check(path, d, r), nil
}

func first(ps []*Problem, err error) error {
	switch {
	case err != nil:
		return err
	case len(ps) > 0:
		return ps[0]
	}
	return nil
}

// TrustSocket returns nil when a client may talk to the control socket
// sock: its directory passes TrustSocketDir, judged by the system rule when
// it is the system socket's directory. It returns a *Problem when the
// directory fails, or the error that kept it from reading the directory
// (absent, or not ours to read: no daemon we could use either way).
func TrustSocket(sock string) error {
	dir := filepath.Dir(sock)
	l := UserLayout
	if paths.IsSystemSocketDir(dir) {
		l = SystemLayout
	}
	d, err := Describe(dir)
	if err != nil {
		return err
	}
	u, err := me()
	if err != nil {
		return err
	}
	if p := TrustSocketDir(dir, d, l, u); p != nil {
		return p
	}
	return nil
}
