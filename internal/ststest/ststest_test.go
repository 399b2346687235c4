package ststest_test

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/stsd/stsd/internal/ststest"
)

const (
	userKey = "AKIAFAKEUSER00000001"
	rootKey = "AKIAFAKEROOT00000001"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 891_000_000, time.UTC)

// clock is a settable Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// client returns an SDK client for url signed with creds.
func client(t *testing.T, url string, creds aws.Credentials, hc aws.HTTPClient) *sts.Client {
	t.Helper()
	if creds.SecretAccessKey == "" {
		creds.SecretAccessKey = "fakesecretfakesecretfakesecretfakesecret"
	}
	cfg := aws.Config{
		Region: "us-east-1",
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return creds, nil
		}),
		RetryMaxAttempts: 1,
	}
	if hc != nil {
		cfg.HTTPClient = hc
	}
	return sts.NewFromConfig(cfg, func(o *sts.Options) {
		o.BaseEndpoint = aws.String(url)
		o.RetryMaxAttempts = 1
	})
}

func userClient(t *testing.T, s *ststest.Server) *sts.Client {
	t.Helper()
	return client(t, s.URL, aws.Credentials{AccessKeyID: userKey}, nil)
}

// fromCreds returns a client signing with temporary credentials.
func fromCreds(t *testing.T, s *ststest.Server, c *types.Credentials) *sts.Client {
	t.Helper()
	return client(t, s.URL, aws.Credentials{
		AccessKeyID:     aws.ToString(c.AccessKeyId),
		SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken:    aws.ToString(c.SessionToken),
	}, nil)
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func apiMessage(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorMessage()
	}
	return ""
}

// checkCreds checks the shape of issued credentials without printing them.
func checkCreds(t *testing.T, c *types.Credentials) {
	t.Helper()
	if c == nil {
		t.Fatal("Credentials = nil")
	}
	id := aws.ToString(c.AccessKeyId)
	if !strings.HasPrefix(id, "ASIAFAKE") || len(id) != 20 {
		t.Errorf("AccessKeyId = %q; want ASIAFAKE + 12 chars", id)
	}
	if n := len(aws.ToString(c.SecretAccessKey)); n != 40 {
		t.Errorf("len(SecretAccessKey) = %d; want 40", n)
	}
	if n := len(aws.ToString(c.SessionToken)); n < 100 {
		t.Errorf("len(SessionToken) = %d; want >= 100", n)
	}
}

func TestGetSessionToken(t *testing.T) {
	t.Parallel()
	clk := &clock{t: t0}
	s := ststest.NewServer(t, ststest.Options{Now: clk.Now})
	out, err := userClient(t, s).GetSessionToken(t.Context(), &sts.GetSessionTokenInput{})
	if err != nil {
		t.Fatalf("GetSessionToken() error = %v", err)
	}
	checkCreds(t, out.Credentials)
	if want := t0.Add(12 * time.Hour); !aws.ToTime(out.Credentials.Expiration).Equal(want) {
		t.Errorf("Expiration = %v; want %v", out.Credentials.Expiration, want)
	}
	got := s.Requests()
	want := []ststest.Request{{
		Action:      "GetSessionToken",
		Params:      url.Values{"Action": {"GetSessionToken"}, "Version": {"2011-06-15"}},
		AccessKeyID: userKey,
		Time:        t0,
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Requests() mismatch (-want +got):\n%s", diff)
	}
	if s.Calls() != 1 || s.CallsOf("GetSessionToken") != 1 {
		t.Errorf("Calls() = %d, CallsOf(GetSessionToken) = %d; want 1, 1", s.Calls(), s.CallsOf("GetSessionToken"))
	}
}

func TestNewKeyPerCall(t *testing.T) {
	t.Parallel()
	s := ststest.NewServer(t, ststest.Options{})
	c := userClient(t, s)
	seen := map[string]bool{}
	for i := range 5 {
		out, err := c.GetSessionToken(t.Context(), &sts.GetSessionTokenInput{})
		if err != nil {
			t.Fatalf("GetSessionToken() #%d error = %v", i, err)
		}
		id := aws.ToString(out.Credentials.AccessKeyId)
		if seen[id] {
			t.Fatalf("GetSessionToken() #%d returned a key seen before: %s", i, id)
		}
		seen[id] = true
	}
	if got := s.Calls(); got != 5 {
		t.Errorf("Calls() = %d; want 5", got)
	}
}

func TestGetFederationToken(t *testing.T) {
	t.Parallel()
	clk := &clock{t: t0}
	s := ststest.NewServer(t, ststest.Options{Now: clk.Now, Account: "111122223333"})
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	out, err := userClient(t, s).GetFederationToken(t.Context(), &sts.GetFederationTokenInput{
		Name:            aws.String("bob@example"),
		Policy:          aws.String(policy),
		DurationSeconds: aws.Int32(3600),
		PolicyArns: []types.PolicyDescriptorType{
			{Arn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")},
			{Arn: aws.String("arn:aws:iam::111122223333:policy/Extra")},
		},
		Tags: []types.Tag{
			{Key: aws.String("team"), Value: aws.String("core")},
			{Key: aws.String("env"), Value: aws.String("")},
		},
	})
	if err != nil {
		t.Fatalf("GetFederationToken() error = %v", err)
	}
	checkCreds(t, out.Credentials)
	if want := t0.Add(time.Hour); !aws.ToTime(out.Credentials.Expiration).Equal(want) {
		t.Errorf("Expiration = %v; want %v", out.Credentials.Expiration, want)
	}
	if got, want := aws.ToString(out.FederatedUser.Arn), "arn:aws:sts::111122223333:federated-user/bob@example"; got != want {
		t.Errorf("FederatedUser.Arn = %q; want %q", got, want)
	}
	if got, want := aws.ToString(out.FederatedUser.FederatedUserId), "111122223333:bob@example"; got != want {
		t.Errorf("FederatedUserId = %q; want %q", got, want)
	}
	if n := aws.ToInt32(out.PackedPolicySize); n < 1 || n > 100 {
		t.Errorf("PackedPolicySize = %d; want 1..100", n)
	}
	wantParams := url.Values{
		"Action":                  {"GetFederationToken"},
		"Version":                 {"2011-06-15"},
		"Name":                    {"bob@example"},
		"Policy":                  {policy},
		"DurationSeconds":         {"3600"},
		"PolicyArns.member.1.arn": {"arn:aws:iam::aws:policy/ReadOnlyAccess"},
		"PolicyArns.member.2.arn": {"arn:aws:iam::111122223333:policy/Extra"},
		"Tags.member.1.Key":       {"team"},
		"Tags.member.1.Value":     {"core"},
		"Tags.member.2.Key":       {"env"},
		"Tags.member.2.Value":     {""},
	}
	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("len(Requests()) = %d; want 1", len(reqs))
	}
	if diff := cmp.Diff(wantParams, reqs[0].Params); diff != "" {
		t.Errorf("Params mismatch (-want +got):\n%s", diff)
	}
}

func TestGetFederationTokenPackedPolicyTooLarge(t *testing.T) {
	t.Parallel()
	s := ststest.NewServer(t, ststest.Options{})
	rng := rand.New(rand.NewPCG(1, 2))
	text := func(n int) string {
		const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	var tags []types.Tag
	for range 50 {
		tags = append(tags, types.Tag{Key: aws.String(text(128)), Value: aws.String(text(256))})
	}
	_, err := userClient(t, s).GetFederationToken(t.Context(), &sts.GetFederationTokenInput{
		Name: aws.String("bob"),
		Tags: tags,
	})
	var tooLarge *types.PackedPolicyTooLargeException
	if !errors.As(err, &tooLarge) {
		t.Fatalf("GetFederationToken(50 tags) error = %v; want PackedPolicyTooLarge", err)
	}
}

func TestGetCallerIdentity(t *testing.T) {
	t.Parallel()
	clk := &clock{t: t0}
	s := ststest.NewServer(t, ststest.Options{Now: clk.Now, UserName: "carol"})
	s.SetRoot(rootKey)
	uc := userClient(t, s)
	gst, err := uc.GetSessionToken(t.Context(), &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatalf("GetSessionToken() error = %v", err)
	}
	gft, err := uc.GetFederationToken(t.Context(), &sts.GetFederationTokenInput{Name: aws.String("fed")})
	if err != nil {
		t.Fatalf("GetFederationToken() error = %v", err)
	}
	rootGST, err := client(t, s.URL, aws.Credentials{AccessKeyID: rootKey}, nil).
		GetSessionToken(t.Context(), &sts.GetSessionTokenInput{})
	if err != nil {
		t.Fatalf("GetSessionToken(root) error = %v", err)
	}
	forged := *gst.Credentials
	forged.SessionToken = aws.String("not-the-token")

	const acct = ststest.DefaultAccount
	tests := []struct {
		name     string
		c        *sts.Client
		wantArn  string
		wantCode string
	}{
		{"user", uc, "arn:aws:iam::" + acct + ":user/carol", ""},
		{"root", client(t, s.URL, aws.Credentials{AccessKeyID: rootKey}, nil), "arn:aws:iam::" + acct + ":root", ""},
		{"session/user", fromCreds(t, s, gst.Credentials), "arn:aws:iam::" + acct + ":user/carol", ""},
		{"session/root", fromCreds(t, s, rootGST.Credentials), "arn:aws:iam::" + acct + ":root", ""},
		{"session/federated", fromCreds(t, s, gft.Credentials), "arn:aws:sts::" + acct + ":federated-user/fed", ""},
		{"session/wrongToken", fromCreds(t, s, &forged), "", "InvalidClientTokenId"},
		{"session/unknown", client(t, s.URL, aws.Credentials{AccessKeyID: "ASIAFAKEUNKNOWN00001", SessionToken: "x"}, nil), "", "InvalidClientTokenId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := tt.c.GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
			if tt.wantCode != "" {
				if got := apiCode(err); got != tt.wantCode {
					t.Fatalf("GetCallerIdentity() error = %v; want code %s", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("GetCallerIdentity() error = %v", err)
			}
			if got := aws.ToString(out.Arn); got != tt.wantArn {
				t.Errorf("Arn = %q; want %q", got, tt.wantArn)
			}
			if got := aws.ToString(out.Account); got != acct {
				t.Errorf("Account = %q; want %q", got, acct)
			}
			if aws.ToString(out.UserId) == "" {
				t.Error("UserId is empty")
			}
		})
	}
}

func TestGetCallerIdentityExpiredToken(t *testing.T) {
	t.Parallel()
	clk := &clock{t: t0}
	s := ststest.NewServer(t, ststest.Options{Now: clk.Now})
	out, err := userClient(t, s).GetSessionToken(t.Context(), &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatalf("GetSessionToken() error = %v", err)
	}
	clk.Add(15 * time.Minute)
	_, err = fromCreds(t, s, out.Credentials).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if got := apiCode(err); got != "ExpiredToken" {
		t.Errorf("GetCallerIdentity(expired) error = %v; want ExpiredToken", err)
	}
}

func TestRevokeKey(t *testing.T) {
	t.Parallel()
	s := ststest.NewServer(t, ststest.Options{})
	s.RevokeKey(userKey)
	c := userClient(t, s)
	_, err := c.GetSessionToken(t.Context(), &sts.GetSessionTokenInput{})
	if got := apiCode(err); got != "InvalidClientTokenId" {
		t.Errorf("GetSessionToken(revoked) error = %v; want InvalidClientTokenId", err)
	}
	_, err = c.GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if got := apiCode(err); got != "InvalidClientTokenId" {
		t.Errorf("GetCallerIdentity(revoked) error = %v; want InvalidClientTokenId", err)
	}
}

func TestSessionCredentialsRefused(t *testing.T) {
	t.Parallel()
	s := ststest.NewServer(t, ststest.Options{})
	out, err := userClient(t, s).GetSessionToken(t.Context(), &sts.GetSessionTokenInput{})
	if err != nil {
		t.Fatalf("GetSessionToken() error = %v", err)
	}
	c := fromCreds(t, s, out.Credentials)
	_, err = c.GetSessionToken(t.Context(), &sts.GetSessionTokenInput{})
	if code, msg := apiCode(err), apiMessage(err); code != "AccessDenied" || msg != "Cannot call GetSessionToken with session credentials" {
		t.Errorf("GetSessionToken(session creds) = %q %q; want AccessDenied", code, msg)
	}
	_, err = c.GetFederationToken(t.Context(), &sts.GetFederationTokenInput{Name: aws.String("x1")})
	if code, msg := apiCode(err), apiMessage(err); code != "AccessDenied" || msg != "Cannot call GetFederationToken with session credentials" {
		t.Errorf("GetFederationToken(session creds) = %q %q; want AccessDenied", code, msg)
	}
	if req := s.Requests()[1]; !req.SessionToken || req.AccessKeyID != aws.ToString(out.Credentials.AccessKeyId) {
		t.Errorf("Requests()[1] = {AccessKeyID: %q, SessionToken: %v}; want the temporary key with a token", req.AccessKeyID, req.SessionToken)
	}
}

func TestLifetime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		o        ststest.Options
		set      time.Duration // SetLifetime, if non-zero
		key      string
		duration *int32
		want     time.Duration
	}{
		{name: "default", key: userKey, want: 12 * time.Hour},
		{name: "duration", key: userKey, duration: aws.Int32(900), want: 15 * time.Minute},
		{name: "max", key: userKey, duration: aws.Int32(129600), want: 36 * time.Hour},
		{name: "root/default", key: rootKey, want: time.Hour},
		{name: "root/short", key: rootKey, duration: aws.Int32(1800), want: 30 * time.Minute},
		{name: "option", o: ststest.Options{Lifetime: 2 * time.Minute}, key: userKey, duration: aws.Int32(3600), want: 2 * time.Minute},
		{name: "set", set: 7 * time.Minute, key: userKey, want: 7 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := &clock{t: t0}
			tt.o.Now = clk.Now
			s := ststest.NewServer(t, tt.o)
			s.SetRoot(rootKey)
			if tt.set != 0 {
				s.SetLifetime(tt.set)
			}
			c := client(t, s.URL, aws.Credentials{AccessKeyID: tt.key}, nil)
			gst, err := c.GetSessionToken(t.Context(), &sts.GetSessionTokenInput{DurationSeconds: tt.duration})
			if err != nil {
				t.Fatalf("GetSessionToken() error = %v", err)
			}
			if got := aws.ToTime(gst.Credentials.Expiration).Sub(t0); got != tt.want {
				t.Errorf("GetSessionToken() lifetime = %v; want %v", got, tt.want)
			}
			gft, err := c.GetFederationToken(t.Context(), &sts.GetFederationTokenInput{Name: aws.String("fed"), DurationSeconds: tt.duration})
			if err != nil {
				t.Fatalf("GetFederationToken() error = %v", err)
			}
			if got := aws.ToTime(gft.Credentials.Expiration).Sub(t0); got != tt.want {
				t.Errorf("GetFederationToken() lifetime = %v; want %v", got, tt.want)
			}
		})
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	isDeserialization := func(err error) bool {
		var de *smithy.DeserializationError
		return errors.As(err, &de)
	}
	tests := []struct {
		fault    ststest.Fault
		timeout  time.Duration
		wantCode string
		wantErr  func(error) bool
	}{
		{fault: ststest.FaultServerError, wantCode: "InternalFailure"},
		{fault: ststest.FaultUnavailable, wantCode: "ServiceUnavailable"},
		{fault: ststest.FaultThrottling, wantCode: "Throttling"},
		{fault: ststest.FaultAccessDenied, wantCode: "AccessDenied"},
		{fault: ststest.FaultInvalidClientTokenId, wantCode: "InvalidClientTokenId"},
		{fault: ststest.FaultReset, wantErr: func(err error) bool { return errors.Is(err, syscall.ECONNRESET) }},
		{fault: ststest.FaultHang, timeout: 200 * time.Millisecond, wantErr: func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
		{fault: ststest.FaultMalformed, wantErr: isDeserialization},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			t.Parallel()
			s := ststest.NewServer(t, ststest.Options{})
			s.Fail(tt.fault)
			ctx := t.Context()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			c := userClient(t, s)
			_, err := c.GetSessionToken(ctx, &sts.GetSessionTokenInput{})
			if err == nil {
				t.Fatalf("GetSessionToken() with %v succeeded", tt.fault)
			}
			if tt.wantCode != "" {
				if got := apiCode(err); got != tt.wantCode {
					t.Errorf("GetSessionToken() with %v: code %q (%v); want %q", tt.fault, got, err, tt.wantCode)
				}
			} else if !tt.wantErr(err) {
				t.Errorf("GetSessionToken() with %v: error = %v (%T)", tt.fault, err, errors.Unwrap(err))
			}
			// The fault was used up: the next call succeeds.
			if _, err := c.GetSessionToken(t.Context(), &sts.GetSessionTokenInput{}); err != nil {
				t.Errorf("GetSessionToken() after %v error = %v", tt.fault, err)
			}
			if got := s.Calls(); got != 2 {
				t.Errorf("Calls() = %d; want 2", got)
			}
		})
	}
}

func TestFaultExpiration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fault ststest.Fault
		want  time.Time
	}{
		{ststest.FaultExpired, t0.Add(-time.Minute)},
		{ststest.FaultFarFuture, t0.AddDate(10, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			t.Parallel()
			clk := &clock{t: t0}
			s := ststest.NewServer(t, ststest.Options{Now: clk.Now})
			s.Fail(tt.fault)
			out, err := userClient(t, s).GetSessionToken(t.Context(), &sts.GetSessionTokenInput{})
			if err != nil {
				t.Fatalf("GetSessionToken() error = %v", err)
			}
			checkCreds(t, out.Credentials)
			if got := aws.ToTime(out.Credentials.Expiration); !got.Equal(tt.want) {
				t.Errorf("Expiration = %v; want %v", got, tt.want)
			}
		})
	}
}

func TestFailQueueAndSticky(t *testing.T) {
	t.Parallel()
	s := ststest.NewServer(t, ststest.Options{})
	c := userClient(t, s)
	gst := func() string {
		t.Helper()
		_, err := c.GetSessionToken(t.Context(), &sts.GetSessionTokenInput{})
		if err != nil && apiCode(err) == "" {
			t.Fatalf("GetSessionToken() error = %v", err)
		}
		return apiCode(err)
	}
	s.Fail(ststest.FaultThrottling, ststest.FaultServerError)
	// GetCallerIdentity does not use up a fault.
	if _, err := c.GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("GetCallerIdentity() error = %v", err)
	}
	var got []string
	for range 3 {
		got = append(got, gst())
	}
	s.FailAll(ststest.FaultUnavailable)
	s.Fail(ststest.FaultAccessDenied)
	for range 3 {
		got = append(got, gst())
	}
	s.Clear()
	got = append(got, gst())
	want := []string{"Throttling", "InternalFailure", "", "AccessDenied", "ServiceUnavailable", "ServiceUnavailable", ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("error codes mismatch (-want +got):\n%s", diff)
	}
	if s.Calls() != 7 || s.CallsOf("GetCallerIdentity") != 1 {
		t.Errorf("Calls() = %d, CallsOf(GetCallerIdentity) = %d; want 7, 1", s.Calls(), s.CallsOf("GetCallerIdentity"))
	}
}

func TestMFA(t *testing.T) {
	t.Parallel()
	const serial = "arn:aws:iam::123456789012:mfa/alice"
	tests := []struct {
		name    string
		serial  *string
		codes   []string // one call per code; nil code means no TokenCode
		want    []string // error code per call, "" for success
		wantMsg string   // message of the last error
	}{
		{name: "good", serial: aws.String(serial), codes: []string{"123456"}, want: []string{""}},
		{name: "wrong", serial: aws.String(serial), codes: []string{"654321"}, want: []string{"AccessDenied"},
			wantMsg: "MultiFactorAuthentication failed with invalid MFA one time pass code. "},
		{name: "reused", serial: aws.String(serial), codes: []string{"123456", "123456"}, want: []string{"", "AccessDenied"},
			wantMsg: "MultiFactorAuthentication failed with invalid MFA one time pass code. "},
		{name: "unregistered", serial: aws.String("GAHT12345678"), codes: []string{"123456"}, want: []string{"AccessDenied"},
			wantMsg: "MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA serial number is valid and associated with this user."},
		{name: "noCode", serial: aws.String(serial), codes: []string{""}, want: []string{"AccessDenied"}},
		{name: "noSerial", codes: []string{"123456"}, want: []string{"AccessDenied"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := ststest.NewServer(t, ststest.Options{})
			s.SetMFA(serial, "123456")
			c := userClient(t, s)
			var got []string
			var err error
			for _, code := range tt.codes {
				in := &sts.GetSessionTokenInput{SerialNumber: tt.serial}
				if code != "" {
					in.TokenCode = aws.String(code)
				}
				_, err = c.GetSessionToken(t.Context(), in)
				got = append(got, apiCode(err))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("error codes mismatch (-want +got):\n%s", diff)
			}
			if tt.wantMsg != "" && apiMessage(err) != tt.wantMsg {
				t.Errorf("message = %q; want %q", apiMessage(err), tt.wantMsg)
			}
			p := s.Requests()[0].Params
			if p.Get("SerialNumber") != aws.ToString(tt.serial) || p.Get("TokenCode") != tt.codes[0] {
				t.Errorf("Params = %v; want SerialNumber %q TokenCode %q", p, aws.ToString(tt.serial), tt.codes[0])
			}
		})
	}
}

func TestMFARearm(t *testing.T) {
	t.Parallel()
	const serial = "GAHT12345678"
	s := ststest.NewServer(t, ststest.Options{})
	c := userClient(t, s)
	for i, code := range []string{"111111", "222222", "111111"} {
		s.SetMFA(serial, code)
		if _, err := c.GetSessionToken(t.Context(), &sts.GetSessionTokenInput{SerialNumber: aws.String(serial), TokenCode: aws.String(code)}); err != nil {
			t.Fatalf("GetSessionToken() #%d after SetMFA error = %v", i, err)
		}
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	tags := func(n int, key func(int) string) []types.Tag {
		var out []types.Tag
		for i := range n {
			out = append(out, types.Tag{Key: aws.String(key(i)), Value: aws.String("v")})
		}
		return out
	}
	var arns []types.PolicyDescriptorType
	for i := range 11 {
		arns = append(arns, types.PolicyDescriptorType{Arn: aws.String("arn:aws:iam::aws:policy/P" + strconv.Itoa(i))})
	}
	tests := []struct {
		name    string
		gst     *sts.GetSessionTokenInput
		gft     *sts.GetFederationTokenInput
		wantMsg string // exact message, if set
	}{
		{name: "duration/high", gst: &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(200000)},
			wantMsg: "1 validation error detected: Value '200000' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 129600"},
		{name: "duration/low", gft: &sts.GetFederationTokenInput{Name: aws.String("ok"), DurationSeconds: aws.Int32(899)},
			wantMsg: "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"},
		{name: "serial/short", gst: &sts.GetSessionTokenInput{SerialNumber: aws.String("GAHT1"), TokenCode: aws.String("123456")},
			wantMsg: "1 validation error detected: Value 'GAHT1' at 'serialNumber' failed to satisfy constraint: Member must have length greater than or equal to 9"},
		{name: "serial/pattern", gst: &sts.GetSessionTokenInput{SerialNumber: aws.String("GAHT 12345678"), TokenCode: aws.String("123456")}},
		{name: "code/short", gst: &sts.GetSessionTokenInput{SerialNumber: aws.String("GAHT12345678"), TokenCode: aws.String("12345")}},
		{name: "code/letters", gst: &sts.GetSessionTokenInput{SerialNumber: aws.String("GAHT12345678"), TokenCode: aws.String("12345a")}},
		{name: "two", gst: &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(10), SerialNumber: aws.String("x"), TokenCode: aws.String("123456")}},
		{name: "name/short", gft: &sts.GetFederationTokenInput{Name: aws.String("a")},
			wantMsg: "1 validation error detected: Value 'a' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 2"},
		{name: "name/long", gft: &sts.GetFederationTokenInput{Name: aws.String(strings.Repeat("a", 33))}},
		{name: "name/pattern", gft: &sts.GetFederationTokenInput{Name: aws.String("bob smith")},
			wantMsg: `1 validation error detected: Value 'bob smith' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*`},
		{name: "policy/long", gft: &sts.GetFederationTokenInput{Name: aws.String("ok"), Policy: aws.String(strings.Repeat(" ", 2049))}},
		{name: "policy/charset", gft: &sts.GetFederationTokenInput{Name: aws.String("ok"), Policy: aws.String("{\"a\":\"\u20ac\"}")}},
		{name: "policyArns/11", gft: &sts.GetFederationTokenInput{Name: aws.String("ok"), PolicyArns: arns}},
		{name: "tags/51", gft: &sts.GetFederationTokenInput{Name: aws.String("ok"), Tags: tags(51, func(i int) string { return "k" + strconv.Itoa(i) })}},
		{name: "tags/dup", gft: &sts.GetFederationTokenInput{Name: aws.String("ok"), Tags: []types.Tag{
			{Key: aws.String("Dept"), Value: aws.String("a")}, {Key: aws.String("dept"), Value: aws.String("b")},
		}}, wantMsg: "Duplicate tag keys found. Please note that Tag keys are case insensitive."},
		{name: "tags/key", gft: &sts.GetFederationTokenInput{Name: aws.String("ok"), Tags: []types.Tag{{Key: aws.String("a*b"), Value: aws.String("")}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := ststest.NewServer(t, ststest.Options{})
			s.SetMFA("GAHT12345678", "123456")
			c := userClient(t, s)
			var err error
			if tt.gst != nil {
				_, err = c.GetSessionToken(t.Context(), tt.gst)
			} else {
				_, err = c.GetFederationToken(t.Context(), tt.gft)
			}
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationError" {
				t.Fatalf("error = %v; want ValidationError", err)
			}
			if tt.wantMsg != "" && ae.ErrorMessage() != tt.wantMsg {
				t.Errorf("message = %q; want %q", ae.ErrorMessage(), tt.wantMsg)
			}
			if tt.name == "two" && !strings.HasPrefix(ae.ErrorMessage(), "2 validation errors detected: ") {
				t.Errorf("message = %q; want two errors", ae.ErrorMessage())
			}
			if s.Calls() != 1 {
				t.Errorf("Calls() = %d; want 1", s.Calls())
			}
		})
	}
}

// TestCloseWithHangInFlight checks that Close releases a hanging call.
func TestCloseWithHangInFlight(t *testing.T) {
	t.Parallel()
	s := ststest.NewServer(t, ststest.Options{})
	s.FailAll(ststest.FaultHang)
	c := userClient(t, s)
	errc := make(chan error, 1)
	go func() {
		_, err := c.GetSessionToken(context.Background(), &sts.GetSessionTokenInput{})
		errc <- err
	}()
	for s.Calls() == 0 {
		time.Sleep(time.Millisecond)
	}
	closed := make(chan struct{})
	go func() {
		s.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close() did not return with a hanging call in flight")
	}
	if err := <-errc; err == nil {
		t.Error("GetSessionToken() succeeded; want an error after Close")
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	s := ststest.NewServer(t, ststest.Options{Latency: 50 * time.Millisecond})
	start := time.Now()
	if _, err := userClient(t, s).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("GetCallerIdentity() error = %v", err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("call took %v; want >= 50ms", d)
	}
}

// rawDo sends a raw request and returns the status and parsed error code.
func rawDo(t *testing.T, req *http.Request) (int, string, http.Header) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	var e struct {
		Code string `xml:"Error>Code"`
	}
	_ = xmlDecode(resp, &e)
	return resp.StatusCode, e.Code, resp.Header
}

const sigv4 = "AWS4-HMAC-SHA256 Credential=" + userKey + "/20260304/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"

func TestRawProtocol(t *testing.T) {
	t.Parallel()
	s := ststest.NewServer(t, ststest.Options{})
	post := func(body, auth string) *http.Request {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		return req
	}
	get := func(query, auth string) *http.Request {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL+"/?"+query, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		return req
	}
	presigned := url.Values{
		"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"},
		"X-Amz-Credential":     {userKey + "/20260304/us-east-1/sts/aws4_request"},
		"X-Amz-Security-Token": {"never-recorded"},
	}
	tests := []struct {
		name       string
		req        *http.Request
		wantStatus int
		wantCode   string
	}{
		{"post", post("Action=GetSessionToken&Version=2011-06-15", sigv4), 200, ""},
		{"get", get("Action=GetSessionToken&Version=2011-06-15&DurationSeconds=900", sigv4), 200, ""},
		{"noAuth", post("Action=GetSessionToken&Version=2011-06-15", ""), 403, "MissingAuthenticationToken"},
		{"badAuth", post("Action=GetSessionToken&Version=2011-06-15", "Bearer x"), 403, "MissingAuthenticationToken"},
		{"unknownAction", post("Action=AssumeRoleWithSAML&Version=2011-06-15", sigv4), 400, "InvalidAction"},
		{"assumeRoleMissingArn", post("Action=AssumeRole&Version=2011-06-15&RoleSessionName=s1", sigv4), 400, "ValidationError"},
		{"missingAction", post("Version=2011-06-15", sigv4), 400, "MissingAction"},
		{"badVersion", post("Action=GetSessionToken&Version=2010-01-01", sigv4), 400, "InvalidAction"},
		{"missingName", post("Action=GetFederationToken&Version=2011-06-15", sigv4), 400, "ValidationError"},
		{"badDuration", post("Action=GetSessionToken&Version=2011-06-15&DurationSeconds=abc", sigv4), 400, "ValidationError"},
		{"presignedSession", get(presigned.Encode(), ""), 403, "InvalidClientTokenId"},
	}
	for _, tt := range tests {
		status, code, hdr := rawDo(t, tt.req)
		if status != tt.wantStatus || code != tt.wantCode {
			t.Errorf("%s: status %d code %q; want %d %q", tt.name, status, code, tt.wantStatus, tt.wantCode)
		}
		if ct := hdr.Get("Content-Type"); ct != "text/xml" {
			t.Errorf("%s: Content-Type = %q; want text/xml", tt.name, ct)
		}
		if hdr.Get("x-amzn-RequestId") == "" {
			t.Errorf("%s: no x-amzn-RequestId header", tt.name)
		}
	}
	for _, r := range s.Requests() {
		for k := range r.Params {
			if strings.HasPrefix(strings.ToLower(k), "x-amz-") {
				t.Errorf("Requests() recorded %s", k)
			}
		}
	}
}

func TestResponseShape(t *testing.T) {
	t.Parallel()
	s := ststest.NewServer(t, ststest.Options{})
	do := func(body string) (*http.Response, []byte) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", sigv4)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST: %v", err)
		}
		defer resp.Body.Close()
		b, err := readAll(resp)
		if err != nil {
			t.Fatalf("read body: %v", err)
		}
		return resp, b
	}
	resp, body := do("Action=GetSessionToken&Version=2011-06-15")
	var ok struct {
		XMLName    struct{ Space, Local string } `xml:"GetSessionTokenResponse"`
		Expiration string                        `xml:"GetSessionTokenResult>Credentials>Expiration"`
		RequestID  string                        `xml:"ResponseMetadata>RequestId"`
	}
	if err := xmlUnmarshal(body, &ok); err != nil {
		t.Fatalf("GetSessionToken body does not parse: %v", err)
	}
	if ok.RequestID == "" || ok.RequestID != resp.Header.Get("x-amzn-RequestId") {
		t.Errorf("RequestId = %q, header %q; want equal and non-empty", ok.RequestID, resp.Header.Get("x-amzn-RequestId"))
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", ok.Expiration); err != nil {
		t.Errorf("Expiration %q: %v", ok.Expiration, err)
	}
	if !strings.Contains(string(body), `<GetSessionTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">`) {
		t.Error("GetSessionTokenResponse lacks the STS namespace")
	}

	s.Fail(ststest.FaultServerError)
	resp, body = do("Action=GetSessionToken&Version=2011-06-15")
	var e struct {
		Type      string `xml:"Error>Type"`
		RequestID string `xml:"RequestId"`
	}
	if err := xmlUnmarshal(body, &e); err != nil {
		t.Fatalf("error body does not parse: %v", err)
	}
	if resp.StatusCode != 500 || e.Type != "Receiver" || e.RequestID != resp.Header.Get("x-amzn-RequestId") {
		t.Errorf("ServerError = %d Type %q RequestId %q; want 500 Receiver and the header's id", resp.StatusCode, e.Type, e.RequestID)
	}
	if !strings.HasPrefix(string(body), `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">`) {
		t.Errorf("error body does not start with the ErrorResponse element")
	}
}

func TestConcurrent(t *testing.T) {
	t.Parallel()
	s := ststest.NewServer(t, ststest.Options{})
	c := userClient(t, s)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := c.GetSessionToken(t.Context(), &sts.GetSessionTokenInput{}); err != nil {
				t.Errorf("GetSessionToken() error = %v", err)
			}
		})
	}
	wg.Wait()
	if got := s.Calls(); got != 20 {
		t.Errorf("Calls() = %d; want 20", got)
	}
	if got := len(s.Requests()); got != 20 {
		t.Errorf("len(Requests()) = %d; want 20", got)
	}
}

func readAll(resp *http.Response) ([]byte, error) { return io.ReadAll(resp.Body) }

func xmlUnmarshal(b []byte, v any) error { return xml.Unmarshal(b, v) }

func xmlDecode(resp *http.Response, v any) error { return xml.NewDecoder(resp.Body).Decode(v) }
