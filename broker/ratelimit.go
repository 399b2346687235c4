package broker

import (
	"math"
	"net/netip"
	"sync"
	"time"
)

// bucket is a token bucket: it holds up to burst tokens and gains rate a
// second. The zero last means "full".
type bucket struct {
	tokens float64
	last   time.Time
}

// refill brings b up to now.
func (b *bucket) refill(now time.Time, rate, burst float64) {
	if b.last.IsZero() {
		b.tokens, b.last = burst, now
		return
	}
	if d := now.Sub(b.last).Seconds(); d > 0 {
		b.tokens = math.Min(burst, b.tokens+d*rate)
		b.last = now
	}
}

// wait is how long until b holds one token.
func (b *bucket) wait(rate float64) time.Duration {
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) / rate * float64(time.Second))
}

// limiter is a set of token buckets by key. take spends a token if there
// is one; otherwise it says how long to wait. It is safe for concurrent
// use.
type limiter[K comparable] struct {
	rate, burst float64
	maxKeys     int // most keys kept; full buckets are dropped first

	mu      sync.Mutex // guards the field that follows
	buckets map[K]*bucket
}

func newLimiter[K comparable](rate, burst float64, maxKeys int) *limiter[K] {
	return &limiter[K]{rate: rate, burst: burst, maxKeys: maxKeys, buckets: map[K]*bucket{}}
}

// take spends one of k's tokens at now; ok is false (and retry how long
// until one is back) when there is none.
func (l *limiter[K]) take(k K, now time.Time) (ok bool, retry time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucketLocked(k, now)
	if b.tokens < 1 {
		return false, b.wait(l.rate)
	}
	b.tokens--
	return true, 0
}

// check reports, spending nothing, whether k has a token at now.
func (l *limiter[K]) check(k K, now time.Time) (ok bool, retry time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, found := l.buckets[k]
	if !found {
		return true, 0
	}
	b.refill(now, l.rate, l.burst)
	if b.tokens < 1 {
		return false, b.wait(l.rate)
	}
	return true, 0
}

func (l *limiter[K]) bucketLocked(k K, now time.Time) *bucket {
	b := l.buckets[k]
	if b == nil {
		if len(l.buckets) >= l.maxKeys {
			l.evictLocked(now)
		}
		b = &bucket{}
		l.buckets[k] = b
	}
	b.refill(now, l.rate, l.burst)
	return b
}

// evictLocked drops the buckets that are full again (they hold no
// memory worth keeping); if none is, an arbitrary one, so a flood of new
// addresses costs bounded memory.
func (l *limiter[K]) evictLocked(now time.Time) {
	for k, b := range l.buckets {
		b.refill(now, l.rate, l.burst)
		if b.tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < l.maxKeys {
			return
		}
		delete(l.buckets, k)
	}
}

// failureKey is the address an authentication failure counts against:
// the IPv4 address, or the IPv6 /64 (one host usually holds a whole /64).
func failureKey(a netip.Addr) netip.Prefix {
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64)
	return p
}

// retryAfter is a Retry-After value: whole seconds, rounded up, at least 1.
func retryAfter(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	return max(s, 1)
}
