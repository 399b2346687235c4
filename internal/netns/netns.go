//go:build linux

// Package netns gives tests network namespaces of their own, linked by
// veth pairs, so traffic between "hosts" and "containers" never touches
// the machine's own namespace. Everything a test creates is deleted when
// it ends, also when it fails. Tests that cannot create namespaces (not
// root, no iproute2) skip and say why.
package netns

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// NS is one named network namespace (`ip netns`).
type NS struct {
	Name string
	t    testing.TB
}

// New creates a namespace with its loopback up; it is deleted at cleanup.
// It skips the test when namespaces cannot be made here.
func New(t testing.TB) *NS {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip (iproute2) to create network namespaces")
	}
	b := make([]byte, 4)
	rand.Read(b)
	n := &NS{Name: "stsd-" + hex.EncodeToString(b), t: t}
	if out, err := exec.Command("ip", "netns", "add", n.Name).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.Name).Run() })
	n.IP("link", "set", "lo", "up")
	return n
}

// IP runs `ip -n NAME args…` and fails the test on error.
func (n *NS) IP(args ...string) {
	n.t.Helper()
	n.run("ip", append([]string{"-n", n.Name}, args...)...)
}

// Sysctl sets key=value inside the namespace.
func (n *NS) Sysctl(key, value string) {
	n.t.Helper()
	n.run("ip", "netns", "exec", n.Name, "sysctl", "-q", "-w", key+"="+value)
}

// Command is exec.Command run inside the namespace.
func (n *NS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

func (n *NS) run(name string, args ...string) {
	n.t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		n.t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// Link joins a and b with a veth pair, gives each end its address (CIDR
// form, e.g. "192.0.2.1/24") and brings both up. It returns the two
// interface names, a's first. Deleting either namespace deletes the pair.
func Link(a *NS, aAddr string, b *NS, bAddr string) (string, string) {
	a.t.Helper()
	// Named for both ends, so one namespace may have several links.
	ia, ib := "v"+a.Name[5:11]+b.Name[5:11], "v"+b.Name[5:11]+a.Name[5:11]
	a.run("ip", "link", "add", ia, "netns", a.Name, "type", "veth", "peer", "name", ib, "netns", b.Name)
	a.IP("addr", "add", aAddr, "dev", ia)
	a.IP("link", "set", ia, "up")
	b.IP("addr", "add", bAddr, "dev", ib)
	b.IP("link", "set", ib, "up")
	return ia, ib
}

// Do runs f on a thread of this process that has entered the namespace:
// sockets f opens live there. The thread is never given back to the Go
// runtime (it ends with f's goroutine), so nothing else runs in the
// namespace by accident. Do waits for f.
func (n *NS) Do(f func()) {
	n.t.Helper()
	fd, err := unix.Open("/var/run/netns/"+n.Name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		n.t.Fatalf("open namespace %s: %v", n.Name, err)
	}
	defer unix.Close(fd)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			done <- err
			return
		}
		defer func() { done <- nil }()
		f()
	}()
	if err := <-done; err != nil {
		n.t.Fatalf("enter namespace %s: %v", n.Name, err)
	}
}

// Output runs `ip -n NAME args…` and returns its output.
func (n *NS) Output(args ...string) string {
	n.t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", n.Name}, args...)...).CombinedOutput()
	if err != nil {
		n.t.Fatalf("ip -n %s %s: %v: %s", n.Name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
