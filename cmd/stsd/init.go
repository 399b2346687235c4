package main

import "context"

func cmdInit(ctx context.Context, e *env, args []string) int {
	if _, ok := e.parse(e.flags("init"), args); !ok {
		return exitUsage
	}
	return exitOK
}
