package envvars

import (
	"os"
	"os/exec"
)

// forwarded: the console delivers Ctrl-C to the child itself; catching it
// keeps stsd alive until the child exits. Windows cannot send it on.
var forwarded = []os.Signal{os.Interrupt}

func forward(*os.Process, os.Signal) {}

func exitCode(ee *exec.ExitError) int { return ee.ExitCode() }
