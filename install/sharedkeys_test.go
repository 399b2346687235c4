package install

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestLongTermKeys(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	os.WriteFile(creds, []byte("# keys\n[src]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\r\naws_secret_access_key = s3cret\n\n[tmp]\naws_access_key_id=ASIAXXXXXXXXXXXXXXXX\naws_secret_access_key=x\naws_session_token=y\n[ other ]\nAWS_ACCESS_KEY_ID: AKIAFAKEOTHER0000000\naws_secret_access_key: z\n[empty]\n"), 0o600)
	got, err := LongTermKeys(creds)
	want := []SharedKey{{"src", "AKIAIOSFODNN7EXAMPLE"}, {"other", "AKIAFAKEOTHER0000000"}}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("LongTermKeys = %v, %v; want %v", got, err, want)
	}
	if s, _ := SharedSections(creds); !slices.Equal(s, []string{"src", "tmp", "other", "empty"}) {
		t.Errorf("SharedSections = %v", s)
	}
	if got, err := LongTermKeys(filepath.Join(dir, "missing")); got != nil || err != nil {
		t.Errorf("missing file: %v, %v", got, err)
	}
	cfg := filepath.Join(dir, "config")
	os.WriteFile(cfg, []byte("[default]\nregion = eu-west-1\n[profile src]\nregion=eu-central-1\n"), 0o600)
	if r := ConfigValue(cfg, "src", "region"); r != "eu-central-1" {
		t.Errorf("ConfigValue(src, region) = %q", r)
	}
	if r := ConfigValue(cfg, "default", "region"); r != "eu-west-1" {
		t.Errorf("ConfigValue(default, region) = %q", r)
	}
}
