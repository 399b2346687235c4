package imds

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/stsd/stsd/internal/wire"
)

// jsonString is s as a JSON string literal.
func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// ec2Doc writes an EC2-style pretty JSON document, `"Key" : value` one a
// line as the instance metadata service prints it, with no trailing
// newline. Values are already JSON.
func ec2Doc(kv ...string) []byte {
	var b bytes.Buffer
	b.WriteString("{\n")
	for i := 0; i < len(kv); i += 2 {
		b.WriteString("  ")
		b.WriteString(jsonString(kv[i]))
		b.WriteString(" : ")
		b.WriteString(kv[i+1])
		if i+2 < len(kv) {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteByte('}')
	return b.Bytes()
}

// ec2Credentials is the body of
// /latest/meta-data/iam/security-credentials/<role>, byte for byte the
// layout EC2 serves (EC2 user guide, "Retrieve security credentials from
// instance metadata"); extended adds AccountId as the
// security-credentials-extended path does (Java v2, Rust, Ruby, PHP read
// it).
func ec2Credentials(c wire.Credentials, lastUpdated time.Time, extended bool) []byte {
	kv := []string{
		"Code", `"Success"`,
		"LastUpdated", jsonString(wire.Stamp(lastUpdated)),
		"Type", `"AWS-HMAC"`,
		"AccessKeyId", jsonString(c.AccessKeyID),
		"SecretAccessKey", jsonString(c.SecretAccessKey),
		"Token", jsonString(c.SessionToken),
		"Expiration", jsonString(wire.Stamp(c.Expiration)),
	}
	if extended && c.AccountID != "" {
		kv = append(kv, "AccountId", jsonString(c.AccountID))
	}
	return ec2Doc(kv...)
}
