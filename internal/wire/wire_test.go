package wire_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stsd/stsd/internal/wire"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func TestMarshalGolden(t *testing.T) {
	t.Parallel()
	c := fakeCreds()
	c.Expiration = time.Date(2026, 3, 1, 23, 0, 0, 999_999_999, time.FixedZone("CET", 3600))
	got := wire.Marshal(c)
	golden := filepath.Join("testdata", "credential_process.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("Marshal mismatch (-want +got):\n%s", diff)
	}
}

func TestMarshal(t *testing.T) {
	t.Parallel()
	exp := time.Date(2026, 3, 1, 22, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		c    wire.Credentials
		want string
	}{
		{
			name: "no account",
			c:    wire.Credentials{AccessKeyID: "ASIAFAKE1", SecretAccessKey: "s", SessionToken: "t", Expiration: exp.Add(500 * time.Millisecond)},
			want: `{"Version":1,"AccessKeyId":"ASIAFAKE1","SecretAccessKey":"s","SessionToken":"t","Expiration":"2026-03-01T22:00:00Z"}` + "\n",
		},
		{
			name: "account and offset zone",
			c:    wire.Credentials{AccessKeyID: "ASIAFAKE1", SecretAccessKey: "s+/=", SessionToken: "t<&>", Expiration: exp.In(time.FixedZone("X", -7*3600)), AccountID: "123456789012"},
			want: `{"Version":1,"AccessKeyId":"ASIAFAKE1","SecretAccessKey":"s+/=","SessionToken":"t<&>","Expiration":"2026-03-01T22:00:00Z","AccountId":"123456789012"}` + "\n",
		},
		{
			name: "escapes",
			c:    wire.Credentials{AccessKeyID: "ASIAFAKE1", SecretAccessKey: `a"b\c`, SessionToken: "x\ny", Expiration: exp},
			want: `{"Version":1,"AccessKeyId":"ASIAFAKE1","SecretAccessKey":"a\"b\\c","SessionToken":"x\ny","Expiration":"2026-03-01T22:00:00Z"}` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := string(wire.Marshal(tt.c))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Marshal mismatch (-want +got):\n%s", diff)
			}
			if !json.Valid([]byte(got)) {
				t.Error("Marshal output is not valid JSON")
			}
		})
	}
}

func BenchmarkMarshal(b *testing.B) {
	c := fakeCreds()
	for b.Loop() {
		wire.Marshal(c)
	}
}

func fakeCreds() wire.Credentials {
	return wire.Credentials{
		AccessKeyID:     "ASIAFAKEEXAMPLE12345",
		SecretAccessKey: "fakeSecretAccessKeyDoNotUse0123456789abcd",
		SessionToken:    "fakeSessionTokenDoNotUse/+=0123456789",
		Expiration:      time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC),
		AccountID:       "123456789012",
	}
}

func TestCacheKey(t *testing.T) {
	t.Parallel()
	if got := wire.CacheKey("app", ""); got != "app" {
		t.Errorf(`CacheKey("app", "") = %q; want "app"`, got)
	}
	if got := wire.CacheKey("app", "billing"); got != "app/billing" {
		t.Errorf(`CacheKey("app", "billing") = %q; want "app/billing"`, got)
	}
}

func TestMinRemaining(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ lifetime, want time.Duration }{
		{12 * time.Hour, 15 * time.Minute},
		{time.Hour, 15 * time.Minute},
		{20 * time.Minute, 5 * time.Minute},
	} {
		if got := wire.MinRemaining(tt.lifetime); got != tt.want {
			t.Errorf("MinRemaining(%v) = %v; want %v", tt.lifetime, got, tt.want)
		}
	}
}

func TestErrorBody(t *testing.T) {
	t.Parallel()
	e := wire.Error{Code: wire.CodeNeedsMFA, Message: `profile "dev" needs an MFA code`, MFAPrompt: "tty"}
	if got := wire.DecodeError(e.Body()); got != e {
		t.Errorf("DecodeError(Body()) = %+v; want %+v", got, e)
	}
	if got := string((wire.Error{Code: "X", Message: "m"}).Body()); got != `{"Code":"X","Message":"m"}`+"\n" {
		t.Errorf("Body without a prompt = %q", got)
	}
}

// encoderOutput is the credential_process document as encoding/json
// writes it: the reference Marshal is held to.
func encoderOutput(c wire.Credentials) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(struct {
		Version         int
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string
		SessionToken    string
		Expiration      string
		AccountID       string `json:"AccountId,omitempty"`
	}{1, c.AccessKeyID, c.SecretAccessKey, c.SessionToken, wire.Stamp(c.Expiration), c.AccountID})
	return b.Bytes()
}

// FuzzMarshal: Marshal writes exactly what encoding/json's Encoder
// writes, for any strings (control bytes, quotes, invalid UTF-8,
// U+2028) and any time.
func FuzzMarshal(f *testing.F) {
	c := fakeCreds()
	f.Add(c.AccessKeyID, c.SecretAccessKey, c.SessionToken, c.AccountID, c.Expiration.Unix(), int64(0))
	f.Add("A\x00\x1f\x7f", "\"\\\b\f\n\r\t", "\u2028\u2029\xff\xc3(", "", int64(-62135596800), int64(999999999))
	f.Add("é", "<&>", "\xed\xa0\x80", "1", int64(253402300799), int64(1))
	f.Fuzz(func(t *testing.T, id, secret, token, account string, sec, nsec int64) {
		c := wire.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: token, AccountID: account,
			Expiration: time.Unix(sec, nsec%1e9)}
		if y := c.Expiration.UTC().Year(); y < 0 || y > 9999 {
			t.Skip() // outside what the Expiration layout can show
		}
		if got, want := wire.Marshal(c), encoderOutput(c); !bytes.Equal(got, want) {
			t.Fatalf("Marshal = %q; encoding/json writes %q", got, want)
		}
	})
}
