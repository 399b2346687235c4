package install

import (
	"bytes"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// golden compares got with testdata/name, rewriting it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, d)
	}
}

func testServices() []struct {
	name string
	s    Service
} {
	return []struct {
		name string
		s    Service
	}{
		{"systemd-system.golden", Service{Init: Systemd, System: true, Executable: "/usr/local/bin/stsd", ConfigPath: "/etc/stsd/config.toml"}},
		{"systemd-system-socket-group.golden", Service{Init: Systemd, System: true, Executable: "/usr/local/bin/stsd", ConfigPath: "/etc/stsd/config.toml", SocketGroup: "aws-users"}},
		{"systemd-system-keyring.golden", Service{Init: Systemd, System: true, Executable: "/usr/local/bin/stsd", ConfigPath: "/etc/stsd/config.toml", KeyringCredential: "/etc/stsd/keyring-passphrase"}},
		{"systemd-system-keyring-sealed.golden", Service{Init: Systemd, System: true, Executable: "/usr/local/bin/stsd", ConfigPath: "/etc/stsd/config.toml", KeyringCredential: "/etc/stsd/keyring-passphrase.cred"}},
		{"systemd-system-link-local.golden", Service{Init: Systemd, System: true, Executable: "/usr/local/bin/stsd", ConfigPath: "/etc/stsd/config.toml", LinkLocal: true}},
		{"systemd-user.golden", Service{Init: Systemd, Executable: "/home/alice/bin/stsd", ConfigPath: "/home/alice/.config/stsd/config.toml", Home: "/home/alice"}},
		{"systemd-user-odd-path.golden", Service{Init: Systemd, Executable: "/home/alice/my bin/stsd", ConfigPath: `/home/alice/50% "off"/$HOME\config.toml`, Home: "/home/alice"}},
		{"launchd-system.golden", Service{Init: Launchd, System: true, Executable: "/usr/local/bin/stsd", ConfigPath: "/Library/Application Support/stsd/config.toml"}},
		{"launchd-user.golden", Service{Init: Launchd, Executable: "/opt/homebrew/bin/stsd", ConfigPath: "/Users/alice/Library/Application Support/stsd/config.toml", Home: "/Users/alice"}},
		{"windows-system.golden", Service{Init: Windows, System: true, Executable: `C:\Program Files\stsd\stsd.exe`, ConfigPath: `C:\ProgramData\stsd\config.toml`}},
	}
}

func TestRenderGolden(t *testing.T) {
	for _, tt := range testServices() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Render(tt.s)
			if err != nil {
				t.Fatalf("Render = %v", err)
			}
			golden(t, "render/"+tt.name, got)
			// kardianos/service runs the text through its template engine:
			// with no "{{" it comes out unchanged.
			if strings.Contains(got, "{{") {
				t.Errorf("rendered text has a template marker")
			}
			again, _ := Render(tt.s)
			if again != got {
				t.Errorf("Render is not deterministic")
			}
		})
	}
}

func TestRenderRefuses(t *testing.T) {
	ok := Service{Init: Systemd, Executable: "/bin/stsd", ConfigPath: "/c.toml", Home: "/home/a"}
	tests := []struct {
		name string
		edit func(*Service)
	}{
		{"template marker", func(s *Service) { s.ConfigPath = "/a/{{Name}}/c.toml" }},
		{"newline", func(s *Service) { s.Executable = "/bin/st\nsd" }},
		{"empty", func(s *Service) { s.ConfigPath = "" }},
		{"windows user", func(s *Service) { s.Init = Windows }},
		{"bad group", func(s *Service) { s.System, s.SocketGroup = true, "a b" }},
		{"relative home", func(s *Service) { s.Home = "home" }},
		{"unknown init", func(s *Service) { s.Init = "sysv" }},
		{"link-local user unit", func(s *Service) { s.LinkLocal = true }},
		{"link-local launchd", func(s *Service) { s.Init, s.System, s.LinkLocal = Launchd, true, true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := ok
			tt.edit(&s)
			if got, err := Render(s); err == nil {
				t.Errorf("Render(%+v) = %q, nil; want an error", s, got)
			}
		})
	}
}

func TestParseInit(t *testing.T) {
	for _, s := range []string{"systemd", "launchd", "windows"} {
		if i, err := ParseInit(s); err != nil || string(i) != s {
			t.Errorf("ParseInit(%q) = %q, %v", s, i, err)
		}
	}
	if _, err := ParseInit("sysv"); err == nil {
		t.Error("ParseInit(sysv) = nil error")
	}
}

// TestSystemdVerify runs systemd-analyze verify on the rendered units; any
// warning fails.
func TestSystemdVerify(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed; the units are checked by the golden tests only")
	}
	tests := []struct {
		name string
		s    Service
		args []string
	}{
		{"system", Service{Init: Systemd, System: true, ConfigPath: "/etc/stsd/config.toml"}, []string{"verify"}},
		{"system with socket group", Service{Init: Systemd, System: true, ConfigPath: "/etc/stsd/config.toml", SocketGroup: "adm"}, []string{"verify"}},
		{"system with keyring credential", Service{Init: Systemd, System: true, ConfigPath: "/etc/stsd/config.toml", KeyringCredential: "/etc/stsd/keyring-passphrase"}, []string{"verify"}},
		{"system with sealed keyring credential", Service{Init: Systemd, System: true, ConfigPath: "/etc/stsd/config.toml", KeyringCredential: "/etc/stsd/keyring-passphrase.cred"}, []string{"verify"}},
		{"system with link-local listeners", Service{Init: Systemd, System: true, ConfigPath: "/etc/stsd/config.toml", LinkLocal: true}, []string{"verify"}},
		{"user", Service{Init: Systemd, ConfigPath: "/home/a b/.config/stsd/config.toml", Home: "/home/a b"}, []string{"--user", "verify"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			exe := filepath.Join(dir, "bin dir", "stsd")
			if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			s := tt.s
			s.Executable = exe
			text, err := Render(s)
			if err != nil {
				t.Fatal(err)
			}
			unit := filepath.Join(dir, "stsd.service")
			if err := os.WriteFile(unit, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			runtime := filepath.Join(dir, "run")
			if err := os.Mkdir(runtime, 0o700); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(sa, append(tt.args, unit)...)
			cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+runtime, "SYSTEMD_LOG_LEVEL=notice")
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = io.Discard, &stderr
			err = cmd.Run()
			if err != nil || stderr.Len() > 0 {
				t.Errorf("systemd-analyze %s: %v\n%s\nunit:\n%s", strings.Join(tt.args, " "), err, stderr.String(), text)
			}
		})
	}
}

// plistDict walks a plist's top-level dict into key → value, where a value
// is a string, "true"/"false", an integer's text, or []string for an array.
func plistDict(t *testing.T, text string) map[string]any {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(text))
	d.Strict = true
	out := map[string]any{}
	var path []string
	var key string
	var arr []string
	var chars strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("plist is not XML: %v", err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			path = append(path, tk.Name.Local)
			chars.Reset()
			if tk.Name.Local == "array" && len(path) == 3 {
				arr = []string{}
			}
		case xml.CharData:
			chars.Write(tk)
		case xml.EndElement:
			depth := len(path)
			path = path[:depth-1]
			if depth == 3 { // plist > dict > X
				switch tk.Name.Local {
				case "key":
					key = chars.String()
				case "array":
					out[key] = arr
				case "true", "false":
					out[key] = tk.Name.Local
				case "string", "integer":
					out[key] = chars.String()
				case "dict":
					out[key] = "dict"
				}
			} else if depth == 4 && tk.Name.Local == "string" && arr != nil {
				arr = append(arr, chars.String())
			}
		}
	}
	return out
}

func TestLaunchdPlist(t *testing.T) {
	tests := []struct {
		name     string
		s        Service
		wantArgs []string
		wantUser string
	}{
		{"agent", Service{Init: Launchd, Executable: "/Users/a&b/bin/stsd", ConfigPath: "/Users/a&b/Library/Application Support/stsd/<c>.toml", Home: "/Users/a&b"},
			[]string{"/Users/a&b/bin/stsd", "run", "--config", "/Users/a&b/Library/Application Support/stsd/<c>.toml"}, ""},
		{"daemon", Service{Init: Launchd, System: true, Executable: "/usr/local/bin/stsd", ConfigPath: "/Library/Application Support/stsd/config.toml"},
			[]string{"/usr/local/bin/stsd", "run", "--config", "/Library/Application Support/stsd/config.toml", "--system"}, "_stsd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			text, err := Render(tt.s)
			if err != nil {
				t.Fatal(err)
			}
			d := plistDict(t, text)
			if d := cmp.Diff(tt.wantArgs, d["ProgramArguments"]); d != "" {
				t.Errorf("ProgramArguments (-want +got):\n%s", d)
			}
			if d["Label"] != launchdLabel || d["RunAtLoad"] != "true" || d["KeepAlive"] != "dict" {
				t.Errorf("Label/RunAtLoad/KeepAlive = %v %v %v", d["Label"], d["RunAtLoad"], d["KeepAlive"])
			}
			if u, _ := d["UserName"].(string); u != tt.wantUser {
				t.Errorf("UserName = %q; want %q", u, tt.wantUser)
			}
			if plutil, err := exec.LookPath("plutil"); err == nil {
				f := filepath.Join(t.TempDir(), "stsd.plist")
				os.WriteFile(f, []byte(text), 0o644)
				if out, err := exec.Command(plutil, "-lint", f).CombinedOutput(); err != nil {
					t.Errorf("plutil -lint: %v\n%s", err, out)
				}
			}
		})
	}
}

func TestWindowsConfig(t *testing.T) {
	s := Service{Init: Windows, System: true, Executable: `C:\Program Files\stsd\stsd.exe`, ConfigPath: `C:\ProgramData\stsd\my config.toml`}
	w := WindowsConfigFor(s)
	if d := cmp.Diff([]string{"run", "--config", `C:\ProgramData\stsd\my config.toml`, "--system"}, w.Arguments); d != "" {
		t.Errorf("Arguments (-want +got):\n%s", d)
	}
	want := `"C:\Program Files\stsd\stsd.exe" run --config "C:\ProgramData\stsd\my config.toml" --system`
	if got := w.CommandLine(); got != want {
		t.Errorf("CommandLine = %s; want %s", got, want)
	}
	if w.Name != "stsd" || w.StartType != "automatic" || w.OnFailure != "restart" {
		t.Errorf("config = %+v", w)
	}
}

func TestWindowsEscapeArg(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"run", "run"},
		{`C:\a\b`, `C:\a\b`},
		{`C:\a b\`, `"C:\a b\\"`},
		{`say "hi"`, `"say \"hi\""`},
		{`a\"b`, `a\\\"b`},
		{"tab\there", "\"tab\there\""},
	}
	for _, tt := range tests {
		if got := windowsEscapeArg(tt.in); got != tt.want {
			t.Errorf("windowsEscapeArg(%q) = %s; want %s", tt.in, got, tt.want)
		}
	}
}

func TestSystemdQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/usr/bin/stsd", "/usr/bin/stsd"},
		{"--config", "--config"},
		{"/a b/c", `"/a b/c"`},
		{"50%", "50%%"},
		{"$HOME", "$$HOME"},
		{`a"b\c`, `"a\"b\\c"`},
		{";", `";"`},
		{"", `""`},
	}
	for _, tt := range tests {
		if got := systemdQuote(tt.in); got != tt.want {
			t.Errorf("systemdQuote(%q) = %s; want %s", tt.in, got, tt.want)
		}
	}
}
