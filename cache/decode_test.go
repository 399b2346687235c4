package cache

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"time"
)

// TestDecodeFastTakesSaved: what Save writes, the fast decoder reads (so
// the small binary never needs encoding/json's decoder), equal to what
// encoding/json reads.
func TestDecodeFastTakesSaved(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	plain := testEntry("dev")
	bare := testEntry("dev")
	bare.ARN, bare.Credentials.AccountID, bare.Files = "", "", nil
	stamped := testEntry("dev")
	stamped.Issued = stamped.Issued.Add(123456789 * time.Nanosecond)
	stamped.Files = []FileHash{
		{Path: "/home/zoë/.aws/config", SHA256: sha("a"), Stamp: "803:1a2b:600:1772402400.123456789"},
		{Path: "/home/zoë/.aws/credentials", SHA256: ""},
	}
	for name, e := range map[string]*Entry{"plain": plain, "bare": bare, "stamped": stamped} {
		if err := s.Save(e); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(s.path("dev"))
		if err != nil {
			t.Fatal(err)
		}
		got, ok := decodeFast(data)
		if !ok {
			t.Errorf("%s: decodeFast refused what Save wrote", name)
			continue
		}
		var want Entry
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, &want) {
			t.Errorf("%s: decodeFast = %+v; encoding/json reads %+v", name, got, want)
		}
	}
}

// TestDecodeFastGivesUp: input outside the shape Save writes goes to
// encoding/json, whose reading may differ (case-folded keys, merged
// duplicates, escapes, null).
func TestDecodeFastGivesUp(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		``, `null`, `[]`, `{"version":1}x`, `{"Version":1}`, `{"version":1,"version":2}`,
		`{"version":01}`, `{"version":-1}`, `{"version":1.0}`, `{"version":1e0}`, `{"version":"1"}`,
		`{"profile":"a\u0062"}`, `{"profile":null}`, `{"profile":"a` + "\x01" + `"}`, `{"profile":"` + "\xff" + `"}`,
		`{"credentials":{"AccessKeyId":"a","accesskeyid":"b"}}`, `{"credentials":{"Extra":1}}`,
		`{"issued":"yesterday"}`, `{"files":[{"path":"a"},]}`, `{"files":null}`, `{"files":{}}`, `{"version":1,}`,
		`{"other":1}`,
	} {
		if _, ok := decodeFast([]byte(in)); ok {
			t.Errorf("decodeFast(%q) took it; want encoding/json to read it", in)
		}
	}
}

// FuzzDecodeFast: whatever the fast decoder takes, encoding/json takes
// too and reads identically.
func FuzzDecodeFast(f *testing.F) {
	addEntrySeeds(f)
	f.Add([]byte(`{"version":1,"files":[],"credentials":{}}`))
	f.Add([]byte(` { "issued" : "2026-03-01T10:00:00.5+01:00" , "files" : [ { "stamp" : "x" } ] } `))
	f.Add([]byte(`{"credentials":{"Expiration":"2026-13-01T10:00:00Z"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := decodeFast(data)
		if !ok {
			return
		}
		var want Entry
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("decodeFast took %q, which encoding/json refuses: %v", data, err)
		}
		if !reflect.DeepEqual(got, &want) {
			t.Fatalf("decodeFast(%q) = %+v; encoding/json reads %+v", data, got, want)
		}
	})
}

// BenchmarkDecode reads the entry Save writes: the fast decoder against
// encoding/json (warm; a fresh process pays encoding/json's field caches
// on top, ~0.15 ms).
func BenchmarkDecode(b *testing.B) {
	e := testEntry("dev")
	e.Files = []FileHash{{Path: "/home/u/.config/stsd/config.toml", SHA256: sha("a"), Stamp: "803:1a2b:600:1772402400.123456789"},
		{Path: "/home/u/.aws/credentials", SHA256: sha("b"), Stamp: "803:1a2c:120:1772402400.5"}, {Path: "/home/u/.aws/config", SHA256: ""}}
	data, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, ok := decodeFast(data); !ok {
				b.Fatal("refused")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var e Entry
			if err := json.Unmarshal(data, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
}
