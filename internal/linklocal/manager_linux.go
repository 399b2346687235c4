package linklocal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
)

// Supported: Linux has link-local listeners.
const Supported = true

const unsupportedReason = "link-local listeners need Linux"

// Options configure New. Zero values mean defaults.
type Options struct {
	Logger *slog.Logger // default: discard
	// Probe tells whether a real instance metadata service answers at
	// addr; default ProbeMetadata.
	Probe func(ctx context.Context, addr netip.AddrPort) bool
}

// Manager opens link-local listeners and owns the addresses it added. It
// is safe for concurrent use.
type Manager struct {
	o Options

	mu   sync.Mutex              // guards the field that follows
	held map[netip.Addr]*holding // addresses with open listeners
}

// holding is one address with open listeners.
type holding struct {
	users   int
	added   bool // this manager added it, or adopted a crashed daemon's
	adopted bool // a leftover: if the first listen fails, someone else may hold it
	ifindex int
}

// New returns a Manager holding nothing.
func New(o Options) *Manager {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Probe == nil {
		o.Probe = ProbeMetadata
	}
	return &Manager{o: o, held: map[netip.Addr]*holding{}}
}

// Listen makes sure b's address is on this host and listens on it. An
// absent address is added to lo with stsd's label; one carrying the label
// already is a crashed daemon's leftover and is adopted; any other is
// someone else's and is used as it is, never removed. The listener's Close
// removes the address when this manager added it and no other listener of
// its uses it.
func (m *Manager) Listen(ctx context.Context, b Bind) (net.Listener, error) {
	ip := b.Addr.Addr().Unmap()
	if !Known(ip) {
		return nil, fmt.Errorf("%s is not a link-local credentials address", ip)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.held[ip]
	if h == nil {
		var err error
		if h, err = m.claim(ctx, ip, b.Probe); err != nil {
			return nil, err
		}
	}
	var ln net.Listener
	err := privileged(func() (err error) {
		ln, err = net.Listen("tcp4", b.Addr.String())
		return err
	})
	if err != nil {
		if h.users == 0 {
			h.added = h.added && !h.adopted // a live stsd may hold a leftover
			m.releaseLocked(ip, h)
		}
		return nil, listenError(b.Addr, err)
	}
	h.users++
	m.held[ip] = h
	return &listener{Listener: ln, release: func() { m.release(ip) }}, nil
}

// claim finds ip on this host, or adds it.
func (m *Manager) claim(ctx context.Context, ip netip.Addr, probe bool) (*holding, error) {
	addrs, err := listAddrs()
	if err != nil {
		return nil, err
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return nil, fmt.Errorf("find lo: %w", err)
	}
	for _, a := range addrs {
		if a.ip != ip {
			continue
		}
		if a.label == Label && a.ifindex == lo.Index {
			m.o.Logger.Info("adopting a link-local address a previous stsd left", "event", "linklocal_adopted", "addr", ip.String(), "label", Label)
			return &holding{added: true, adopted: true, ifindex: lo.Index}, nil
		}
		m.o.Logger.Info("link-local address already on this host; it stays", "event", "linklocal_present", "addr", ip.String(), "label", a.label)
		return &holding{ifindex: a.ifindex}, nil
	}
	if probe && m.o.Probe(ctx, netip.AddrPortFrom(ip, 80)) {
		return nil, ErrMetadataService
	}
	if err := privileged(func() error { return addAddr(ip, lo.Index) }); err != nil {
		if errors.Is(err, syscall.EPERM) {
			return nil, fmt.Errorf("add %s/32 to lo: needs CAP_NET_ADMIN, which this process lacks: run stsd as the system service (stsd install --system grants it) or as root", ip)
		}
		return nil, fmt.Errorf("add %s/32 to lo: %w", ip, err)
	}
	m.o.Logger.Info("link-local address added", "event", "linklocal_added", "addr", ip.String(), "label", Label)
	return &holding{added: true, ifindex: lo.Index}, nil
}

func listenError(ap netip.AddrPort, err error) error {
	switch {
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("listen on %s: port %d needs CAP_NET_BIND_SERVICE, which this process lacks: run stsd as the system service (stsd install --system grants it) or as root", ap, ap.Port())
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("listen on %s: the address is in use by another program (another stsd, or a server on port %d of every address)", ap, ap.Port())
	}
	return fmt.Errorf("listen on %s: %w", ap, err)
}

// release drops one listener's hold on ip.
func (m *Manager) release(ip netip.Addr) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.held[ip]
	if h == nil {
		return
	}
	if h.users--; h.users <= 0 {
		m.releaseLocked(ip, h)
	}
}

// releaseLocked forgets ip and removes it when this manager added it.
// m.mu must be held.
func (m *Manager) releaseLocked(ip netip.Addr, h *holding) {
	delete(m.held, ip)
	if !h.added {
		return
	}
	if err := privileged(func() error { return delAddr(ip, h.ifindex) }); err != nil && !errors.Is(err, syscall.EADDRNOTAVAIL) {
		m.o.Logger.Error("link-local address not removed", "event", "linklocal_remove_failed", "addr", ip.String(), "err", err)
		return
	}
	m.o.Logger.Info("link-local address removed", "event", "linklocal_removed", "addr", ip.String())
}

// listener releases its address when closed (once: http.Server may close
// a listener twice).
type listener struct {
	net.Listener
	once    sync.Once
	release func()
}

func (l *listener) Close() error {
	err := l.Listener.Close()
	l.once.Do(l.release)
	return err
}

// Sweep removes the leftovers of crashed daemons this config no longer
// uses: Known addresses on lo carrying stsd's label that are not in keep
// and on which nothing listens (inUse). It needs CAP_NET_ADMIN, which a
// daemon without link-local listeners is not given: then it removes
// nothing, and says so at debug level.
func (m *Manager) Sweep(keep []netip.Addr, inUse func(netip.Addr) bool) {
	addrs, err := listAddrs()
	if err != nil {
		return
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range addrs {
		if a.label != Label || a.ifindex != lo.Index || !Known(a.ip) || m.held[a.ip] != nil || slices.Contains(keep, a.ip) || inUse(a.ip) {
			continue
		}
		if err := privileged(func() error { return delAddr(a.ip, a.ifindex) }); err != nil {
			m.o.Logger.Debug("leftover link-local address not removed", "event", "linklocal_leftover", "addr", a.ip.String(), "err", err)
			continue
		}
		m.o.Logger.Info("removed a link-local address a previous stsd left", "event", "linklocal_removed", "addr", a.ip.String(), "reason", "leftover")
	}
}

// Present reports the label of ip on this host, and whether it is there.
func Present(ip netip.Addr) (label string, ok bool, err error) {
	addrs, err := listAddrs()
	if err != nil {
		return "", false, err
	}
	for _, a := range addrs {
		if a.ip == ip.Unmap() {
			return a.label, true, nil
		}
	}
	return "", false, nil
}

// Check says what would keep b from listening, one line a problem: a
// capability this process can never raise, or an address already in use
// (listening reports whether something listens on an address and port).
func Check(b Bind, listening func(netip.AddrPort) bool) []string {
	var out []string
	ip := b.Addr.Addr().Unmap()
	_, present, err := Present(ip)
	if err != nil {
		return []string{err.Error()}
	}
	if missing, err := missingCaps(); err != nil {
		out = append(out, err.Error())
	} else if len(missing) > 0 && (!present || b.Addr.Port() < 1024) {
		out = append(out, fmt.Sprintf("%s needs %s, which this process lacks: the system service gets them (stsd install --system), or run stsd as root", b.Addr, strings.Join(missing, " and ")))
	}
	for _, ap := range []netip.AddrPort{b.Addr, netip.AddrPortFrom(netip.IPv4Unspecified(), b.Addr.Port()), netip.AddrPortFrom(netip.IPv6Unspecified(), b.Addr.Port())} {
		if listening(ap) {
			out = append(out, fmt.Sprintf("%s is in use: something already listens on %s", b.Addr, ap))
			break
		}
	}
	return out
}
