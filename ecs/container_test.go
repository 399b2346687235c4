package ecs

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func openIDs(t *testing.T, clk *fakeClock) (*IDs, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ecs", IDsFile)
	ids, err := OpenIDs(path, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	return ids, path
}

// TestIDsStoredHashed: minted ids are found until they expire or are
// revoked, survive a reopen (a daemon restart), and the file holds only
// their hashes, owner-only.
func TestIDsStoredHashed(t *testing.T) {
	t.Parallel()
	clk := newClock()
	ids, path := openIDs(t, clk)
	id, info, err := ids.Mint("dev", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(id) < 26 || info.Ref != id[:4]+"…"+id[len(id)-4:] || info.Profile != "dev" {
		t.Fatalf("Mint = %q, %+v", id, info)
	}
	short, _, _ := ids.Mint("dev", time.Minute)
	other, _, _ := ids.Mint("prod", time.Hour)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{id, short, other} {
		if strings.Contains(string(b), s) || strings.Contains(string(b), s[4:len(s)-4]) {
			t.Fatalf("the ids file holds an id:\n%s", b)
		}
	}
	if fi, _ := os.Stat(path); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("ids file mode %v; want 0600", fi.Mode().Perm())
	}
	clk.Advance(2 * time.Minute) // short expires
	re, err := OpenIDs(path, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := re.Lookup(id); !ok || got.Profile != "dev" {
		t.Errorf("after reopen Lookup(id) = %+v, %v; want dev", got, ok)
	}
	if _, ok := re.Lookup(short); ok {
		t.Error("an expired id still works after reopen")
	}
	if _, ok := re.Lookup("WRONG" + id[5:]); ok {
		t.Error("a wrong id works")
	}
	if n := len(re.List()); n != 2 {
		t.Errorf("List after expiry = %d ids; want 2", n)
	}
	// Revoke: a caller that may not read prod cannot revoke its id, and is
	// told it does not exist.
	if _, err := re.Revoke(other, func(p string) bool { return p == "dev" }); !errors.Is(err, ErrNoID) {
		t.Errorf("Revoke of another profile's id = %v; want ErrNoID", err)
	}
	if _, err := re.Revoke(info.Ref, func(string) bool { return true }); err != nil {
		t.Errorf("Revoke by ref: %v", err)
	}
	if _, ok := re.Lookup(id); ok {
		t.Error("a revoked id still works")
	}
	again, err := OpenIDs(path, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := again.Lookup(id); ok {
		t.Error("a revoked id came back after reopen")
	}
	if _, ok := again.Lookup(other); !ok {
		t.Error("an unrevoked id was lost")
	}
	if _, _, err := again.Mint("dev", 31*24*time.Hour); err == nil {
		t.Error("Mint accepted a ttl over 30 days")
	}
}

// TestIDsFileChecked: an ids file others may read is refused (it is a
// secret's hash store), as is one that is not an ids file.
func TestIDsFileChecked(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("modes are DACLs on Windows")
	}
	clk := newClock()
	ids, path := openIDs(t, clk)
	ids.Mint("dev", time.Hour)
	os.Chmod(path, 0o644)
	if _, err := OpenIDs(path, clk.Now); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("OpenIDs of a 0644 file = %v; want the chmod to run", err)
	}
	os.WriteFile(path, []byte("{}"), 0o600)
	if _, err := OpenIDs(path, clk.Now); err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("OpenIDs of a foreign file = %v; want a one-line error", err)
	}
}

// TestContainerEndpoint: GET /v2/credentials/{id} answers a live id whose
// profile the caller may read, and every other id (wrong, revoked,
// expired, another profile's, or a caller outside the profile's
// container_cidrs) with the ECS agent's 400 InvalidIdInRequest, the same
// bytes each time and no credential in them; the log never has an id
// whole.
func TestContainerEndpoint(t *testing.T) {
	t.Parallel()
	clk := newClock()
	ids, _ := openIDs(t, clk)
	dev, _, _ := ids.Mint("dev", time.Hour)
	prod, _, _ := ids.Mint("prod", time.Hour)
	revoked, revInfo, _ := ids.Mint("dev", time.Hour)
	ids.Revoke(revInfo.Ref, func(string) bool { return true })
	expired, _, _ := ids.Mint("dev", time.Minute)
	gone, _, _ := ids.Mint("removed", time.Hour) // a profile a reload removed
	clk.Advance(time.Minute)

	var logs syncBuffer
	src := newSource("dev", "prod")
	profiles := []Profile{
		{Name: "dev", AllowedUIDs: []int{testUID}, ContainerCIDRs: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/28")}},
		{Name: "prod", AllowedUIDs: []int{2000}},
	}
	// The caller: a local uid, or a container's address.
	serve := func(ctr string, path string) *httptest.ResponseRecorder {
		o := Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: clk.Now,
			PeerUID: func(*http.Request) (int, error) { return testUID, nil },
			ContainerPeer: func(*http.Request) (netip.Addr, bool) {
				if ctr == "" {
					return netip.Addr{}, false
				}
				return netip.MustParseAddr(ctr), true
			}}
		return hostRequest(t, NewContainer(src, profiles, ids, o), "169.254.170.2", path)
	}
	tests := []struct {
		name, container, id string
		want                int
	}{
		{"local caller, live id", "", dev, 200},
		{"container in container_cidrs", "192.0.2.2", dev, 200},
		{"wrong id", "192.0.2.2", "WRONG" + dev[5:], 400},
		{"revoked id", "192.0.2.2", revoked, 400},
		{"expired id", "192.0.2.2", expired, 400},
		{"another profile's id, local uid not allowed", "", prod, 400},
		{"another profile's id, container", "192.0.2.2", prod, 400},
		{"container outside container_cidrs", "192.0.2.99", dev, 400},
		{"id of a profile no longer served", "192.0.2.2", gone, 400},
		{"empty id", "192.0.2.2", "", 400},
		{"oversized id", "192.0.2.2", strings.Repeat("A", 4096), 400},
	}
	var refusal string
	for _, tt := range tests {
		w := serve(tt.container, ContainerPath(tt.id))
		if w.Code != tt.want {
			t.Errorf("%s: %d; want %d (%s)", tt.name, w.Code, tt.want, w.Body)
		}
		if tt.want == 200 {
			if !strings.Contains(w.Body.String(), `"Token"`) || w.Header().Get("Content-Type") != "application/json" {
				t.Errorf("%s: body %s, type %q", tt.name, w.Body, w.Header().Get("Content-Type"))
			}
			continue
		}
		noSecrets(t, tt.name, w)
		if tt.id == "" {
			if !strings.Contains(w.Body.String(), "NoIdInRequest") {
				t.Errorf("%s: %s; want NoIdInRequest", tt.name, w.Body)
			}
			continue
		}
		if refusal == "" {
			refusal = w.Body.String()
		}
		if w.Body.String() != refusal {
			t.Errorf("%s: refusal %q differs from %q: it tells ids apart", tt.name, w.Body, refusal)
		}
	}
	want := `{"code":"InvalidIdInRequest","message":"CredentialsV2Request: Credentials not found","HTTPErrorCode":400}`
	if refusal != want {
		t.Errorf("refusal body %s; want the agent's %s", refusal, want)
	}
	for _, id := range []string{dev, prod, revoked, expired, gone} {
		if strings.Contains(logs.String(), id) {
			t.Fatalf("the log holds an id whole:\n%s", logs.String())
		}
	}
	for _, reason := range []string{"reason=unknown_id", "reason=outside_container_cidrs", "reason=uid_not_allowed", "reason=profile_not_served"} {
		if !strings.Contains(logs.String(), reason) {
			t.Errorf("no audit line with %s:\n%s", reason, logs.String())
		}
	}
	// Host: the listener's own address, never a name or another address.
	for host, want := range map[string]int{"169.254.170.2": 200, "169.254.170.2:80": 200, "169.254.169.254": 403, "evil.example": 403} {
		w := hostRequest(t, NewContainer(src, profiles, ids, Options{Now: clk.Now,
			PeerUID: func(*http.Request) (int, error) { return testUID, nil }}), host, ContainerPath(dev))
		if w.Code != want {
			t.Errorf("Host %q on 169.254.170.2: %d; want %d", host, w.Code, want)
		}
	}
}

// hostRequest sends a request with host as its Host header as if it came
// to a listener on 169.254.170.2:80.
func hostRequest(t *testing.T, h http.Handler, host, path string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", "http://169.254.170.2"+path, nil)
	r.Host = host
	r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, net.TCPAddrFromAddrPort(netip.MustParseAddrPort("169.254.170.2:80"))))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}
