package config_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stsd/stsd/config"
)

func TestRulesKeys(t *testing.T) {
	t.Parallel()
	const key = "[keys.src]\n"
	runRules(t, []ruleTest{
		{name: "full", src: sess + key + "store = \"keyring\"\nrotate_every = \"30d\"\nrotate_grace = \"2h\"\nmfa_serial = \"arn:aws:iam::123456789012:mfa/alice\"\n[keyring]\nbackend = \"file\"\nfile_dir = \"$TMP/ring\"\npassphrase_command = \"cat /run/pw\"\n"},
		{name: "store", src: sess + key + "store = \"vault\"\n",
			want: `config.toml:4: keys.src.store: "vault" is not a key store; use "credentials_file" (the shared credentials file) or "keyring" (the OS keyring, [keyring])`},
		{name: "unknown key", src: sess + key + "rotate_evry = \"30d\"\n",
			want: `config.toml:4: keys.src.rotate_evry: unknown key; did you mean "rotate_every"?`},
		{name: "rotate every day unit", src: sess + key + "rotate_every = \"1d12h\"\n"},
		{name: "rotate every bad", src: sess + key + "rotate_every = \"monthly\"\n",
			want: `config.toml:4: keys.src.rotate_every: "monthly" is not a duration; write it like "30d", "12h", "90m" or "1d12h"`},
		{name: "rotate every short", src: sess + key + "rotate_every = \"30m\"\n",
			want: `config.toml:4: keys.src.rotate_every: "30m" is shorter than 1h: IAM keys take a while to propagate and the old key stays rotate_grace; rotate daily ("1d") or less often`},
		{name: "rotate every not past grace", src: sess + key + "rotate_every = \"2h\"\nrotate_grace = \"3h\"\n",
			want: `config.toml:4: keys.src.rotate_every: "2h" is not longer than rotate_grace (3h): the old key would not be deleted before the next rotation`},
		{name: "rotate grace short", src: sess + key + "rotate_grace = \"10s\"\n",
			want: `config.toml:4: keys.src.rotate_grace: "10s" is shorter than 1m; keep the old key long enough to notice a copy still in use`},
		{name: "mfa serial", src: sess + key + "mfa_serial = \"x\"\n",
			want: `config.toml:4: keys.src.mfa_serial: "x" is 1 character long; STS requires 9..256 for an MFA serial; use the device ARN (arn:aws:iam::123456789012:mfa/alice)`},
		{name: "unused key warns", src: sess + "[keys.other]\n",
			wantWarn: `config.toml:3: keys.other: no profile has source_profile = "other"; this key is kept (and rotated) but serves nothing`},
		{name: "bad key name", src: sess + "[keys.\"a b\"]\n",
			want: `config.toml:3: keys."a b": invalid key name: use the source_profile name (1..64 letters, digits and _+=,.@-, not starting with ".")`},
		{name: "keys not a table", src: "keys = 1\n" + sess,
			want: "config.toml:1: keys: must be a table ([keys]), not an integer"},
		{name: "system cannot rotate credentials file", src: sess + key + "rotate_every = \"30d\"\n", system: true,
			want: "config.toml:4: keys.src.rotate_every: a system daemon cannot rotate a key in the shared credentials file: /etc/stsd is read-only under ProtectSystem=strict; set store = \"keyring\" (the encrypted file backend under /var/lib/stsd) and run `stsd key import src --system`"},
		{name: "system keyring rotates", src: sess + key + "store = \"keyring\"\nrotate_every = \"30d\"\n", system: true},
	})
}

func TestRulesKeyring(t *testing.T) {
	t.Parallel()
	runRules(t, []ruleTest{
		{name: "backend", src: "[keyring]\nbackend = \"vault\"\n" + sess,
			want: `config.toml:2: keyring.backend: "vault" is not a keyring backend; use auto, keychain, wincred, secret-service, kwallet, pass, keyctl, file`},
		{name: "backend of another OS", src: "[keyring]\nbackend = \"keychain\"\n" + sess,
			want: `config.toml:2: keyring.backend: "keychain" is not available on linux; use auto, secret-service, kwallet, pass, keyctl, file`},
		{name: "wincred elsewhere", src: "[keyring]\nbackend = \"wincred\"\n" + sess,
			want: `config.toml:2: keyring.backend: "wincred" is not available on linux; use auto, secret-service, kwallet, pass, keyctl, file`},
		{name: "passphrase value refused", src: "[keyring]\nbackend = \"file\"\npassphrase = \"hunter2\"\n" + sess,
			want: "config.toml:3: keyring.passphrase: a passphrase never goes in the config: set STSD_KEYRING_PASSWORD, passphrase_command, or type it when asked"},
		{name: "option of another backend", src: "[keyring]\nbackend = \"pass\"\ncollection = \"login\"\n" + sess,
			want: `config.toml:3: keyring.collection: belongs to backend "secret-service", but backend is "pass"; remove it or set backend = "secret-service"`},
		{name: "options with auto", src: "[keyring]\ncollection = \"login\"\npass_dir = \"$TMP/pass\"\n" + sess},
		{name: "unknown option", src: "[keyring]\nbackend = \"file\"\nfiledir = \"/x\"\n" + sess,
			want: `config.toml:3: keyring.filedir: unknown key; did you mean "file_dir"?`},
		{name: "empty collection", src: "[keyring]\ncollection = \"\"\n" + sess,
			want: "config.toml:2: keyring.collection: must not be empty; remove the key or give it a value"},
		{name: "system needs file", src: "[keyring]\nbackend = \"keyctl\"\n" + sess, system: true,
			want: `config.toml:2: keyring.backend: a system daemon has no login keyring, and the kernel keyring it gets is new at every start: use backend = "file" (the default in the system layout: encrypted under /var/lib/stsd, its passphrase a systemd credential)`},
		{name: "system file", src: "[keyring]\nbackend = \"file\"\n" + sess, system: true},
	})
}

func TestRulesDayUnit(t *testing.T) {
	t.Parallel()
	runRules(t, []ruleTest{
		{name: "duration in days", src: "[profiles.p]\nsource_profile = \"src\"\nduration = \"1d\"\n"},
		{name: "duration days too long", src: "[profiles.p]\nsource_profile = \"src\"\nduration = \"2d\"\n",
			want: `config.toml:3: profiles.p.duration: "2d" is longer than 36h (STS allows 15m..36h)`},
		{name: "day unit after hours", src: "[profiles.p]\nsource_profile = \"src\"\nduration = \"1h1d\"\n",
			want: `config.toml:3: profiles.p.duration: "1h1d" is not a duration; write it like "30d", "12h", "90m" or "1d12h"`},
	})
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"30d", 30 * 24 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false},
		{"0d1s", time.Second, false},
		{"90m", 90 * time.Minute, false},
		{"1h1d", 0, true},
		{"d", 0, true},
		{"1d-1h", 0, true},
		{"1d+1h", 0, true},
		{"99999999999999999999d", 0, true},
		{"36501d", 0, true},
		{"-1d", 0, true},
		{"36500d2562047h", 0, true}, // past the largest Duration
	}
	for _, tt := range tests {
		got, err := config.ParseDuration(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"30d", "1d12h", "90m", "1h1d", "d", "1d-1h", "0d", "36500d23h59m59s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := config.ParseDuration(s)
		if err == nil && d < 0 && len(s) > 0 && s[0] != '-' {
			t.Errorf("ParseDuration(%q) = %v: negative without a sign", s, d)
		}
	})
}

func TestKeyDefaults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := "[profiles.a]\nsource_profile = \"src\"\nmfa_serial = \"arn:aws:iam::123456789012:mfa/alice\"\nmfa_process = \"echo 123456\"\n[profiles.b]\nsource_profile = \"src\"\n[keys.src]\nstore = \"keyring\"\n"
	c, err := config.Parse(dir+"/config.toml", []byte(src), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := c.Key("src")
	want := &config.Key{Name: "src", Line: 7, Store: config.StoreKeyring, RotateGrace: time.Hour, MFASerial: "arn:aws:iam::123456789012:mfa/alice", MFAProcess: "echo 123456"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Key(src) (-want +got):\n%s", diff)
	}
	if d := c.Key("other"); d.Store != config.StoreCredentialsFile || d.RotateGrace != time.Hour || d.Line != 0 {
		t.Errorf("Key(other) = %+v; want the credentials_file default", d)
	}
	if c.Keyring.Backend != "auto" || c.Keyring.Collection != "login" || c.Keyring.FileDir == "" {
		t.Errorf("Keyring = %+v; want auto, login and a file_dir", c.Keyring)
	}
}
