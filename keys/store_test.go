package keys_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/keys"
)

func TestImportMovesTheKey(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "keyring")
	// newWorld added the key; start again from the file alone.
	if err := w.stores.Remove(t.Context(), "src"); err != nil {
		t.Fatal(err)
	}
	id, err := w.stores.Import(t.Context(), "src")
	if err != nil || id != oldID {
		t.Fatalf("Import = %q, %v", id, err)
	}
	data, _ := os.ReadFile(w.creds)
	want := "# my keys\n[other]\naws_access_key_id = AKIAFAKEOTHER0000000\naws_secret_access_key = othersecretothersecret\n\n"
	if string(data) != want {
		t.Errorf("credentials file after import =\n%q\nwant only [src] gone:\n%q", data, want)
	}
	k, err := w.stores.Load(t.Context(), "src")
	if err != nil || k.ID != oldID || k.Secret != oldSecret {
		t.Errorf("Load after import = %v, %v", k, err)
	}
	if m, _ := w.stores.Meta("src"); m.KeyID != oldID || m.Stored.IsZero() {
		t.Errorf("Meta = %+v; want the import recorded", m)
	}
	// Nothing left to import.
	if _, err := w.stores.Import(t.Context(), "src"); !errors.Is(err, keys.ErrNotFound) {
		t.Errorf("Import again = %v; want ErrNotFound", err)
	}
}

func TestAddRefusesWhatIsNotAKey(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "keyring")
	for _, k := range []keys.Key{
		{ID: "ASIAFAKETEMPORARY001", Secret: "x234567890123456789"},
		{ID: oldID, Secret: "short"},
		{ID: oldID, Secret: "has a space in it........"},
	} {
		err := w.stores.Add(t.Context(), "src", k)
		if err == nil || strings.Contains(err.Error(), k.Secret) {
			t.Errorf("Add(%v) = %v; want refused without the secret", k, err)
		}
	}
	w2 := newWorld(t, "credentials_file")
	if err := w2.stores.Add(t.Context(), "src", keys.Key{ID: oldID, Secret: oldSecret}); err == nil || !strings.Contains(err.Error(), `store = "keyring"`) {
		t.Errorf("Add to a credentials_file key = %v; want it to say to set store", err)
	}
}

func TestCheckWarnsAboutOldKeys(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "credentials_file") // src has rotate_every: no warning
	if err := w.stores.SaveMeta("src", keys.Meta{KeyID: oldID, Stored: w.clock().AddDate(0, 0, -100)}); err != nil {
		t.Fatal(err)
	}
	if got := w.stores.Warnings(); len(got) != 0 {
		t.Errorf("Warnings with rotate_every = %q; want none", got)
	}
	cfg, err := config.Parse(w.cfg.Path, []byte("[profiles.p]\nsource_profile = \"src\"\n"), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := keys.New(cfg, keys.Options{StateDir: filepath.Join(filepath.Dir(w.creds), "state"), Now: w.clock})
	got := st.Warnings()
	if len(got) != 1 || !strings.Contains(got[0], `key "src" (AKIA…0001) is 100d old and has no rotate_every`) {
		t.Errorf("Warnings = %q; want one about the 100-day-old key", got)
	}
}

// TestInfoReadsTheCredentialsFile: status shows a credentials_file key's
// id (redacted) with nothing recorded about it yet.
func TestInfoReadsTheCredentialsFile(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "credentials_file")
	if in := w.stores.Info(t.Context(), "src"); in.KeyID != "AKIA…"+oldID[len(oldID)-4:] || in.Problem != "" {
		t.Errorf("Info = %+v; want the file's key id, redacted", in)
	}
}
