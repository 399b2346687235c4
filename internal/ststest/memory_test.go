package ststest_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/stsd/stsd/internal/redact"
	"github.com/stsd/stsd/internal/ststest"
)

// TestRoundTripperSynctest drives the handler in memory inside a bubble:
// latency, hang and reset all run on the fake clock.
func TestRoundTripperSynctest(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := ststest.NewHandler(ststest.Options{Latency: time.Minute})
		c := client(t, "http://sts.invalid", aws.Credentials{AccessKeyID: userKey}, &http.Client{Transport: h.RoundTripper()})

		start := time.Now()
		out, err := c.GetSessionToken(t.Context(), &sts.GetSessionTokenInput{})
		if err != nil {
			t.Fatalf("GetSessionToken() error = %v", err)
		}
		if d := time.Since(start); d != time.Minute {
			t.Errorf("GetSessionToken() took %v of fake time; want 1m", d)
		}
		if want := start.Add(time.Minute + 12*time.Hour); !aws.ToTime(out.Credentials.Expiration).Equal(want.Truncate(time.Millisecond)) {
			t.Errorf("Expiration = %v; want %v", out.Credentials.Expiration, want)
		}
		h.SetLatency(0)

		h.Fail(ststest.FaultHang)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		start = time.Now()
		_, err = c.GetSessionToken(ctx, &sts.GetSessionTokenInput{})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("GetSessionToken(hang) error = %v; want deadline exceeded", err)
		}
		if d := time.Since(start); d != 30*time.Second {
			t.Errorf("hang lasted %v; want 30s", d)
		}

		h.Fail(ststest.FaultReset)
		if _, err := c.GetSessionToken(t.Context(), &sts.GetSessionTokenInput{}); !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("GetSessionToken(reset) error = %v; want ECONNRESET", err)
		}

		// Close releases a hang even without a client deadline.
		h.Fail(ststest.FaultHang)
		errc := make(chan error)
		go func() {
			_, err := c.GetSessionToken(t.Context(), &sts.GetSessionTokenInput{})
			errc <- err
		}()
		synctest.Wait()
		h.Close()
		if err := <-errc; !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("GetSessionToken(hang, Close) error = %v; want ECONNRESET", err)
		}
		if got := h.Calls(); got != 4 {
			t.Errorf("Calls() = %d; want 4", got)
		}
	})
}

// TestLogNoSecrets checks the per-call log line.
func TestLogNoSecrets(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	s := ststest.NewServer(t, ststest.Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	out, err := userClient(t, s).GetSessionToken(t.Context(), &sts.GetSessionTokenInput{})
	if err != nil {
		t.Fatalf("GetSessionToken() error = %v", err)
	}
	if _, err := fromCreds(t, s, out.Credentials).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("GetCallerIdentity() error = %v", err)
	}
	s.Close()
	logs := buf.String()
	for _, secret := range []string{aws.ToString(out.Credentials.SecretAccessKey), aws.ToString(out.Credentials.SessionToken), aws.ToString(out.Credentials.AccessKeyId), userKey} {
		if strings.Contains(logs, secret) {
			t.Error("log contains a secret or an unredacted key id")
		}
	}
	for _, want := range []string{
		"action=GetSessionToken akid=" + redact.KeyID(userKey) + " status=200",
		"action=GetCallerIdentity akid=" + redact.KeyID(aws.ToString(out.Credentials.AccessKeyId)) + " status=200",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}
