package install

import "testing"

func TestCredentialsEdits(t *testing.T) {
	t.Parallel()
	const file = "# keys\r\n[default]\r\naws_access_key_id = AKIADEFAULT\r\n\r\n[dev]\r\naws_access_key_id=AKIAOLD\r\n; note\r\naws_secret_access_key =  old/secret\r\n  continued\r\nregion = eu-west-1\r\n[other]\r\nx = 1"
	id, secret, ok := CredentialsKeys(file, "dev")
	if !ok || id != "AKIAOLD" || secret != "old/secret" {
		t.Fatalf("CredentialsKeys(dev) = %q, %q, %v; want AKIAOLD, old/secret", id, secret, ok)
	}
	got, err := SetCredentialsKeys(file, "dev", "AKIANEW", "new+secret")
	want := "# keys\r\n[default]\r\naws_access_key_id = AKIADEFAULT\r\n\r\n[dev]\r\naws_access_key_id=AKIANEW\r\n; note\r\naws_secret_access_key =  new+secret\r\nregion = eu-west-1\r\n[other]\r\nx = 1"
	if err != nil || got != want {
		t.Errorf("SetCredentialsKeys = %q, %v; want %q", got, err, want)
	}
	if _, err := SetCredentialsKeys(file, "other", "A", "B"); err != ErrNoCredentialsSection {
		t.Errorf("SetCredentialsKeys(other) error = %v; want ErrNoCredentialsSection", err)
	}
	tests := []struct{ name, in, want string }{
		{"middle", file, "# keys\r\n[default]\r\naws_access_key_id = AKIADEFAULT\r\n\r\n[other]\r\nx = 1"},
		{"last without newline", "[a]\nk = 1\n[dev]\nk = 2", "[a]\nk = 1\n"},
		{"only", "[dev]\nk = 2\n", ""},
		{"twice", "[dev]\nk = 1\n[b]\n[ dev ]\nk = 2\n", "[b]\n"},
	}
	for _, tt := range tests {
		got, found := RemoveCredentialsSection(tt.in, "dev")
		if !found || got != tt.want {
			t.Errorf("%s: RemoveCredentialsSection = %q, %v; want %q", tt.name, got, found, tt.want)
		}
	}
	if got, found := RemoveCredentialsSection("[a]\n", "dev"); found || got != "[a]\n" {
		t.Errorf("RemoveCredentialsSection(no dev) = %q, %v; want unchanged", got, found)
	}
}

func FuzzCredentialsEdits(f *testing.F) {
	for _, s := range []string{
		"[dev]\naws_access_key_id = A\naws_secret_access_key = B\n",
		"[dev]\r\naws_access_key_id=A\r\n  cont\r\naws_secret_access_key: B",
		"# c\n[ dev ]\naws_access_key_id = A\n[dev]\naws_secret_access_key = B\n[x]\n",
		"[dev\n=\n[]\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		if out, err := SetCredentialsKeys(data, "dev", "AKIANEW", "newsecret"); err == nil {
			if id, secret, ok := CredentialsKeys(out, "dev"); !ok || id != "AKIANEW" || secret != "newsecret" {
				t.Errorf("after SetCredentialsKeys, CredentialsKeys = %q, %q, %v", id, secret, ok)
			}
		} else if out != data {
			t.Error("a failed SetCredentialsKeys changed the data")
		}
		out, found := RemoveCredentialsSection(data, "dev")
		if _, _, ok := CredentialsKeys(out, "dev"); ok {
			t.Error("the key survived RemoveCredentialsSection")
		}
		if !found && out != data {
			t.Error("RemoveCredentialsSection changed a file without the section")
		}
	})
}
