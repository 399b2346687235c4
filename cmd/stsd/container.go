package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/stsd/stsd/daemon"
	"github.com/stsd/stsd/internal/envvars"
	"github.com/stsd/stsd/internal/wire"
)

// cmdContainerEnv mints a container id for P and prints the environment
// a container needs (`docker run --env-file`, a compose env_file), or
// lists (--list) or revokes (--revoke ID) ids.
func cmdContainerEnv(ctx context.Context, e *env, args []string) int {
	fs := e.flags("container-env")
	ttl := fs.Duration("ttl", 0, "how long the id works (default 12h; 1m..720h)")
	format := fs.String("format", "env", "env-file lines (env), docker run -e flags (docker) or JSON")
	revoke := fs.String("revoke", "", "revoke this id (whole or as the list shows it; - reads it from stdin)")
	list := fs.Bool("list", false, "list the ids you may see (shortened)")
	pos, ok := e.parse(fs, args)
	if !ok {
		return exitUsage
	}
	usage := func() int {
		fmt.Fprintf(e.stderr, "stsd container-env: usage: stsd container-env PROFILE [--ttl 12h] [--format %s] | --list | --revoke ID\n", strings.Join(envvars.ContainerFormats, "|"))
		return exitUsage
	}
	modes := 0
	for _, on := range []bool{len(pos) > 0, *list, *revoke != ""} {
		if on {
			modes++
		}
	}
	if modes != 1 || len(pos) > 1 || !slices.Contains(envvars.ContainerFormats, *format) {
		return usage()
	}
	c, _, err := dial(ctx, e)
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd container-env: %v (container ids live in the daemon)\n", err)
		return exitFailure
	}
	switch {
	case *list:
		ids, err := c.ContainerIDs(ctx)
		if err != nil {
			fmt.Fprintf(e.stderr, "stsd container-env --list: %v\n", err)
			return exitFailure
		}
		writeContainerIDs(e, ids)
	case *revoke != "":
		id := *revoke
		if id == "-" { // keeps a whole id out of the process list
			line, _ := bufio.NewReader(e.stdin).ReadString('\n')
			id = strings.TrimSpace(line)
		}
		info, err := c.RevokeContainerID(ctx, id)
		if err != nil {
			fmt.Fprintf(e.stderr, "stsd container-env --revoke: %v\n", err)
			return exitFailure
		}
		fmt.Fprintf(e.stdout, "container id %s of %s revoked\n", info.Ref, info.Profile)
	default:
		reply, err := c.MintContainerID(ctx, pos[0], *ttl)
		if err != nil {
			fmt.Fprintf(e.stderr, "stsd container-env: %v\n", err)
			return exitFailure
		}
		envvars.WriteContainer(e.stdout, *format, envvars.ContainerID(reply.URI, reply.Region))
	}
	return exitOK
}

func writeContainerIDs(e *env, ids []wire.ContainerIDInfo) {
	if len(ids) == 0 {
		fmt.Fprintln(e.stdout, "no container ids")
		return
	}
	fmt.Fprintf(e.stdout, "%-12s %-20s %-20s %s\n", "ID", "PROFILE", "CREATED", "EXPIRES")
	for _, id := range ids {
		fmt.Fprintf(e.stdout, "%-12s %-20s %-20s %s\n", id.Ref, id.Profile, wire.Stamp(id.Created), wire.Stamp(id.Expires))
	}
}

// cmdContainerRun runs `docker run` with a container id scoped to P in the
// container's environment (passed by name, never on docker's command
// line), and revokes the id when docker exits, however it ends; the id is
// held (keepHeld), so the daemon revokes it when this process ends, also
// by SIGKILL. Signals are passed on to docker; the exit code is docker's.
func cmdContainerRun(ctx context.Context, e *env, args []string) int {
	const use = "stsd container-run: usage: stsd container-run PROFILE [--ttl 12h] -- DOCKER-RUN-ARG…"
	head, dockerArgs := args, []string(nil)
	if i := slices.Index(args, "--"); i >= 0 {
		head, dockerArgs = args[:i], args[i+1:]
	}
	fs := e.flags("container-run")
	ttl := fs.Duration("ttl", 0, "how long the id works at most (default 12h)")
	pos, ok := e.parse(fs, head)
	if !ok {
		return exitUsage
	}
	if len(pos) != 1 || len(dockerArgs) == 0 {
		fmt.Fprintln(e.stderr, use)
		return exitUsage
	}
	c, _, err := dial(ctx, e)
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd container-run: %v (container ids live in the daemon)\n", err)
		return exitFailure
	}
	// The hold ends when this process does, or after the revoke below:
	// not with ctx, which a signal passed on to docker may end first.
	hctx, release := context.WithCancel(context.WithoutCancel(ctx))
	held, err := c.HoldContainerID(hctx, pos[0], *ttl)
	if err != nil {
		release()
		fmt.Fprintf(e.stderr, "stsd container-run: %v\n", err)
		return exitFailure
	}
	reply := held.ContainerIDReply
	holding := make(chan struct{})
	go func() { defer close(holding); keepHeld(hctx, c, held) }()
	defer func() {
		// The revoke must happen even after a Ctrl-C docker passed on;
		// the hold, released after it, covers a container-run killed
		// before it gets here.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := c.RevokeContainerID(rctx, reply.ID); err != nil && !errors.Is(err, daemon.ErrNoSuchID) {
			fmt.Fprintf(e.stderr, "stsd container-run: revoke container id %s: %v (it lapses at %s)\n", reply.Ref, err, wire.Stamp(reply.Expires))
		}
		release()
		<-holding
	}()
	x := envvars.ContainerID(reply.URI, reply.Region)
	code, err := envvars.Run(envvars.DockerRun(x, dockerArgs), envvars.Apply(os.Environ(), x), e.stdin, e.stdout, e.stderr)
	if err != nil {
		fmt.Fprintf(e.stderr, "stsd container-run: %v\n", err)
	}
	return code
}

// keepHeld holds the id until ctx ends, so that the daemon revokes it
// when this process ends, however: when the daemon stops (which ends the
// hold but leaves the id), it holds the id again once the daemon is back.
func keepHeld(ctx context.Context, c *daemon.Client, h *daemon.HeldContainerID) {
	body := h.Body
	for {
		io.Copy(io.Discard, body) // until the hold ends or ctx does
		body.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			b, err := c.HoldContainerIDAgain(ctx, h.ID)
			if errors.Is(err, daemon.ErrNoSuchID) {
				return // expired or revoked: nothing left to hold
			}
			if err == nil {
				body = b
				break
			}
		}
	}
}
