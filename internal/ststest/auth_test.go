package ststest

import (
	"net/url"
	"strings"
	"testing"
)

func TestParseAuthorization(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"AWS4-HMAC-SHA256 Credential=AKIAFAKE000000000001/20260304/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=ab", "AKIAFAKE000000000001"},
		{"AWS4-HMAC-SHA256 SignedHeaders=host,Credential=AKIAFAKE000000000001/20260304/us-east-1/sts/aws4_request,Signature=ab", "AKIAFAKE000000000001"},
		{"AWS4-HMAC-SHA256 Credential=AKIAFAKE000000000001/20260304/us-east-1/sts", ""},
		{"AWS4-HMAC-SHA256 Credential=/20260304/us-east-1/sts/aws4_request", ""},
		{"AWS AKIAFAKE000000000001:sig", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := parseAuthorization(tt.in); got != tt.want {
			t.Errorf("parseAuthorization(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIAFAKE000000000001/20260304/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=ab")
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request")
	f.Add("AWS4-HMAC-SHA256 ,,=,")
	f.Fuzz(func(t *testing.T, in string) {
		got := parseAuthorization(in)
		if got == "" {
			return
		}
		if strings.Contains(got, "/") || !strings.Contains(in, "Credential="+got+"/") {
			t.Errorf("parseAuthorization(%q) = %q: not the credential scope's key", in, got)
		}
	})
}

func FuzzParseGetFederationToken(f *testing.F) {
	f.Add("Name=bob&Policy=%7B%7D&PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FX&Tags.member.1.Key=k&Tags.member.1.Value=v&DurationSeconds=900")
	f.Add("Name=a&Tags.member.x.Key=k&Tags.member.2.Key=K")
	f.Fuzz(func(t *testing.T, query string) {
		form, err := parseQuery(query)
		if err != nil {
			return
		}
		in, apiErr := parseGetFederationToken(form)
		if apiErr != nil {
			if apiErr.code != "ValidationError" || apiErr.status != 400 {
				t.Errorf("error %s/%d; want ValidationError/400", apiErr.code, apiErr.status)
			}
			return
		}
		if n := in.packedSize(); n < 0 {
			t.Errorf("packedSize() = %d", n)
		}
		if len(in.name) < 2 || len(in.name) > 32 || in.duration < minDuration || in.duration > maxDuration {
			t.Errorf("accepted name %q duration %d", in.name, in.duration)
		}
	})
}

func parseQuery(q string) (url.Values, error) { return url.ParseQuery(q) }

func FuzzParseAssumeRole(f *testing.F) {
	f.Add("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fa&RoleSessionName=s1&ExternalId=e1&SerialNumber=GAHT12345678&TokenCode=123456&SourceIdentity=al&TransitiveTagKeys.member.1=k&Tags.member.1.Key=k&Tags.member.1.Value=v&DurationSeconds=900")
	f.Add("RoleArn=x&RoleSessionName=a&DurationSeconds=43201&TransitiveTagKeys.member.0=")
	f.Fuzz(func(t *testing.T, query string) {
		form, err := parseQuery(query)
		if err != nil {
			return
		}
		in, apiErr := parseAssumeRole(form)
		if apiErr != nil {
			if apiErr.code != "ValidationError" || apiErr.status != 400 {
				t.Errorf("error %s/%d; want ValidationError/400", apiErr.code, apiErr.status)
			}
			return
		}
		if n := len([]rune(in.session)); n < 2 || n > 64 || in.roleARN == "" || in.duration < minDuration || in.duration > maxRoleDuration {
			t.Errorf("accepted session %q role %q duration %d", in.session, in.roleARN, in.duration)
		}
		if len(in.transitive) > maxTags || len(in.tags) > maxTags {
			t.Errorf("accepted %d transitive keys, %d tags", len(in.transitive), len(in.tags))
		}
	})
}
