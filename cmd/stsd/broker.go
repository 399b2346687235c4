package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/stsd/stsd/broker"
	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/daemon"
)

func cmdBroker(ctx context.Context, e *env, args []string) int {
	return dispatch(ctx, e, "broker", brokerTable, args)
}

// applyClients has the running daemon reload, so a client change (a
// removed or rotated token above all) applies before the command returns.
// With no daemon running it applies at the next start.
func applyClients(ctx context.Context, e *env) string {
	c, _, err := dial(ctx, e)
	if errors.Is(err, daemon.ErrNoDaemon) {
		return "no stsd daemon is running: the change applies when it starts"
	}
	if err == nil {
		err = c.Reload(ctx)
	}
	if err != nil {
		return fmt.Sprintf("the running daemon did not reload (%v): run `stsd reload` once the config is fixed; until then it keeps the old clients", err)
	}
	return "the running daemon applied it"
}

func brokerAddClient(ctx context.Context, e *env, args []string) int {
	fs := e.flags("broker add-client")
	profiles := fs.String("profiles", "", "comma-separated federation profiles the client may fetch")
	cidrs := fs.String("cidrs", "", "comma-separated CIDR prefixes the client may connect from (default: any)")
	pos, ok := e.parse(fs, args)
	if !ok {
		return exitUsage
	}
	if len(pos) != 1 || *profiles == "" {
		fmt.Fprintln(e.stderr, "stsd broker add-client: usage: stsd broker add-client NAME --profiles a,b [--cidrs 10.20.0.0/16,…]")
		return exitUsage
	}
	name := pos[0]
	var prefixes []netip.Prefix
	for _, s := range splitList(*cidrs) {
		p, err := netip.ParsePrefix(s)
		if err != nil || p != p.Masked() {
			fmt.Fprintf(e.stderr, "stsd broker add-client: --cidrs: %q is not a CIDR prefix (write e.g. 10.20.0.0/16)\n", s)
			return exitUsage
		}
		prefixes = append(prefixes, p)
	}
	token, hash := broker.NewToken()
	path, code := e.editConfig("broker add-client", func(data []byte) ([]byte, error) {
		return config.AddBrokerClient(data, name, hash, splitList(*profiles), prefixes)
	})
	if code != exitOK {
		return code
	}
	fmt.Fprintln(e.stdout, token)
	fmt.Fprintf(e.stderr, "stsd broker: added client %s to %s. Its token is on stdout, shown this once (the config keeps only its SHA-256): give it to the client as AWS_CONTAINER_AUTHORIZATION_TOKEN (or a file named by AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE); %s.\n", name, path, applyClients(ctx, e))
	return exitOK
}

// clientName parses `stsd broker SUB NAME`.
func (e *env) clientName(sub string, args []string) (string, bool) {
	pos, ok := e.parse(e.flags("broker "+sub), args)
	if ok && len(pos) != 1 {
		fmt.Fprintf(e.stderr, "stsd broker %s: usage: stsd broker %s NAME\n", sub, sub)
		ok = false
	}
	if !ok {
		return "", false
	}
	return pos[0], true
}

func brokerRotateClient(ctx context.Context, e *env, args []string) int {
	name, ok := e.clientName("rotate-client", args)
	if !ok {
		return exitUsage
	}
	token, hash := broker.NewToken()
	path, code := e.editConfig("broker rotate-client", func(data []byte) ([]byte, error) {
		return config.SetBrokerClientToken(data, name, hash)
	})
	if code != exitOK {
		return code
	}
	fmt.Fprintln(e.stdout, token)
	fmt.Fprintf(e.stderr, "stsd broker: new token for client %s in %s, on stdout, shown this once; the old one stops working when the daemon reloads: %s.\n", name, path, applyClients(ctx, e))
	return exitOK
}

func brokerRemoveClient(ctx context.Context, e *env, args []string) int {
	name, ok := e.clientName("remove-client", args)
	if !ok {
		return exitUsage
	}
	path, code := e.editConfig("broker remove-client", func(data []byte) ([]byte, error) {
		return config.RemoveBrokerClient(data, name)
	})
	if code != exitOK {
		return code
	}
	fmt.Fprintf(e.stderr, "stsd broker: removed client %s from %s; %s.\n", name, path, applyClients(ctx, e))
	return exitOK
}

func brokerListClients(ctx context.Context, e *env, args []string) int {
	if !e.noArgs(e.flags("broker list-clients"), args) {
		return exitUsage
	}
	cfg, ok := e.config()
	if !ok {
		return exitUsage
	}
	if cfg.Broker == nil {
		fmt.Fprintf(e.stderr, "stsd broker list-clients: %s has no [broker] section\n", cfg.Path)
		return exitUsage
	}
	// Names, profiles and addresses only: never a hash.
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT\tPROFILES\tALLOWED CIDRS")
	for _, name := range slices.Sorted(maps.Keys(cfg.Broker.Clients)) {
		c := cfg.Broker.Clients[name]
		cidrs := make([]string, len(c.AllowedCIDRs))
		for i, p := range c.AllowedCIDRs {
			cidrs[i] = p.String()
		}
		if len(cidrs) == 0 {
			cidrs = []string{"any"}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name, strings.Join(c.Profiles, ","), strings.Join(cidrs, ","))
	}
	tw.Flush()
	return exitOK
}

// editConfig runs config.EditFile on the config file and reports
// problems; it returns the file's path and an exit code.
func (e *env) editConfig(what string, edit func([]byte) ([]byte, error)) (string, int) {
	path, err := config.ResolvePath(e.configFlag, e.system)
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd %s: %v\n", what, err)
		return "", exitUsage
	}
	if _, err := config.EditFile(path, config.Options{System: e.system}, edit); err != nil {
		var errs config.Errors
		switch {
		case errors.As(err, &errs):
			fmt.Fprintf(e.stderr, "stsd %s: the edited config would not load, so %s is unchanged:\n", what, path)
			e.printConfigError(err)
		case errors.Is(err, config.ErrNoBroker):
			fmt.Fprintf(e.stderr, "stsd %s: %s has no [broker] section: add one first (listen, tls_cert_file, tls_key_file; see the README)\n", what, path)
		case errors.Is(err, config.ErrClientExists):
			fmt.Fprintf(e.stderr, "stsd %s: %v in %s: use `stsd broker rotate-client` for a new token\n", what, err, path)
		case errors.Is(err, config.ErrNoClient):
			fmt.Fprintf(e.stderr, "stsd %s: %v in %s (`stsd broker list-clients` shows them)\n", what, err, path)
		default:
			fmt.Fprintf(e.stderr, "stsd %s: %v\n", what, err)
			return "", exitFailure
		}
		return "", exitUsage
	}
	return path, exitOK
}

func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
