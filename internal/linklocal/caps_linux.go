package linklocal

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The two capabilities link-local listeners need: CAP_NET_ADMIN to add and
// remove the address on lo, CAP_NET_BIND_SERVICE to bind port 80.
const needed = 1<<unix.CAP_NET_ADMIN | 1<<unix.CAP_NET_BIND_SERVICE

// capSets are one thread's capability sets (the low 64 capabilities).
type capSets struct {
	effective, permitted, inheritable, ambient uint64
}

// readCaps reads the calling thread's sets: capget for three of them, the
// ambient set from /proc (capget does not report it).
func readCaps() (capSets, error) {
	var c capSets
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return c, fmt.Errorf("capget: %w", err)
	}
	c.effective = uint64(data[0].Effective) | uint64(data[1].Effective)<<32
	c.permitted = uint64(data[0].Permitted) | uint64(data[1].Permitted)<<32
	c.inheritable = uint64(data[0].Inheritable) | uint64(data[1].Inheritable)<<32
	b, err := os.ReadFile("/proc/thread-self/status")
	if err != nil {
		return c, fmt.Errorf("read capabilities: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "CapAmb:"); ok {
			c.ambient, err = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return c, fmt.Errorf("CapAmb %q: %w", strings.TrimSpace(v), err)
			}
		}
	}
	return c, nil
}

// capData lays out sets for capset.
func capData(effective, permitted, inheritable uint64) [2]unix.CapUserData {
	return [2]unix.CapUserData{
		{Effective: uint32(effective), Permitted: uint32(permitted), Inheritable: uint32(inheritable)},
		{Effective: uint32(effective >> 32), Permitted: uint32(permitted >> 32), Inheritable: uint32(inheritable >> 32)},
	}
}

// DropInherited makes sure no child stsd starts (mfa_process, a source
// credential_process, notify_command) gets a capability: it clears the
// ambient and inheritable sets on every thread, and for a process that is
// not root also the effective set, keeping only the permitted set, from
// which Listen and Close raise CAP_NET_ADMIN and CAP_NET_BIND_SERVICE on
// one thread at a time. A child of a non-root process with empty ambient
// and inheritable sets starts with no capability at all. Call it first
// thing in the daemon, before anything can start a child.
//
// Capabilities are per thread and the Go runtime runs many, so the change
// is made on all of them at once (syscall.AllThreadsSyscall), which a cgo
// build cannot do: such a build with capabilities to drop is refused.
func DropInherited() error {
	c, err := readCaps()
	if err != nil {
		return err
	}
	root := os.Geteuid() == 0
	if c.ambient == 0 && c.inheritable == 0 && (root || c.effective == 0) {
		return nil
	}
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0); e != 0 {
		if e == syscall.ENOTSUP {
			return errors.New("this stsd was built with cgo, so it cannot drop the capabilities it was started with on every thread, and its children would inherit them: use a build made with CGO_ENABLED=0 (the release binaries are)")
		}
		return fmt.Errorf("clear the ambient capabilities: %w", e)
	}
	eff := uint64(0)
	if root {
		eff = c.effective
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := capData(eff, c.permitted, 0)
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return fmt.Errorf("capset: %w", e)
	}
	return nil
}

// privileged runs f on the calling goroutine's thread with CAP_NET_ADMIN
// and CAP_NET_BIND_SERVICE raised in that thread's effective set (as far as
// the permitted set holds them), and lowers them again afterwards. The
// thread stays locked to the goroutine while they are raised, so no other
// goroutine runs with them, and a locked thread never clones new threads
// (the Go runtime starts those from a clean template thread). Should
// lowering fail, the goroutine stays locked and the runtime ends the
// thread with the goroutine.
func privileged(f func() error) error {
	runtime.LockOSThread()
	c, err := readCaps()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	raise := c.permitted & needed &^ c.effective
	if raise == 0 {
		err := f()
		runtime.UnlockOSThread()
		return err
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := capData(c.effective|raise, c.permitted, c.inheritable)
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("raise capabilities: %w", err)
	}
	err = f()
	data = capData(c.effective, c.permitted, c.inheritable)
	if unix.Capset(&hdr, &data[0]) == nil {
		runtime.UnlockOSThread()
	}
	return err
}

// missingCaps names the needed capabilities this process can never raise
// (not in its permitted set): what `stsd check` reports.
func missingCaps() ([]string, error) {
	c, err := readCaps()
	if err != nil {
		return nil, err
	}
	var out []string
	if c.permitted&(1<<unix.CAP_NET_ADMIN) == 0 {
		out = append(out, "CAP_NET_ADMIN")
	}
	if c.permitted&(1<<unix.CAP_NET_BIND_SERVICE) == 0 {
		out = append(out, "CAP_NET_BIND_SERVICE")
	}
	return out, nil
}
