package daemon

import (
	"context"
	"fmt"
	"slices"

	"net/netip"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/linklocal"
	"github.com/stsd/stsd/internal/peercred"
)

// CheckLinkLocal says, one line a problem, what would keep cfg's
// link-local listeners from starting here: a capability this process can
// never raise, an address and port something else already listens on
// (serving lists the endpoints of a running daemon, whose own are no
// problem), or a real instance metadata service answering.
func CheckLinkLocal(ctx context.Context, cfg *config.Config, serving []string) []string {
	var out []string
	for _, l := range cfg.LinkLocalListeners() {
		ours := slices.ContainsFunc(serving, func(ep string) bool { return ep == "imds "+l.Addr.String() || ep == "ecs-container "+l.Addr.String() })
		listening := func(ap netip.AddrPort) bool { return !ours && peercred.Listening(ap) }
		for _, msg := range linklocal.Check(linklocal.Bind{Addr: l.Addr}, listening) {
			out = append(out, fmt.Sprintf("%s: %s: %s", cfg.Path, l.Key, msg))
		}
		if _, present, err := linklocal.Present(l.Addr.Addr()); err == nil && !present && l.Probe &&
			linklocal.ProbeMetadata(ctx, netip.AddrPortFrom(l.Addr.Addr(), 80)) {
			out = append(out, fmt.Sprintf("%s: %s: %v", cfg.Path, l.Key, linklocal.ErrMetadataService))
		}
	}
	return out
}
