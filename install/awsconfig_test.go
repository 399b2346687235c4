package install

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stsd/stsd/config"
)

const testBinary = "/usr/local/bin/stsd-credential-process"

// editCases are the AWS config files of testdata/awsconfig/<name>.ini,
// edited for profiles with binary; the result is <name>.golden.
var editCases = []struct {
	name     string
	profiles []string
	binary   string
}{
	{"new-file", []string{"dev"}, testBinary}, // no .ini: the file does not exist
	{"existing-section", []string{"dev"}, testBinary},
	{"existing-key", []string{"dev"}, testBinary},
	{"continuation", []string{"dev"}, testBinary},
	{"colon", []string{"dev"}, testBinary},
	{"crlf", []string{"dev", "new"}, testBinary},
	{"comments", []string{"dev"}, testBinary},
	{"spaces-in-path", []string{"dev"}, "/opt/my tools/stsd-credential-process"},
	{"default", []string{"default"}, testBinary},
	{"default-absent", []string{"default"}, testBinary},
	{"no-trailing-newline", []string{"dev"}, testBinary},
	{"append-no-newline", []string{"dev"}, testBinary},
	{"tabs", []string{"dev"}, testBinary},
	{"realworld", []string{"dev", "ci", "new"}, testBinary},
}

func readCase(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "awsconfig", name+".ini"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return string(b)
}

func TestSetProfileKeyGolden(t *testing.T) {
	for _, tt := range editCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			text := readCase(t, tt.name)
			for _, p := range tt.profiles {
				v, err := CredentialProcessCommand(tt.binary, p)
				if err != nil {
					t.Fatal(err)
				}
				text, _ = setProfileKey(text, p, "credential_process", v)
			}
			golden(t, "awsconfig/"+tt.name+".golden", text)
			// Setting the same value again changes nothing.
			for _, p := range tt.profiles {
				v, _ := CredentialProcessCommand(tt.binary, p)
				if again, _ := setProfileKey(text, p, "credential_process", v); again != text {
					t.Errorf("second edit of %s changed the file", p)
				}
			}
		})
	}
}

// TestUnchangedLinesKept checks every input line survives the edit
// byte for byte (line endings included), in order.
func TestUnchangedLinesKept(t *testing.T) {
	for _, tt := range editCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := readCase(t, tt.name)
			out := in
			for _, p := range tt.profiles {
				v, _ := CredentialProcessCommand(tt.binary, p)
				out, _ = setProfileKey(out, p, "credential_process", v)
			}
			outLines := strings.SplitAfter(out, "\n")
			i := 0
			for _, l := range strings.SplitAfter(in, "\n") {
				if strings.Contains(strings.ToLower(l), "credential_process") && !strings.HasPrefix(strings.TrimSpace(l), ";") || strings.HasPrefix(l, "    /usr/bin/old-helper") || strings.HasPrefix(l, "    --profile") {
					continue // replaced
				}
				if !strings.HasSuffix(l, "\n") && l != "" {
					l2 := l // the last line may have gained a line ending
					found := false
					for ; i < len(outLines); i++ {
						if strings.TrimRight(outLines[i], "\r\n") == l2 {
							found = true
							break
						}
					}
					if !found {
						t.Errorf("last line %q lost", l)
					}
					continue
				}
				for i < len(outLines) && outLines[i] != l {
					i++
				}
				if i == len(outLines) {
					t.Errorf("line %q lost or reordered", l)
					return
				}
				i++
			}
		})
	}
}

// TestBotocoreReadsEdits has one botocore process read every input and
// output file: the edited profiles have the new credential_process, and
// every other value (profiles, sso-sessions, services) is unchanged.
func TestBotocoreReadsEdits(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	if exec.Command(py, "-c", "import botocore").Run() != nil {
		t.Skip("botocore is not installed (pip install botocore)")
	}
	dir := t.TempDir()
	var args []string
	for _, tt := range editCases {
		in := readCase(t, tt.name)
		out := in
		for _, p := range tt.profiles {
			v, _ := CredentialProcessCommand(tt.binary, p)
			out, _ = setProfileKey(out, p, "credential_process", v)
		}
		inPath := filepath.Join(dir, tt.name+".in")
		outPath := filepath.Join(dir, tt.name+".out")
		os.WriteFile(inPath, []byte(in), 0o600)
		os.WriteFile(outPath, []byte(out), 0o600)
		args = append(args, inPath, outPath)
	}
	const script = `
import json, shlex, sys
from botocore.configloader import raw_config_parse, build_profile_map
res = {}
for path in sys.argv[1:]:
    try:
        m = build_profile_map(raw_config_parse(path))
    except Exception as e:
        m = {"error": repr(e)}
    for p in m.get("profiles", {}).values():
        if "credential_process" in p:
            p["credential_process_argv"] = shlex.split(p["credential_process"])
    res[path] = m
print(json.dumps(res))
`
	cmd := exec.Command(py, append([]string{"-c", script}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("botocore: %v\n%s", err, stderr.String())
	}
	var got map[string]map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	for _, tt := range editCases {
		in := got[filepath.Join(dir, tt.name+".in")]
		out := got[filepath.Join(dir, tt.name+".out")]
		if e, ok := out["error"]; ok {
			t.Errorf("%s: botocore cannot read the edited file: %v", tt.name, e)
			continue
		}
		if _, ok := in["error"]; ok && tt.name != "new-file" {
			t.Errorf("%s: botocore cannot read the input: %v", tt.name, in["error"])
			continue
		}
		want := map[string]any{}
		for k, v := range in {
			if k != "error" {
				want[k] = v
			}
		}
		profiles, _ := want["profiles"].(map[string]any)
		if profiles == nil {
			profiles = map[string]any{}
			want["profiles"] = profiles
		}
		for _, p := range tt.profiles {
			v, _ := CredentialProcessCommand(tt.binary, p)
			pm, _ := profiles[p].(map[string]any)
			if pm == nil {
				pm = map[string]any{}
				profiles[p] = pm
			}
			pm["credential_process"] = v
			pm["credential_process_argv"] = []any{tt.binary, "--profile", p}
		}
		if tt.name == "new-file" {
			want["sso_sessions"], want["services"] = map[string]any{}, map[string]any{}
		}
		if d := cmp.Diff(want, out); d != "" {
			t.Errorf("%s: botocore reads (-want +got):\n%s", tt.name, d)
		}
	}
}

// TestCredentialProcessRunsUnderShell runs the written value the way the
// Go and JS SDKs do (sh -c) with a path that needs quoting.
func TestCredentialProcessRunsUnderShell(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := filepath.Join(t.TempDir(), "my tools (x86)", "it's")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "stsd-credential-process")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nprintf '%s|' \"$0\" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	v, err := CredentialProcessCommand(bin, "dev")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sh, "-c", v).Output()
	if err != nil {
		t.Fatalf("sh -c %s: %v", v, err)
	}
	if want := bin + "|--profile|dev|"; string(out) != want {
		t.Errorf("sh -c %s printed %q; want %q", v, out, want)
	}
}

func TestCredentialProcessCommand(t *testing.T) {
	tests := []struct {
		bin, profile, want string
		wantErr            bool
	}{
		{bin: "/usr/local/bin/stsd-credential-process", profile: "dev", want: "/usr/local/bin/stsd-credential-process --profile dev"},
		{bin: "/opt/my tools/stsd-credential-process", profile: "dev", want: `"/opt/my tools/stsd-credential-process" --profile dev`},
		{bin: "/opt/ünï/stsd-credential-process", profile: "a.b@c-d", want: `"/opt/ünï/stsd-credential-process" --profile a.b@c-d`},
		{bin: "relative/stsd-credential-process", profile: "dev", wantErr: true},
		{bin: `/opt/"q"/stsd-credential-process`, profile: "dev", wantErr: true},
		{bin: "/opt/$HOME/stsd-credential-process", profile: "dev", wantErr: true},
		{bin: "/opt/a #b/stsd-credential-process", profile: "dev", wantErr: true},
		{bin: "/opt/a\nb/stsd-credential-process", profile: "dev", wantErr: true},
		{bin: "/usr/bin/stsd-credential-process", profile: "my profile", wantErr: true},
		{bin: "/usr/bin/stsd-credential-process", profile: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := CredentialProcessCommand(tt.bin, tt.profile)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("CredentialProcessCommand(%q, %q) = %q, %v; want %q, error %v", tt.bin, tt.profile, got, err, tt.want, tt.wantErr)
		}
	}
}

// profileEnv is a temp AWS config, credentials file and stsd config.
type profileEnv struct {
	dir, awsConfig, creds string
	cfg                   *config.Config
}

func newProfileEnv(t *testing.T, awsConfig, creds string) *profileEnv {
	t.Helper()
	e := &profileEnv{dir: t.TempDir()}
	e.awsConfig = filepath.Join(e.dir, "aws", "config")
	e.creds = filepath.Join(e.dir, "aws", "credentials")
	if err := os.MkdirAll(filepath.Dir(e.awsConfig), 0o700); err != nil {
		t.Fatal(err)
	}
	if awsConfig != "" {
		if err := os.WriteFile(e.awsConfig, []byte(awsConfig), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if creds != "" {
		if err := os.WriteFile(e.creds, []byte(creds), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.cfg = &config.Config{
		Path:            filepath.Join(e.dir, "stsd.toml"),
		CredentialsFile: e.creds,
		Profiles: map[string]*config.Profile{
			"dev":     {Name: "dev", SourceProfile: "dev-long-term"},
			"ci":      {Name: "ci", SourceProfile: "ci-user"},
			"default": {Name: "default", SourceProfile: "long-term"},
			"loop":    {Name: "loop", SourceProfile: "loop"},
		},
	}
	return e
}

func (e *profileEnv) options(out *bytes.Buffer, profiles ...string) ProfileOptions {
	return ProfileOptions{Config: e.cfg, Profiles: profiles, AWSConfig: e.awsConfig, Binary: testBinary, Stdout: out}
}

const devCreds = "[dev-long-term]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = fake\n"

func TestConfigureProfilesWrites(t *testing.T) {
	old := "# mine\n[profile dev]\nregion = eu-west-1\n"
	e := newProfileEnv(t, old, devCreds)
	var out bytes.Buffer
	if err := ConfigureProfiles(e.options(&out, "dev")); err != nil {
		t.Fatalf("ConfigureProfiles = %v", err)
	}
	got, _ := os.ReadFile(e.awsConfig)
	want := old + "credential_process = " + testBinary + " --profile dev\n"
	if string(got) != want {
		t.Errorf("config = %q; want %q", got, want)
	}
	fi, _ := os.Stat(e.awsConfig)
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v; want 0640 kept", fi.Mode().Perm())
	}
	backup, err := os.ReadFile(e.awsConfig + ".stsd-backup")
	if err != nil || string(backup) != old {
		t.Errorf("backup = %q, %v; want the old file", backup, err)
	}
	if bfi, _ := os.Stat(e.awsConfig + ".stsd-backup"); bfi == nil || bfi.Mode().Perm() != 0o640 {
		t.Errorf("backup mode = %v; want 0640", bfi)
	}
	entries, _ := os.ReadDir(filepath.Dir(e.awsConfig))
	if len(entries) != 3 { // config, its backup, credentials: no temp files left
		t.Errorf("dir holds %d entries; want 3", len(entries))
	}
	// Again: nothing to do, nothing written.
	out.Reset()
	if err := ConfigureProfiles(e.options(&out, "dev")); err != nil || !strings.Contains(out.String(), "nothing to do") {
		t.Errorf("second run = %v, %q", err, out.String())
	}
}

func TestConfigureProfilesNewFile(t *testing.T) {
	e := newProfileEnv(t, "", devCreds)
	os.RemoveAll(filepath.Dir(e.awsConfig) + "/config")
	e.awsConfig = filepath.Join(e.dir, "new", ".aws", "config")
	var out bytes.Buffer
	o := e.options(&out)
	o.All = true
	o.Config.Profiles = map[string]*config.Profile{"dev": {Name: "dev", SourceProfile: "x"}, "default": {Name: "default", SourceProfile: "y"}}
	if err := ConfigureProfiles(o); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(e.awsConfig)
	want := "[default]\ncredential_process = " + testBinary + " --profile default\n\n[profile dev]\ncredential_process = " + testBinary + " --profile dev\n"
	if d := cmp.Diff(want, string(got)); d != "" {
		t.Errorf("new file (-want +got):\n%s", d)
	}
	if fi, _ := os.Stat(e.awsConfig); fi.Mode().Perm() != 0o600 {
		t.Errorf("new file mode = %v; want 0600", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(filepath.Dir(e.awsConfig)); fi.Mode().Perm() != 0o700 {
		t.Errorf("new dir mode = %v; want 0700", fi.Mode().Perm())
	}
	if _, err := os.Stat(e.awsConfig + ".stsd-backup"); err == nil {
		t.Error("backup written for a file that did not exist")
	}
}

func TestConfigureProfilesDryRun(t *testing.T) {
	old := "[profile dev]\r\nregion = eu-west-1\r\ncredential_process = old --x\r\n"
	e := newProfileEnv(t, old, devCreds)
	before, _ := os.Stat(e.awsConfig)
	var out bytes.Buffer
	o := e.options(&out, "dev", "ci")
	o.DryRun = true
	if err := ConfigureProfiles(o); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(e.awsConfig)
	after, _ := os.Stat(e.awsConfig)
	if string(got) != old || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("dry run changed the file")
	}
	if _, err := os.Stat(e.awsConfig + ".stsd-backup"); err == nil {
		t.Error("dry run wrote a backup")
	}
	golden(t, "awsconfig/dry-run.golden", strings.ReplaceAll(out.String(), e.dir, "$TMP"))
}

func TestConfigureProfilesFollowsSymlink(t *testing.T) {
	e := newProfileEnv(t, "[profile dev]\n", devCreds)
	link := filepath.Join(e.dir, "link-config")
	if err := os.Symlink(e.awsConfig, link); err != nil {
		t.Skip("no symlinks here")
	}
	var out bytes.Buffer
	o := e.options(&out, "dev")
	o.AWSConfig = link
	if err := ConfigureProfiles(o); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced")
	}
	if got, _ := os.ReadFile(e.awsConfig); !strings.Contains(string(got), "credential_process") {
		t.Errorf("target not edited: %q", got)
	}
}

func TestConfigureProfilesRefuses(t *testing.T) {
	tests := []struct {
		name     string
		creds    string
		profiles []string
		all      bool
		want     []string // one per refusal
	}{
		{"keys in credentials file", devCreds + "[dev]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = fake\n", []string{"dev"}, false, []string{"has keys under [dev]"}},
		{"own source", devCreds, []string{"loop"}, false, []string{"its own source_profile"}},
		{"unknown profile", devCreds, []string{"nope"}, false, []string{`no profile "nope"`}},
		{"all or nothing", devCreds + "[ci]\naws_secret_access_key = fake\n", nil, true, []string{"has keys under [ci]", "its own source_profile"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			old := "[profile dev]\nregion = eu-west-1\n"
			e := newProfileEnv(t, old, tt.creds)
			var out bytes.Buffer
			o := e.options(&out, tt.profiles...)
			o.All = tt.all
			err := ConfigureProfiles(o)
			var r Refusals
			if !errors.As(err, &r) || !errors.Is(err, ErrRefused) {
				t.Fatalf("ConfigureProfiles = %v; want Refusals", err)
			}
			if len(r) != len(tt.want) {
				t.Fatalf("refusals = %q; want %d", r, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(r[i], w) {
					t.Errorf("refusal %q; want it to say %q", r[i], w)
				}
			}
			if strings.Contains(err.Error(), "fake") {
				t.Errorf("refusal shows a secret: %v", err)
			}
			if got, _ := os.ReadFile(e.awsConfig); string(got) != old {
				t.Errorf("a refused run wrote the config: %q", got)
			}
		})
	}
}

func FuzzSetProfileKey(f *testing.F) {
	for _, tt := range editCases {
		b, _ := os.ReadFile(filepath.Join("testdata", "awsconfig", tt.name+".ini"))
		f.Add(string(b), "dev")
	}
	f.Fuzz(func(t *testing.T, data, profile string) {
		if !validProfileName(profile) {
			return
		}
		out, _ := setProfileKey(data, profile, "credential_process", "/x --profile "+profile)
		again, _ := setProfileKey(out, profile, "credential_process", "/x --profile "+profile)
		if again != out {
			t.Errorf("not idempotent:\n%q\n%q", out, again)
		}
		if len(out) < len(data)-len(data)/2 && !strings.Contains(strings.ToLower(data), "credential_process") {
			t.Errorf("edit dropped content")
		}
	})
}
