package linklocal

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/stsd/stsd/internal/netns"
)

// loAddrs is `ip -4 addr show dev lo` in ns.
func loAddrs(ns *netns.NS) string { return ns.Output("-4", "addr", "show", "dev", "lo") }

var imdsPort = netip.AddrPortFrom(InstanceMetadata, 80)

// TestListenAddressLifecycle: each case runs in a network namespace of its
// own. An absent address is added with stsd's label and removed when the
// last listener closes; one that was there before stays; a labelled
// leftover (a crashed daemon's) is adopted and removed; a probe that finds
// a metadata service refuses before anything is added.
func TestListenAddressLifecycle(t *testing.T) {
	tests := []struct {
		name      string
		before    []string // ip args run first
		probe     bool     // the fake probe finds a metadata service
		wantErr   error
		wantAfter bool // the address is still there after Close
	}{
		{name: "absent: added and removed"},
		{name: "someone else's stays", before: []string{"addr", "add", "169.254.169.254/32", "dev", "lo"}, wantAfter: true},
		{name: "someone else's on another label stays", before: []string{"addr", "add", "169.254.169.254/32", "dev", "lo", "label", "lo:other"}, wantAfter: true},
		{name: "leftover adopted and removed", before: []string{"addr", "add", "169.254.169.254/32", "dev", "lo", "label", Label}},
		{name: "real metadata service refused", probe: true, wantErr: ErrMetadataService},
		{name: "present address is not probed", probe: true, before: []string{"addr", "add", "169.254.169.254/32", "dev", "lo"}, wantAfter: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := netns.New(t)
			if tt.before != nil {
				ns.IP(tt.before...)
			}
			m := New(Options{Logger: testLog(t), Probe: func(context.Context, netip.AddrPort) bool { return tt.probe }})
			var lnErr error
			var during, after string
			ns.Do(func() {
				ln, err := m.Listen(t.Context(), Bind{Addr: imdsPort, Probe: true})
				if lnErr = err; err != nil {
					return
				}
				// A second listener on the same address shares the hold.
				ln2, err := m.Listen(t.Context(), Bind{Addr: netip.AddrPortFrom(InstanceMetadata, 8080)})
				if err != nil {
					t.Errorf("second listener: %v", err)
				}
				c, err := net.Dial("tcp4", imdsPort.String())
				if err != nil {
					t.Errorf("dial the listener: %v", err)
				} else {
					c.Close()
				}
				during = loAddrsIn()
				ln.Close()
				ln.Close() // twice, as http.Server may
				if !strings.Contains(loAddrsIn(), "169.254.169.254") {
					t.Error("address removed while a listener still used it")
				}
				if ln2 != nil {
					ln2.Close()
				}
			})
			after = loAddrs(ns)
			if !errors.Is(lnErr, tt.wantErr) {
				t.Fatalf("Listen = %v; want %v", lnErr, tt.wantErr)
			}
			if tt.wantErr != nil {
				if strings.Contains(after, "169.254.169.254") {
					t.Errorf("refused Listen left an address:\n%s", after)
				}
				return
			}
			if !strings.Contains(during, "169.254.169.254") {
				t.Errorf("address not on lo while listening:\n%s", during)
			}
			if tt.before == nil && !strings.Contains(during, Label) {
				t.Errorf("added address lacks the label %s:\n%s", Label, during)
			}
			if got := strings.Contains(after, "169.254.169.254"); got != tt.wantAfter {
				t.Errorf("address there after Close = %v; want %v\n%s", got, tt.wantAfter, after)
			}
		})
	}
}

// TestListenInUse: a listener someone else holds on the address makes
// Listen fail with a one-line "in use" error, and the leftover it adopted
// for that attempt is left where it was (a live stsd may hold it).
func TestListenInUse(t *testing.T) {
	ns := netns.New(t)
	ns.IP("addr", "add", "169.254.170.2/32", "dev", "lo", "label", Label)
	ap := netip.AddrPortFrom(ContainerCredentials, 80)
	var err error
	var problems []string
	ns.Do(func() {
		other, lerr := net.Listen("tcp4", ap.String())
		if lerr != nil {
			t.Errorf("other listener: %v", lerr)
			return
		}
		defer other.Close()
		_, err = New(Options{Logger: testLog(t)}).Listen(t.Context(), Bind{Addr: ap})
		problems = Check(Bind{Addr: ap}, func(a netip.AddrPort) bool { return a == ap })
	})
	if err == nil || !strings.Contains(err.Error(), "in use") || strings.Contains(err.Error(), "\n") {
		t.Errorf("Listen on a held address = %v; want a one-line in-use error", err)
	}
	if !strings.Contains(loAddrs(ns), "169.254.170.2") {
		t.Error("a failed Listen removed an address another listener holds")
	}
	if len(problems) != 1 || !strings.Contains(problems[0], "in use") {
		t.Errorf("Check = %q; want one in-use problem", problems)
	}
}

// loAddrsIn lists lo's IPv4 addresses and labels from the calling
// thread's namespace.
func loAddrsIn() string {
	addrs, err := listAddrs()
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, a := range addrs {
		b.WriteString(a.ip.String() + " " + a.label + "\n")
	}
	return b.String()
}

// TestDeleteMatchesLabel: removal names stsd's label, and the kernel
// compares it, so even a delete aimed at someone else's address (same
// address, other label, or none) cannot take it.
func TestDeleteMatchesLabel(t *testing.T) {
	for _, label := range []string{"lo", "lo:other"} {
		ns := netns.New(t)
		ns.IP("addr", "add", "169.254.170.2/32", "dev", "lo", "label", label)
		var err error
		ns.Do(func() {
			lo, lerr := net.InterfaceByName("lo")
			if lerr != nil {
				t.Error(lerr)
				return
			}
			err = delAddr(ContainerCredentials, lo.Index)
		})
		if err == nil {
			t.Errorf("delete of an address labelled %q succeeded", label)
		}
		if !strings.Contains(loAddrs(ns), "169.254.170.2") {
			t.Errorf("an address labelled %q was removed", label)
		}
	}
}
