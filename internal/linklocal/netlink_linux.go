package linklocal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// addr is one IPv4 address of this network namespace, as rtnetlink lists
// it.
type addr struct {
	ip      netip.Addr
	prefix  int
	ifindex int
	label   string
}

// nlSeq numbers netlink requests.
var nlSeq atomic.Uint32

// listAddrs dumps the IPv4 addresses of this network namespace
// (RTM_GETADDR).
func listAddrs() ([]addr, error) {
	msgs, err := nlDo(unix.RTM_GETADDR, unix.NLM_F_DUMP, ifaddrmsg(0, 0))
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	var out []addr
	for _, m := range msgs {
		if m.Header.Type != unix.RTM_NEWADDR || len(m.Data) < unix.SizeofIfAddrmsg {
			continue
		}
		if m.Data[0] != unix.AF_INET {
			continue
		}
		a := addr{prefix: int(m.Data[1]), ifindex: int(binary.NativeEndian.Uint32(m.Data[4:8]))}
		attrs, err := syscall.ParseNetlinkRouteAttr(&m)
		if err != nil {
			return nil, fmt.Errorf("list addresses: %w", err)
		}
		for _, at := range attrs {
			switch at.Attr.Type {
			case unix.IFA_LOCAL, unix.IFA_ADDRESS:
				if ip, ok := netip.AddrFromSlice(at.Value); ok && (at.Attr.Type == unix.IFA_LOCAL || !a.ip.IsValid()) {
					a.ip = ip.Unmap()
				}
			case unix.IFA_LABEL:
				a.label = string(bytes.TrimRight(at.Value, "\x00"))
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// addAddr puts ip/32 on interface ifindex with stsd's label
// (RTM_NEWADDR, failing if it is there already).
func addAddr(ip netip.Addr, ifindex int) error {
	_, err := nlDo(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK, addrMsg(ip, ifindex))
	return err
}

// delAddr removes ip/32 from interface ifindex, but only when it carries
// stsd's label: the kernel compares the label it is given.
func delAddr(ip netip.Addr, ifindex int) error {
	_, err := nlDo(unix.RTM_DELADDR, unix.NLM_F_ACK, addrMsg(ip, ifindex))
	return err
}

// addrMsg is an ifaddrmsg for ip/32 on ifindex with IFA_LOCAL,
// IFA_ADDRESS and IFA_LABEL.
func addrMsg(ip netip.Addr, ifindex int) []byte {
	b := ifaddrmsg(32, ifindex)
	a4 := ip.As4()
	b = appendAttr(b, unix.IFA_LOCAL, a4[:])
	b = appendAttr(b, unix.IFA_ADDRESS, a4[:])
	return appendAttr(b, unix.IFA_LABEL, append([]byte(Label), 0))
}

// ifaddrmsg: family AF_INET, prefix length, no flags, universe scope (as
// `ip addr add` gives a non-127 address), interface index.
func ifaddrmsg(prefix, ifindex int) []byte {
	b := make([]byte, unix.SizeofIfAddrmsg)
	b[0] = unix.AF_INET
	b[1] = byte(prefix)
	b[3] = unix.RT_SCOPE_UNIVERSE
	binary.NativeEndian.PutUint32(b[4:], uint32(ifindex))
	return b
}

func appendAttr(b []byte, typ uint16, val []byte) []byte {
	n := unix.SizeofRtAttr + len(val)
	hdr := make([]byte, unix.SizeofRtAttr)
	binary.NativeEndian.PutUint16(hdr[0:], uint16(n))
	binary.NativeEndian.PutUint16(hdr[2:], typ)
	b = append(append(b, hdr...), val...)
	for len(b)%unix.NLMSG_ALIGNTO != 0 {
		b = append(b, 0)
	}
	return b
}

// nlDo sends one rtnetlink request and reads its answer: the messages of
// a dump, or the acknowledgement (its error, e.g. EEXIST or EPERM). The
// socket is opened by the calling thread, whose capabilities the kernel
// checks.
func nlDo(typ uint16, flags int, payload []byte) ([]syscall.NetlinkMessage, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	seq := nlSeq.Add(1)
	req := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(payload))
	binary.NativeEndian.PutUint32(req[0:], uint32(unix.SizeofNlMsghdr+len(payload)))
	binary.NativeEndian.PutUint16(req[4:], typ)
	binary.NativeEndian.PutUint16(req[6:], uint16(unix.NLM_F_REQUEST|flags))
	binary.NativeEndian.PutUint32(req[8:], seq)
	req = append(req, payload...)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("netlink send: %w", err)
	}
	return nlRead(fd, seq)
}

// nlRead collects the answers to request seq until NLMSG_DONE or an
// acknowledgement.
func nlRead(fd int, seq uint32) ([]syscall.NetlinkMessage, error) {
	var out []syscall.NetlinkMessage
	buf := make([]byte, os.Getpagesize()*4)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("netlink receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, fmt.Errorf("netlink parse: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != seq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) < 4 {
					return nil, errors.New("netlink: short error message")
				}
				if code := int32(binary.NativeEndian.Uint32(m.Data[:4])); code != 0 {
					return nil, syscall.Errno(-code)
				}
				return out, nil
			}
			out = append(out, m)
		}
	}
}
