package httpserve

import (
	"io"
	"sync"
	"time"
)

// Defaults of LogBufferOptions. A second keeps a line's delay far inside
// the 10 s within which every credential hand-out must be visible; 64 KiB
// is some 300 access lines, so under load a write carries hundreds of
// lines instead of one. The buffers grow to what the lines need (an idle
// daemon's few lines a second keep them small: every byte held is heap
// the collector has to count).
const (
	DefaultLogFlushAfter = time.Second
	DefaultLogBufferSize = 64 << 10
	// MaxLogFlushAfter is the longest an access line may wait.
	MaxLogFlushAfter = 10 * time.Second
)

// LogBufferOptions configure NewLogBuffer. Zero values mean defaults.
type LogBufferOptions struct {
	// FlushAfter is how long a batched line may wait at most; default
	// DefaultLogFlushAfter, capped at MaxLogFlushAfter.
	FlushAfter time.Duration
	// Size is how many bytes gather before they are written at once;
	// default DefaultLogBufferSize.
	Size int
	// AfterFunc schedules the timed flush; default time.AfterFunc.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
}

// LogBuffer is the daemon's log writer. Lines written through Batched
// (the access log: one line per request) gather in memory and reach the
// underlying writer in one write when Size bytes have gathered, at the
// latest FlushAfter after the first of them, just before any line written
// through Direct, and at Close. Lines written through Direct (every other
// line: refusals and other audit lines, warnings, errors, refreshes) are
// written at once, after the batched lines before them, so the output
// keeps the order in which lines were logged.
type LogBuffer struct {
	w io.Writer
	o LogBufferOptions

	// out serializes writes to w: a flush takes the batch under mu and
	// writes it under out alone, so requests keep logging meanwhile.
	out sync.Mutex
	mu  sync.Mutex // guards the fields that follow
	buf []byte
	// spare is the other buffer, swapped in while buf is written.
	spare  []byte
	armed  func() bool // stops the pending timed flush; nil when none
	closed bool
	err    error // the first write error
}

// NewLogBuffer returns a LogBuffer writing to w.
func NewLogBuffer(w io.Writer, o LogBufferOptions) *LogBuffer {
	if o.FlushAfter <= 0 {
		o.FlushAfter = DefaultLogFlushAfter
	}
	o.FlushAfter = min(o.FlushAfter, MaxLogFlushAfter)
	if o.Size <= 0 {
		o.Size = DefaultLogBufferSize
	}
	if o.AfterFunc == nil {
		o.AfterFunc = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	return &LogBuffer{w: w, o: o}
}

// Batched is the writer for lines that may wait (the access log).
func (b *LogBuffer) Batched() io.Writer { return batched{b} }

// Direct is the writer for lines written at once.
func (b *LogBuffer) Direct() io.Writer { return direct{b} }

type batched struct{ b *LogBuffer }

// Write takes one whole line (a slog handler writes each record with one
// Write).
func (w batched) Write(p []byte) (int, error) {
	b := w.b
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return direct{b}.Write(p)
	}
	b.buf = append(b.buf, p...)
	full := len(b.buf) >= b.o.Size
	if !full && b.armed == nil {
		b.armed = b.o.AfterFunc(b.o.FlushAfter, b.Flush)
	}
	b.mu.Unlock()
	if full {
		b.Flush()
	}
	return len(p), nil
}

type direct struct{ b *LogBuffer }

// Write writes what is batched and then p, in one write.
func (w direct) Write(p []byte) (int, error) {
	b := w.b
	b.out.Lock()
	defer b.out.Unlock()
	b.mu.Lock()
	batch := b.takeLocked()
	b.mu.Unlock()
	if len(batch) == 0 {
		_, err := b.w.Write(p)
		return len(p), b.noteErr(err)
	}
	batch = append(batch, p...)
	err := b.write(batch)
	return len(p), err
}

// Flush writes every batched line now.
func (b *LogBuffer) Flush() {
	b.out.Lock()
	defer b.out.Unlock()
	b.mu.Lock()
	batch := b.takeLocked()
	b.mu.Unlock()
	if len(batch) > 0 {
		b.write(batch)
	}
}

// takeLocked hands out the batch (nil when there is none) and swaps in
// the spare buffer; write gives the batch's buffer back as the spare.
// b.out must be held, so one batch at most is out.
func (b *LogBuffer) takeLocked() []byte {
	if b.armed != nil {
		b.armed()
		b.armed = nil
	}
	if len(b.buf) == 0 {
		return nil
	}
	batch := b.buf
	b.buf, b.spare = b.spare[:0], nil
	return batch
}

// write writes batch and gives its buffer back as the spare. b.out must
// be held.
func (b *LogBuffer) write(batch []byte) error {
	_, err := b.w.Write(batch)
	b.mu.Lock()
	b.spare = nil
	if cap(batch) <= 4*b.o.Size { // a huge Direct line is not kept
		b.spare = batch[:0]
	}
	b.mu.Unlock()
	return b.noteErr(err)
}

func (b *LogBuffer) noteErr(err error) error {
	if err != nil {
		b.mu.Lock()
		if b.err == nil {
			b.err = err
		}
		b.mu.Unlock()
	}
	return err
}

// Close writes every batched line; lines written after it go out at once.
// It returns the first write error, if any.
func (b *LogBuffer) Close() error {
	b.Flush()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if b.armed != nil {
		b.armed()
		b.armed = nil
	}
	return b.err
}
