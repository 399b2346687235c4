//go:build !windows

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSmallBinaryDefersAfterEdits: with no daemon, an edit to a file an
// entry was made from sends the small binary to stsd; stsd calls STS only
// for the profile whose credentials the edit changed, and the others keep
// their entries (re-stamped, so the small binary serves them again).
func TestSmallBinaryDefersAfterEdits(t *testing.T) {
	b := standin(t)
	cfgText := `
[profiles.app]
source_profile = "src"
mode = "federation"
policy_file = "POLICY"

[profiles.b]
source_profile = "src"
duration = "1h"
`
	w := newWorld(t, b.url, "")
	policy := filepath.Join(w.dir, "policy.json")
	writeFile(t, policy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)
	cfgPath := filepath.Join(w.dir, "h", ".config", "stsd", "config.toml")
	writeFile(t, cfgPath, strings.Replace(cfgText, "POLICY", policy, 1))
	get := func(p string) string {
		t.Helper()
		out, errOut, code := w.run(t, "stsd-credential-process", "--profile", p)
		if code != 0 {
			t.Fatalf("credential_process %s: exit %d %s", p, code, errOut)
		}
		return out
	}
	a1, b1 := get("app"), get("b")
	if b.calls() != 2 {
		t.Fatalf("calls = %d; want 2", b.calls())
	}
	if get("app") != a1 || get("b") != b1 || b.calls() != 2 {
		t.Fatalf("cached entries not reused (calls %d)", b.calls())
	}

	// A comment in the stsd config: every entry's files changed, no
	// fingerprint did: no STS call, same credentials.
	f, _ := os.OpenFile(cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("# a comment\n")
	f.Close()
	if get("app") != a1 || get("b") != b1 || b.calls() != 2 {
		t.Errorf("after a comment: calls = %d; want 2 and the same credentials", b.calls())
	}

	// A new policy: profile app's credentials must change, b keeps its own.
	writeFile(t, policy, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"*"}]}`)
	if get("app") == a1 {
		t.Error("profile app served the old credentials after its policy changed")
	}
	if get("b") != b1 {
		t.Error("profile b lost its entry after another profile's policy changed")
	}
	if b.calls() != 3 {
		t.Errorf("calls = %d; want 3 (only a re-minted)", b.calls())
	}
}
