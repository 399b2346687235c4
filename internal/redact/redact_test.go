package redact

import "testing"

func TestKeyID(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"ASIAFAKE1234567WXYZ", "ASIA…WXYZ"},
		{"", ""},
		{"short", "…"},
	}
	for _, tt := range tests {
		if got := KeyID(tt.in); got != tt.want {
			t.Errorf("KeyID(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
