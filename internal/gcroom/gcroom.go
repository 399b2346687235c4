// Package gcroom gives the garbage collector room to work in while a
// server has connections: at least Room bytes of new allocations between
// two collections, above what the last one found live.
//
// At the default GOGC=100 the runtime collects once the heap reaches
// twice what is live (the live heap plus the goroutine stacks and globals
// it scans), but never below 4 MiB in all. A bare HTTP server has almost
// nothing live, so it gets those 4 MiB of room and each of its cycles
// scans almost nothing. The daemon keeps a live heap of a megabyte or
// more (the AWS SDK's endpoint tables, the CA pool, routers), which every
// cycle scans: at GOGC=100 its cycles come more often than a bare
// server's and each costs about twice as much. While held, the GC
// percentage is raised just enough that the room is Room: a quarter as
// many cycles per request as a bare server's. The heap may then reach
// its live size plus Room, only while serving; idle, the runtime's own
// setting applies again.
//
// A GOGC the user set is theirs: holds then change nothing.
package gcroom

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Room is the least the heap may grow by between collections while held:
// four times what the runtime's minimum total heap (4 MiB at GOGC=100)
// gives a process with nothing live: ~7500 credential answers of ~2.2 KB
// of allocations each (BenchmarkECSMem).
const Room = 16 << 20

// runtimeHooks are how the package reads and sets the runtime's state
// (tests replace them).
type runtimeHooks struct {
	// scanned returns the live heap at the last collection and the stacks
	// and globals the collector scans.
	scanned    func() (live, stacksGlobals uint64)
	setPercent func(int) int
	userGOGC   func() bool // GOGC is set in the environment
}

var (
	mu      sync.Mutex // guards what follows
	holders int
	saved   int  // the percentage before the holds
	set     int  // the percentage the holds set; 0 when none
	changed bool // the holds set a percentage
	hooks   = runtimeHooks{scanned: scanned, setPercent: debug.SetGCPercent,
		userGOGC: func() bool { _, ok := os.LookupEnv("GOGC"); return ok }}
)

// Hold gives the collector Room until the matching Release; holds nest
// (one per server with connections). The percentage follows the live
// heap as Adjust finds it.
func Hold() {
	mu.Lock()
	defer mu.Unlock()
	holders++
	if holders == 1 {
		adjustLocked()
	}
}

// Adjust sets the percentage again from the last collection's live heap,
// while held (a server's watchdog calls it once a tick: the heap a hold
// began with, maybe before any collection, is not the one it serves with).
func Adjust() {
	mu.Lock()
	defer mu.Unlock()
	if holders > 0 {
		adjustLocked()
	}
}

func adjustLocked() {
	if hooks.userGOGC() {
		return
	}
	p := Percent(hooks.scanned())
	switch {
	case !changed && p > 100:
		saved, set, changed = hooks.setPercent(p), p, true
	case changed && p != set:
		hooks.setPercent(p)
		set = p
	}
}

// Release ends a Hold; the last one puts the percentage back.
func Release() {
	mu.Lock()
	defer mu.Unlock()
	if holders == 0 {
		panic("gcroom: Release without Hold")
	}
	holders--
	if holders == 0 && changed {
		hooks.setPercent(saved)
		changed, set = false, 0
	}
}

// Percent is the least GC percentage (never below 100) at which the heap
// may grow by Room above live before the next collection. The runtime's
// goal at percentage p is the larger of its minimum heap, 4 MiB·p/100,
// and live + (live + stacksGlobals)·p/100; either term alone suffices.
func Percent(live, stacksGlobals uint64) int {
	const minHeap = 4 << 20 // the runtime's minimum total heap at GOGC=100
	// The minimum heap term: 4 MiB·p/100 ≥ live + Room.
	p := ceilDiv(100*(live+Room), minHeap)
	// The proportional term: (live + stacksGlobals)·p/100 ≥ Room.
	if scan := live + stacksGlobals; scan > 0 {
		p = min(p, ceilDiv(100*Room, scan))
	}
	return int(max(p, 100))
}

func ceilDiv(a, b uint64) uint64 { return (a + b - 1) / b }

// scanned reads the live heap, stacks and globals the last collection saw.
func scanned() (live, stacksGlobals uint64) {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}
	metrics.Read(s)
	v := func(i int) uint64 {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return s[i].Value.Uint64()
	}
	return v(0), v(1) + v(2)
}
