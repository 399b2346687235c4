package stsclient

import (
	"net/http"
	"slices"
	"testing"

	"github.com/stsd/stsd/internal/ststest"
)

// TestMFADevices: one ListMFADevices call in IAM's Query protocol, signed
// with the source key; IAM's refusal comes back as its code.
func TestMFADevices(t *testing.T) {
	setup(t, longTerm, "", "[profiles.dev]\nsource_profile = \"src\"\n")
	t.Setenv("AWS_ENDPOINT_URL_IAM", "http://iam.test")
	sts := ststest.NewHandler(ststest.Options{})
	sts.SetMFA("arn:aws:iam::123456789012:mfa/b", "111111")
	sts.SetMFA("arn:aws:iam::123456789012:mfa/a", "222222")
	o := SourceOptions{Profile: "src", HTTPClient: &http.Client{Transport: sts.RoundTripper()}}
	got, err := MFADevices(t.Context(), o)
	if want := []string{"arn:aws:iam::123456789012:mfa/a", "arn:aws:iam::123456789012:mfa/b"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("MFADevices = %v, %v; want %v", got, err, want)
	}
	r := sts.Requests()[0]
	if r.Action != "ListMFADevices" || r.Params.Get("Version") != "2010-05-08" || r.AccessKeyID != "AKIAFAKESOURCE000001" {
		t.Errorf("request = %+v", r)
	}
	sts.DenyIAM(ststest.ActionListMFADevices)
	if _, err := MFADevices(t.Context(), o); Code(err) != "AccessDenied" {
		t.Errorf("denied: err = %v; want AccessDenied", err)
	}
	if _, err := MFADevices(t.Context(), SourceOptions{Profile: "nope", HTTPClient: o.HTTPClient}); err == nil {
		t.Error("a missing source profile: no error")
	}
}
