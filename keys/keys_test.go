package keys

import (
	"fmt"
	"strings"
	"testing"
)

func TestKeyNeverPrintsItsSecret(t *testing.T) {
	t.Parallel()
	k := Key{ID: "AKIAIOSFODNN7EXAMPLE", Secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(f, k); strings.Contains(out, "wJalr") || strings.Contains(out, "IOSFODNN7") {
			t.Errorf("Sprintf(%q, key) = %q: it shows the secret or the whole id", f, out)
		}
	}
}
