//go:build linux

package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/stat: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// cpuSnap is the machine's CPU accounting at one moment.
type cpuSnap struct {
	wall  time.Time
	busy  float64 // CPU-seconds all CPUs spent not idle (steal excluded)
	steal float64 // CPU-seconds the hypervisor took
	ours  float64 // CPU-seconds of this process and its reaped children
}

func takeCPU() cpuSnap {
	s := cpuSnap{wall: time.Now()}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
		val := func(i int) float64 {
			if i >= len(f) {
				return 0
			}
			v, _ := strconv.ParseFloat(f[i], 64)
			return v / clockTicks
		}
		if len(f) > 8 && f[0] == "cpu" {
			// user + nice + system: irq and softirq time (loopback TCP is
			// processed there) is charged to no process, so it would look foreign.
			s.busy = val(1) + val(2) + val(3)
			s.steal = val(8)
		}
	}
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			s.ours += time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		}
	}
	return s
}

// foreign is the CPU time other processes used between two snapshots
// (taken when every child started in between has been reaped), and the
// time the hypervisor stole.
func foreign(a, b cpuSnap) (other, steal float64, wall time.Duration) {
	return max(0, (b.busy-a.busy)-(b.ours-a.ours)), b.steal - a.steal, b.wall.Sub(a.wall)
}
