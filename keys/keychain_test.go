package keys

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// fakeSecurity is /usr/bin/security as far as the commands stsd sends
// go: a map of items, the interactive mode parsed from stdin.
type fakeSecurity struct {
	items map[string]string
	argv  [][]string
	stdin []string
}

func (f *fakeSecurity) run(stdin string, args ...string) (string, string, int) {
	f.argv = append(f.argv, args)
	f.stdin = append(f.stdin, stdin)
	if len(args) == 1 && args[0] == "-i" {
		args = strings.Fields(stdin)
	}
	flag := func(name string) string {
		for i, a := range args {
			if a == name && i+1 < len(args) {
				return args[i+1]
			}
		}
		return ""
	}
	acct := flag("-s") + "/" + flag("-a")
	switch args[0] {
	case "find-generic-password":
		v, ok := f.items[acct]
		if !ok {
			return "", "security: SecKeychainSearchCopyNext: The specified item could not be found in the keychain.", 44
		}
		return v + "\n", "", 0
	case "add-generic-password":
		f.items[acct] = flag("-w")
		return "", "", 0
	case "delete-generic-password":
		if _, ok := f.items[acct]; !ok {
			return "", "security: not found", 44
		}
		delete(f.items, acct)
		return "", "", 0
	}
	return "", "security: unknown command", 1
}

// TestKeychainCommands checks the commands sent to security: the secret
// only ever on stdin, hex-encoded, never in argv.
func TestKeychainCommands(t *testing.T) {
	t.Parallel()
	f := &fakeSecurity{items: map[string]string{}}
	r := &keychainRing{keychain: "/Users/a/Library/Keychains/stsd.keychain-db", run: f.run}
	const secret = `{"AccessKeyId":"AKIAX","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG"}`
	if err := r.Set("dev", []byte(secret)); err != nil {
		t.Fatal(err)
	}
	got, err := r.Get("dev")
	if err != nil || string(got) != secret {
		t.Fatalf("Get = %q, %v", got, err)
	}
	for _, a := range f.argv {
		if strings.Contains(strings.Join(a, " "), "wJalr") || strings.Contains(strings.Join(a, " "), hex.EncodeToString([]byte(secret))) {
			t.Errorf("argv %q holds the secret", a)
		}
		if a[0] != "-i" && a[len(a)-1] != r.keychain {
			t.Errorf("argv %q does not name the keychain last", a)
		}
	}
	if !strings.Contains(f.stdin[0], "add-generic-password -U -s stsd -a dev") {
		t.Errorf("stdin = %q; want an add-generic-password -U line", f.stdin[0])
	}
	if err := r.Remove("dev"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get("dev"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Remove = %v; want ErrNotFound", err)
	}
	if err := r.Remove("dev"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove twice = %v; want ErrNotFound", err)
	}
}

func TestKeychainLockedSaysHowToUnlock(t *testing.T) {
	t.Parallel()
	r := &keychainRing{run: func(string, ...string) (string, string, int) {
		return "", "security: SecKeychainItemCopyContent: User interaction is not allowed.\n", 36
	}}
	_, err := r.Get("dev")
	var ue *UnavailableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "security unlock-keychain") || strings.Contains(err.Error(), "\n") {
		t.Errorf("Get on a locked keychain = %v; want one line saying how to unlock", err)
	}
	if err := (&keychainRing{keychain: "my chain", run: r.run}).Set("dev", []byte("x")); err == nil {
		t.Error("Set with a keychain name security would split = nil; want refused")
	}
}
