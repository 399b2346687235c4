package gcroom

import (
	"runtime"
	"runtime/debug"
	"testing"
)

const mib = 1 << 20

// goal is the runtime's heap goal at percentage p (runtime/mgcpacer.go's
// rule, restated): the larger of the minimum heap and the proportional goal.
func goal(p int, live, sg uint64) uint64 {
	return max(4*mib*uint64(p)/100, live+(live+sg)*uint64(p)/100)
}

func TestPercent(t *testing.T) {
	for _, tt := range []struct {
		live, sg uint64
		want     int
	}{
		{0, 0, 400},                  // nothing live: 4× the minimum heap
		{64 << 10, 32 << 10, 402},    // a bare server's few KB
		{1250 << 10, 300 << 10, 431}, // the daemon's endpoint tables and CA pool
		{2 * mib, 200 << 10, 450},
		{8 * mib, 0, 200},        // the proportional term is the cheaper one
		{16 * mib, 0, 100},       // 2× live is room enough
		{40 * mib, 2 * mib, 100}, // a big heap: unchanged
		{0, 8 * mib, 200},        // stacks alone
	} {
		p := Percent(tt.live, tt.sg)
		if p != tt.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", tt.live, tt.sg, p, tt.want)
		}
		if room := goal(p, tt.live, tt.sg) - tt.live; room < Room {
			t.Errorf("Percent(%d, %d) = %d leaves %d bytes of room, want ≥ %d", tt.live, tt.sg, p, room, Room)
		}
		if p > 100 && goal(p-1, tt.live, tt.sg)-tt.live >= Room {
			t.Errorf("Percent(%d, %d) = %d is not the least: %d gives the room too", tt.live, tt.sg, p, p-1)
		}
	}
}

// FuzzPercent: the percentage always gives Room, is the least that does,
// and never exceeds what 4 MiB of live heap would need (the minimum heap
// term up to there, the proportional one past it).
func FuzzPercent(f *testing.F) {
	f.Add(uint64(1250<<10), uint64(300<<10))
	f.Add(uint64(0), uint64(0))
	f.Fuzz(func(t *testing.T, live, sg uint64) {
		live, sg = live%(64*mib), sg%(64*mib)
		p := Percent(live, sg)
		if most := 100 * (4*mib + Room) / (4 * mib); p < 100 || p > most {
			t.Fatalf("Percent(%d, %d) = %d, want 100..%d", live, sg, p, most)
		}
		if goal(p, live, sg)-live < Room && p > 100 {
			t.Fatalf("Percent(%d, %d) = %d leaves too little room", live, sg, p)
		}
		if p > 100 && goal(p-1, live, sg)-live >= Room {
			t.Fatalf("Percent(%d, %d) = %d is not the least", live, sg, p)
		}
	})
}

// fakeRuntime replaces the hooks for one test and returns the percentage
// they hold; *live is what they report live (changeable).
func fakeRuntime(t *testing.T, live, sg uint64, userSet bool) *int {
	pct, _ := fakeHeap(t, live, sg, userSet)
	return pct
}

func fakeHeap(t *testing.T, live, sg uint64, userSet bool) (*int, *uint64) {
	old := hooks
	pct := 100
	hooks = runtimeHooks{
		scanned:    func() (uint64, uint64) { return live, sg },
		setPercent: func(p int) int { prev := pct; pct = p; return prev },
		userGOGC:   func() bool { return userSet },
	}
	t.Cleanup(func() { // a failed test's holds end with it
		hooks = old
		holders, changed, set = 0, false, 0
	})
	return &pct, &live
}

// TestAdjustFollowsTheHeap: a hold taken before any collection (nothing
// live yet) makes the room over nothing; once a collection finds the
// heap, Adjust follows it as it grows, and Release puts 100 back.
func TestAdjustFollowsTheHeap(t *testing.T) {
	pct, live := fakeHeap(t, 0, 0, false)
	Hold()
	for _, step := range []struct {
		live uint64
		want int
	}{
		{0, 400},          // held with nothing live yet
		{1250 << 10, 431}, // a collection found the heap
		{32 << 20, 100},   // it grew past needing room
		{2 << 20, 450},
	} {
		*live = step.live
		Adjust()
		if *pct != step.want {
			t.Fatalf("%d bytes live: GC percent %d, want %d", step.live, *pct, step.want)
		}
	}
	Release()
	Adjust() // not held: nothing happens
	if *pct != 100 {
		t.Fatalf("released: GC percent %d, want 100", *pct)
	}
}

func TestHoldsNestAndRestore(t *testing.T) {
	pct := fakeRuntime(t, 1250<<10, 300<<10, false)
	Hold()
	if *pct != 431 {
		t.Fatalf("after the first Hold: %d, want 431", *pct)
	}
	Hold()
	Release()
	if *pct != 431 {
		t.Fatalf("after one of two Releases: %d, want 431 still", *pct)
	}
	Release()
	if *pct != 100 {
		t.Fatalf("after the last Release: %d, want 100 back", *pct)
	}
}

func TestUserGOGCIsLeftAlone(t *testing.T) {
	pct := fakeRuntime(t, 1250<<10, 300<<10, true)
	*pct = 50
	Hold()
	Release()
	if *pct != 50 {
		t.Fatalf("GOGC set by the user: the percentage became %d, want 50 untouched", *pct)
	}
}

func TestReleaseWithoutHoldPanics(t *testing.T) {
	fakeRuntime(t, 0, 0, false)
	defer func() {
		if recover() == nil {
			t.Fatal("Release without Hold did not panic")
		}
	}()
	Release()
}

// TestRealRuntime: with the real hooks the runtime's percentage is raised
// by a hold and restored by its release (unless GOGC is set here).
func TestRealRuntime(t *testing.T) {
	if hooks.userGOGC() {
		t.Skip("GOGC is set in this environment: gcroom leaves it alone")
	}
	keep := make([]*[1024]byte, 2048) // 2 MiB live
	for i := range keep {
		keep[i] = new([1024]byte)
	}
	runtime.GC()
	live, sg := scanned()
	if live < 2*mib {
		t.Fatalf("live heap read as %d bytes, want ≥ 2 MiB", live)
	}
	want := Percent(live, sg)
	Hold()
	got := debug.SetGCPercent(want) // reads the current value back
	Release()
	after := debug.SetGCPercent(100)
	debug.SetGCPercent(after)
	runtime.KeepAlive(keep)
	if got != want || want <= 100 {
		t.Errorf("held: GC percent %d, want %d (> 100)", got, want)
	}
	if after != 100 {
		t.Errorf("released: GC percent %d, want 100", after)
	}
}
