//go:build linux

package main

func (r *report) writeBroker(p printf) {
	k := r.broker
	if k == nil || len(k.Runs) == 0 {
		return
	}
	p("## HTTPS broker\n\n")
	p("For each table size a fresh daemon with `[broker]` on 127.0.0.1 (certificate from a throwaway CA the clients trust, "+
		"`rate = \"1000/s\"`, `max_connections_per_address` raised: every bench connection comes from 127.0.0.1) and a synthetic "+
		"client table: pairs/%d clients (`[broker.clients.cNNNNN]`, random tokens, their SHA-256 in the config) each given %d "+
		"federation profiles (`name = \"{client}\"`). The load generator holds %d HTTP/2 connections at every size (request k "+
		"goes over connection k mod %d), %d requests in flight at most; every reply must be 200 with an ASIA key. "+
		"*First fetch*: every pair once (one GetFederationToken each). *Warm*: after one untimed request on every connection to "+
		"each side, %d slices of %d requests, broker and floor in the order ABBA BAAB ABBA BAAB, pooled per side (wall: per slice); the floor is a bare Go TLS server (`bench/cmd/tlsfloor`: crypto/tls and net/http defaults, "+
		"the same certificate, the same reply bytes, its own process) over as many connections. At %d pairs the STS "+
		"stand-in's credentials live %s, so every pair refreshes lifetime/2 ± 10%% after its first fetch: passes over every "+
		"pair, 100 ms apart, run through that window until every pair has refreshed once (one row, passes pooled; wall is "+
		"per pass). *Open*: the daemon's VmRSS with the connections open. *Closed + released*: after they close, the daemon "+
		"gets SIGUSR1 (`stsd run` then runs a GC and returns its free pages to the OS, and logs its heap and stacks), then "+
		"VmRSS again: what holding the pairs costs, without connection buffers and GC slack.\n\n",
		brokerProfiles, brokerProfiles, brokerConns, brokerConns, brokerWorkers, len(warmOrder), k.Runs[0].Warm.Requests*2/len(warmOrder),
		brokerTargetPairs, brokerLifetime)
	p("| pairs | STS calls: first / warm / refresh | errors | warm p50 | warm p99 | floor p50 | floor p99 | p99 ratio | VmRSS open (HWM) | TLS floor VmRSS open | VmRSS closed + released (RssAnon / RssFile) | heap in use (live) + stacks then |\n")
	p("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, run := range k.Runs {
		p("| %d | %d / %d / %s | %d | %s | %s | %s | %s | %s | %.1f MiB (%.1f) | %.1f MiB | %.1f MiB (%.1f / %.1f) | %.1f (%.1f) + %.1f MiB |\n", run.Pairs,
			run.ColdCalls, run.WarmCalls, refreshCount(run.RefreshCalls), run.errors(),
			ms(run.Warm.Latency.Median), ms(run.Warm.Latency.P99), ms(run.Floor.Latency.Median), ms(run.Floor.Latency.P99), x(run.p99Ratio()),
			mib(run.OpenRSS), mib(run.OpenHWM), mib(run.FloorRSS), mib(run.ClosedRSS), mib(run.ClosedAnon), mib(run.ClosedFile),
			mib(run.ClosedHeap), mib(run.ClosedLive), mib(run.ClosedStack))
	}
	if t := k.run(brokerTargetPairs); t != nil && k.FloorIdleRSS > 0 {
		p("\nPer open connection: the daemon's open − closed VmRSS (connection buffers and GC slack) / %d at %d pairs is %.0f KiB; "+
			"the TLS floor's open VmRSS − its VmRSS before any connection (%.1f MiB) / %d is %.0f KiB.\n",
			brokerConns, t.Pairs, float64(t.OpenRSS-t.ClosedRSS)/1024/brokerConns, mib(k.FloorIdleRSS), brokerConns, float64(t.FloorRSS-k.FloorIdleRSS)/1024/brokerConns)
	}
	if k.run(100) != nil && k.run(1000) != nil {
		p("\nCost per 1000 pairs (closed + released): 100 → 1000 pairs %.2f MiB RSS, %.2f MiB heap+stacks", k.slope(100, 1000, false), k.slope(100, 1000, true))
		if k.run(10000) != nil {
			p("; 1000 → 10,000 pairs %.2f MiB RSS, %.2f MiB heap+stacks (%s the first step's heap cost: 1× is a straight line)",
				k.slope(1000, 10000, false), k.slope(1000, 10000, true), x(k.linearity()))
		}
		p(".\n")
	}
	p("\n| pairs | wave | requests | errors | p50 | p99 | max | wall (one pass) |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, run := range k.Runs {
		for _, w := range run.Waves {
			p("| %d | %s | %d | %d | %s | %s | %s | %s |\n", run.Pairs, w.Name, w.Requests, w.Errors, ms(w.Latency.Median), ms(w.Latency.P99), ms(w.Latency.Max), ms(w.Wall))
		}
	}
	for _, run := range k.Runs {
		for _, w := range run.Waves {
			if w.FirstError != "" {
				p("\nFirst error (%d pairs, %s): `%s`\n", run.Pairs, w.Name, w.FirstError)
			}
		}
	}
	p("\n")
}
