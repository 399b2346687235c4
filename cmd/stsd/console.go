package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/stsd/stsd/cache"
	"github.com/stsd/stsd/internal/opener"
	"github.com/stsd/stsd/internal/paths"
	"github.com/stsd/stsd/internal/resolve"
)

// cmdConsole opens (or, with --print, prints) an AWS console sign-in URL
// for P. The URL is a secret: it goes to stdout or the browser only.
func cmdConsole(ctx context.Context, e *env, args []string) int {
	fs := e.flags("console")
	printURL := fs.Bool("print", false, "print the sign-in URL on stdout instead of opening it")
	dest := fs.String("destination", "", "the console page to open (default the console home)")
	dur := fs.Duration("duration", 0, "the console session's length")
	pos, ok := e.parse(fs, args)
	if !ok {
		return exitUsage
	}
	if len(pos) != 1 {
		fmt.Fprintln(e.stderr, "stsd console: usage: stsd console PROFILE [--print] [--destination URL] [--duration D]")
		return exitUsage
	}
	u, err := e.resolver().Console(ctx, resolve.ConsoleRequest{Profile: pos[0], Destination: *dest, Duration: *dur})
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd console: %v\n", err)
		return exitFailure
	}
	if *printURL {
		fmt.Fprintln(e.stdout, u)
		return exitOK
	}
	store, err := cache.OpenLayout(paths.Layout{System: e.system})
	if err == nil {
		err = opener.Open(ctx, u, opener.Options{Dir: filepath.Join(store.Dir(), "console")})
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd console: cannot open a browser (%v): run `stsd console %s --print` and open the URL yourself\n", err, pos[0])
		return exitFailure
	}
	fmt.Fprintf(e.stderr, "stsd console: opened the AWS console for %s in your browser\n", pos[0])
	return exitOK
}
