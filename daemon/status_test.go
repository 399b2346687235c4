package daemon

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestStatusTable: the human-readable status, with a federation profile's
// packed policy size, a failing profile and a broker client row.
func TestStatusTable(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	exp, next := now.Add(11*time.Hour), now.Add(10*time.Hour+30*time.Minute)
	packed := 7
	st := &Status{
		Version: "v1.2.3", PID: 42, Config: "/home/a/.config/stsd/config.toml",
		Broker: "0.0.0.0:9443",
		Profiles: []ProfileStatus{
			{Profile: "ci", Mode: "federation", State: StateOK, KeyID: "ASIA…WXYZ", Expires: &exp, ExpiresIn: "11h0m0s",
				NextRefresh: &next, PackedPolicySize: &packed, Endpoints: []string{"credential_process"}},
			{Profile: "dev", Mode: "session", State: StateError, LastError: "source profile \"src\" refused: run: chmod 0600 /home/a/.aws/credentials",
				Endpoints: []string{"credential_process", "imds 127.0.0.1:9912"}},
		},
		Clients: []ProfileStatus{
			{Profile: "app/billing", Mode: "federation", State: StateOK, KeyID: "ASIA…ABCD", ExpiresIn: "55m0s", PackedPolicySize: &packed, Endpoints: []string{"broker"}},
		},
	}
	var b bytes.Buffer
	if err := st.WriteTable(&b, now); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "status.golden")
	if *update {
		os.WriteFile(path, b.Bytes(), 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), b.String()); diff != "" {
		t.Errorf("status table (-want +got):\n%s", diff)
	}
}
