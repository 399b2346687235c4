package daemon

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stsd/stsd/internal/ststest"
)

// TestFaultMatrix drives one profile through each STS fault in a synctest
// bubble and checks, for each: no expired credential is ever served, the
// old ones are served while valid, client requests never start a fetch,
// retries are never sooner than the backoff floor, and the profile
// recovers once the fault clears.
func TestFaultMatrix(t *testing.T) {
	env := newEnv(t, sessionProfile)
	faults := []struct {
		fault     ststest.Fault
		retryable bool
	}{
		{ststest.FaultServerError, true},
		{ststest.FaultUnavailable, true},
		{ststest.FaultThrottling, true},
		{ststest.FaultAccessDenied, false},
		{ststest.FaultInvalidClientTokenId, false},
		{ststest.FaultHang, true},
		{ststest.FaultReset, true},
		{ststest.FaultMalformed, true},
		{ststest.FaultExpired, true},
	}
	for _, tt := range faults {
		t.Run(tt.fault.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sts := ststest.NewHandler(ststest.Options{})
				s, r := runDev(t, Options{Config: env.cfg, HTTPClient: memClient(sts), Rand: func() float64 { return 0 }})
				ctx := t.Context()
				first, err := r.Credentials(ctx)
				if err != nil {
					t.Fatal(err)
				}
				exp := first.creds.Expiration

				sts.FailAll(tt.fault)
				time.Sleep(time.Until(first.next))
				synctest.Wait()

				// Clients hammer the profile all through the outage.
				var served, refused int
				var mu sync.Mutex
				check := func() {
					for range 20 {
						c, err := s.Credentials(ctx, "dev")
						mu.Lock()
						if err == nil {
							served++
							if !time.Now().Before(c.Expiration) {
								t.Errorf("served credentials that expired at %s (now %s)", c.Expiration, time.Now())
							}
						} else {
							refused++
						}
						mu.Unlock()
					}
				}
				callsBefore := sts.Calls()
				for time.Now().Before(exp.Add(time.Minute)) {
					var wg sync.WaitGroup
					for range 5 {
						wg.Go(check)
					}
					wg.Wait()
					time.Sleep(20 * time.Second)
					synctest.Wait()
				}
				if served == 0 || refused == 0 {
					t.Errorf("served %d, refused %d; want old credentials served, then refused after expiry", served, refused)
				}

				// Retry spacing: every gap ≥ the backoff floor (base/2).
				var times []time.Time
				for _, rq := range sts.Requests()[1:] {
					times = append(times, rq.Time)
				}
				base := time.Second
				if !tt.retryable {
					base = backoffCap
				}
				for i := 1; i < len(times); i++ {
					if gap := times[i].Sub(times[i-1]); gap < base/2 {
						t.Errorf("retry %d came %v after the previous; floor is %v", i, gap, base/2)
					}
					base = min(2*base, backoffCap)
				}
				// 31 min of outage at the shortest sleeps (0.5s doubling to
				// 150s) is 20 attempts; errors that wait the cap make ~12.
				if n := sts.Calls() - callsBefore; n > 20 {
					t.Errorf("%d attempts during the outage: a refresh storm", n)
				}

				// Recovery.
				sts.Clear()
				time.Sleep(backoffCap + time.Second)
				synctest.Wait()
				got, err := r.Credentials(ctx)
				if err != nil || got.creds.AccessKeyID == first.creds.AccessKeyID {
					t.Fatalf("after the fault cleared: %v; want new credentials", err)
				}
				if st := r.Status().State; st != StateOK {
					t.Errorf("state after recovery = %s", st)
				}
			})
		})
	}
}
