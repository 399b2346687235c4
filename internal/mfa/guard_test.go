package mfa

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunProcess(t *testing.T) {
	tests := []struct {
		cmd, want, wantErr string
	}{
		{"echo 123456", "123456", ""},
		{"echo ' 654321 '", "654321", ""},
		{"echo 12345", "", "mfa_process did not print a 6-digit code"},
		{"echo token expired >&2; exit 1", "", "mfa_process failed (exit status 1): token expired"},
		{`[ "$STSD_RESOLVING" = 1 ] && echo 111111`, "111111", ""},
	}
	for _, tt := range tests {
		got, err := RunProcess(t.Context(), tt.cmd)
		if got != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && err.Error() != tt.wantErr) {
			t.Errorf("RunProcess(%q) = %q, %v; want %q, %q", tt.cmd, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestGuard: a code is refused once sent for the device; mfa_process that
// prints the last code is asked again at the next TOTP step; a file guard
// remembers across guards (processes) and never holds the code itself.
func TestGuard(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 10, 0, time.UTC)
	file := filepath.Join(t.TempDir(), Name("arn:aws:iam::123456789012:mfa/alice")+".last")
	g := FileGuard(file)
	if g.Used("123456") {
		t.Fatal("a fresh guard knows a code")
	}
	g.Record("123456", now)
	if !FileGuard(file).Used("123456") || FileGuard(file).Used("654321") {
		t.Error("a file guard does not remember the last code")
	}
	if b, _ := os.ReadFile(file); strings.Contains(string(b), "123456") {
		t.Error("the guard's file holds the code")
	}
	typed := func(code string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) { return code, nil }
	}
	if _, err := g.Code(t.Context(), Source{Ask: typed("123456"), Now: func() time.Time { return now }}); !errors.Is(err, ErrCodeUsed) {
		t.Errorf("a person typing the last code again = %v; want ErrCodeUsed", err)
	}
	var slept time.Duration
	sleep := func(_ context.Context, d time.Duration) bool { slept = d; return true }
	if _, err := g.Code(t.Context(), Source{Process: "echo 123456", Now: func() time.Time { return now }, Sleep: sleep}); !errors.Is(err, ErrCodeUsed) || slept != 20*time.Second {
		t.Errorf("mfa_process repeating the last code = %v after %v; want ErrCodeUsed after the 20s to the next step", err, slept)
	}
	if code, err := g.Code(t.Context(), Source{Process: "echo 222222", Now: func() time.Time { return now }}); err != nil || code != "222222" {
		t.Errorf("a new code = %q, %v", code, err)
	}
	if _, err := g.Code(t.Context(), Source{}); !errors.Is(err, ErrNeeded) {
		t.Errorf("no source = %v; want ErrNeeded", err)
	}
}
