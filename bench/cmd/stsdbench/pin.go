//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// startOn starts cmd on the given CPU (all its threads; "" = anywhere):
// under taskset when it is installed, else by pinning the forking thread,
// whose affinity the child inherits, with GOMAXPROCS=1 (Go sizes
// GOMAXPROCS from the affinity mask, so taskset needs no variable).
func startOn(cmd *exec.Cmd, cpu string) error {
	ts, _ := exec.LookPath("taskset")
	return startPinned(cmd, cpu, ts)
}

// startPinned is startOn with taskset at ts ("" when absent).
func startPinned(cmd *exec.Cmd, cpu, ts string) error {
	if cpu == "" {
		return cmd.Start()
	}
	if ts != "" {
		cmd.Args = append([]string{"taskset", "-c", cpu, cmd.Path}, cmd.Args[1:]...)
		cmd.Path = ts
		return cmd.Start()
	}
	n, err := strconv.Atoi(cpu)
	if err != nil {
		return fmt.Errorf("cpu %q: %w", cpu, err)
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "GOMAXPROCS=1")
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return err
	}
	set.Set(n)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("pin to cpu %d: %w", n, err)
	}
	defer unix.SchedSetaffinity(0, &old)
	return cmd.Start()
}

// pinning says how startOn pins, for the report.
func pinning() string {
	if _, err := exec.LookPath("taskset"); err == nil {
		return "taskset -c"
	}
	return "sched_setaffinity inherited from the forking thread, GOMAXPROCS=1"
}

// allowedCPUs lists the CPUs this process may run on, in order.
func allowedCPUs() []string {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil
	}
	var out []string
	for i := range 1024 {
		if set.IsSet(i) {
			out = append(out, strconv.Itoa(i))
		}
	}
	return out
}
