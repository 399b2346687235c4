package mfa

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stsd/stsd/internal/clock"
	"github.com/stsd/stsd/internal/shell"
	"github.com/stsd/stsd/internal/wire"
)

// ErrNeeded means a profile with mfa_serial has no code to send: STS is
// never called without one.
var ErrNeeded = errors.New("needs an MFA code")

// ErrCodeUsed refuses a TOTP code already sent for the same MFA device:
// STS accepts each code once.
var ErrCodeUsed = errors.New("this MFA code was already used for this device: wait for the next code")

// Step is the TOTP time step (RFC 6238's default, what AWS MFA devices use).
const Step = 30 * time.Second

// Guard serializes the profiles that share one MFA device and remembers
// the last code sent to it (as a hash: a guard never holds a code). A
// guard with a file keeps that memory across processes.
type Guard struct {
	mu     sync.Mutex // held across getting a code and the STS call; guards the fields that follow
	file   string     // "" keeps the last code in memory only
	last   string     // hash of the last code sent
	lastAt time.Time
}

// NewGuard is a guard whose memory is this process's.
func NewGuard() *Guard { return &Guard{} }

// FileGuard is a guard whose memory is the private file path (created on
// first record), so separate runs of stsd share it.
func FileGuard(path string) *Guard {
	g := &Guard{file: path}
	if b, err := os.ReadFile(path); err == nil {
		sum, at, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
		unix, _ := strconv.ParseInt(at, 10, 64)
		g.last, g.lastAt = sum, time.Unix(unix, 0)
	}
	return g
}

// Lock holds the device for one code and the STS call that sends it.
func (g *Guard) Lock() { g.mu.Lock() }

// Unlock releases the device.
func (g *Guard) Unlock() { g.mu.Unlock() }

// Used reports whether code is the last one sent to the device.
func (g *Guard) Used(code string) bool { return code != "" && sum(code) == g.last }

// Record notes that code was sent at now. With a file it is written (best
// effort: losing it only risks one rejected code later).
func (g *Guard) Record(code string, now time.Time) {
	g.last, g.lastAt = sum(code), now
	if g.file != "" {
		_ = writePrivate(g.file, []byte(g.last+" "+strconv.FormatInt(now.Unix(), 10)+"\n"))
	}
}

// nextStep is how long until the TOTP step after the last code's begins.
func (g *Guard) nextStep(now time.Time) time.Duration {
	return g.lastAt.Truncate(Step).Add(Step).Sub(now)
}

// sum hashes a code (or a serial) for the guard's memory and file names.
func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// Name is a file-name-safe name for the device serial.
func Name(serial string) string { return "mfa-" + sum(serial)[:16] }

// Source is where a profile's codes come from: mfa_process, else a person.
type Source struct {
	Process string                                    // mfa_process; "" for none
	Ask     func(ctx context.Context) (string, error) // a person; nil for none
	Now     func() time.Time
	// Sleep waits d or until ctx ends (false); default a timer.
	Sleep func(ctx context.Context, d time.Duration) bool
}

// Code gets a code for g's device from src. A code equal to the last one
// sent waits for the next TOTP step and asks mfa_process again; a person
// who types it again is refused (they can type the next one).
func (g *Guard) Code(ctx context.Context, src Source) (string, error) {
	get := func() (string, error) {
		switch {
		case src.Process != "":
			return RunProcess(ctx, src.Process)
		case src.Ask != nil:
			return src.Ask(ctx)
		}
		return "", ErrNeeded
	}
	code, err := get()
	if err != nil || !g.Used(code) {
		return code, err
	}
	if src.Process == "" {
		return "", ErrCodeUsed
	}
	sleep := src.Sleep
	if sleep == nil {
		sleep = realSleep
	}
	if !sleep(ctx, g.nextStep(src.Now())) {
		return "", ctx.Err()
	}
	if code, err = get(); err == nil && g.Used(code) {
		err = ErrCodeUsed
	}
	return code, err
}

func realSleep(ctx context.Context, d time.Duration) bool { return clock.Sleep(ctx, clock.Real, d) }

// ProcessTimeout bounds mfa_process.
const ProcessTimeout = 30 * time.Second

// RunProcess runs command with the platform shell and returns the 6-digit
// code it prints. Its stderr is shown in the error on failure (it is the
// user's tool talking, never a secret of ours).
func RunProcess(ctx context.Context, command string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, ProcessTimeout)
	defer cancel()
	cmd := shell.Command(ctx, command)
	cmd.Env = append(wire.ChildEnv(os.Environ()), wire.ResolvingEnv+"=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return "", fmt.Errorf("mfa_process timed out after %s", ProcessTimeout)
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		if len(msg) > 200 {
			msg = msg[:200]
		}
		if msg != "" {
			return "", fmt.Errorf("mfa_process failed (%v): %s", err, msg)
		}
		return "", fmt.Errorf("mfa_process failed: %v", err)
	}
	code := strings.TrimSpace(stdout.String())
	if !Valid(code) {
		return "", errors.New("mfa_process did not print a 6-digit code")
	}
	return code, nil
}
