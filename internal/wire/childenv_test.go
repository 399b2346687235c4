package wire

import (
	"slices"
	"testing"
)

func TestChildEnv(t *testing.T) {
	t.Parallel()
	in := []string{"HOME=/h", "STSD_KEYRING_PASSWORD=secret", "stsd_keyring_password=secret", "STSD_KEYRING_PASSWORDX=kept", "STSD_RESOLVING=1", "X=STSD_KEYRING_PASSWORD=y"}
	want := []string{"HOME=/h", "STSD_KEYRING_PASSWORDX=kept", "STSD_RESOLVING=1", "X=STSD_KEYRING_PASSWORD=y"}
	if got := ChildEnv(in); !slices.Equal(got, want) {
		t.Errorf("ChildEnv = %q; want %q", got, want)
	}
}
