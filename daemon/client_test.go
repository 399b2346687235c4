package daemon

import (
	"errors"
	"net/url"
	"testing"
)

// TestUntrustedSocketError: a refused socket reads as "no daemon here" to
// every caller that skips absent daemons, through net/http's wrapping.
func TestUntrustedSocketError(t *testing.T) {
	t.Parallel()
	ue := &UntrustedSocketError{Socket: `C:\ProgramData\stsd\stsd.sock`, Reason: "the reason"}
	err := error(&url.Error{Op: "Get", URL: "http://stsd/v1/status", Err: ue})
	if !errors.Is(err, ErrNoDaemon) {
		t.Errorf("errors.Is(%v, ErrNoDaemon) = false; want true", err)
	}
	var got *UntrustedSocketError
	if !errors.As(err, &got) || got != ue {
		t.Errorf("errors.As(%v) = %v; want %v", err, got, ue)
	}
	if want := `ignoring C:\ProgramData\stsd\stsd.sock: the reason`; ue.Error() != want {
		t.Errorf("Error() = %q; want %q", ue.Error(), want)
	}
}
