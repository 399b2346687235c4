// Command fakests serves the ststest STS stand-in on a loopback address,
// for demos and end-to-end scripts.
//
//	fakests [-listen 127.0.0.1:0] [-lifetime 15m] [-account 123456789012] [-role ARN]…
//
// Each -role may be assumed (any caller; MaxSessionDuration 12h). The
// console sign-in endpoint is at /federation (signin_endpoint).
//
// It listens on loopback, or on a TEST-NET address (192.0.2.0/24,
// 198.51.100.0/24), which only a test's own network namespaces have.
//
// When ready it prints one line, STS_URL=http://127.0.0.1:PORT, to stdout;
// it logs one line per call to stderr and exits 0 on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/stsd/stsd/internal/ststest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run serves until ctx ends; it returns 0 on a clean stop, 1 on a serve
// error and 2 on bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fakests", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "loopback `address` to listen on")
	lifetime := fs.Duration("lifetime", 0, "lifetime of every issued credential (0: honour DurationSeconds)")
	account := fs.String("account", ststest.DefaultAccount, "12-digit account `id`")
	var roles []string
	fs.Func("role", "a role `ARN` callers may assume (repeatable)", func(s string) error { roles = append(roles, s); return nil })
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "fakests: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if err := checkLoopback(*listen); err != nil {
		fmt.Fprintf(stderr, "fakests: %v\n", err)
		return 2
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "fakests: %v\n", err)
		return 1
	}
	h := ststest.NewHandler(ststest.Options{
		Lifetime: *lifetime,
		Account:  *account,
		Logger:   slog.New(slog.NewTextHandler(stderr, nil)),
	})
	for _, arn := range roles {
		h.AddRole(ststest.Role{ARN: arn, MaxSessionDuration: 12 * time.Hour})
	}
	mux := http.NewServeMux()
	mux.Handle(ststest.SigninPath, h.SigninHandler())
	mux.Handle("/", h)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "STS_URL=http://%s\n", ln.Addr())

	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "fakests: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	h.Close() // release FaultHang calls so Shutdown need not wait for them
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		fmt.Fprintf(stderr, "fakests: shutdown: %v\n", err)
		return 1
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "fakests: %v\n", err)
		return 1
	}
	return 0
}

// checkLoopback refuses addresses reachable from other hosts: the stand-in
// hands out credentials to anyone who asks. TEST-NET-1 and -2 (RFC 5737)
// are never routed: they exist only in the network namespaces tests make.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	testNet := err == nil && (netip.MustParsePrefix("192.0.2.0/24").Contains(ip) || netip.MustParsePrefix("198.51.100.0/24").Contains(ip))
	if err != nil || !(ip.IsLoopback() || testNet) {
		return fmt.Errorf("listen address %q is not a loopback or TEST-NET address", addr)
	}
	return nil
}
