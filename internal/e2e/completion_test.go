//go:build !windows

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompletionScripts: each shell loads `stsd completion SHELL` without
// error and completes profile names from the config (named by
// STSD_CONFIG, or --config on the line), commands and flags.
func TestCompletionScripts(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.toml")
	writeFile(t, cfg, "[profiles.dev]\nsource_profile = \"src\"\n[profiles.prod-eu]\nsource_profile = \"src\"\n")
	other := filepath.Join(dir, "other.toml")
	writeFile(t, other, "[profiles.staging]\nsource_profile = \"src\"\n")
	env := append(os.Environ(), "PATH="+binDir+":"+os.Getenv("PATH"), "STSD_CONFIG="+cfg, "HOME="+dir)
	tests := []struct {
		shell  string
		script string // prints the candidates for each line, one a line
	}{
		{"bash", `source <(stsd completion bash) || exit 1
c() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _stsd; printf '%s\n' "${COMPREPLY[@]}"; }
c stsd refresh ""
c stsd env p
c stsd ref
c stsd exec --config ` + other + ` ""
c stsd status --j
`},
		{"zsh", `autoload -U compinit && compinit -u -d ` + dir + `/zcompdump || exit 1
source <(stsd completion zsh) || exit 1
[[ $_comps[stsd] == _stsd ]] || { echo "not registered"; exit 1; }
# The completion system's output functions, recording what they are given.
_describe() { local a; for a in ${(P)4}; do print -r -- ${a%%:*}; done }
_files() { print files }
c() { words=("$@"); CURRENT=$#; _stsd; }
c stsd refresh ""
c stsd env p
c stsd ref
c stsd exec --config ` + other + ` ""
c stsd status --j
`},
		{"fish", `stsd completion fish | source; or exit 1
function c; complete -C "$argv" | string replace -r '\t.*' ''; end
c "stsd refresh "
c "stsd env p"
c "stsd ref"
c "stsd exec --config ` + other + ` "
c "stsd status --j"
`},
	}
	want := "dev\nprod-eu\nprod-eu\nrefresh\nstaging\n--json\n"
	for _, tt := range tests {
		t.Run(tt.shell, func(t *testing.T) {
			if _, err := exec.LookPath(tt.shell); err != nil {
				t.Skipf("%s not installed (make test-tools installs it)", tt.shell)
			}
			args := []string{"-c", tt.script}
			if tt.shell == "bash" {
				args = append([]string{"--norc", "--noprofile"}, args...)
			}
			if tt.shell == "zsh" {
				args = append([]string{"-f"}, args...)
			}
			cmd := exec.Command(tt.shell, args...)
			cmd.Env = env
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil || string(out) != want {
				t.Errorf("%s: %v\n%s\nwant:\n%s", tt.shell, err, out, want)
			}
		})
	}
	if _, err := exec.LookPath("bash"); err == nil {
		// The script is syntax-checked by the shell itself too.
		for _, sh := range []string{"bash", "zsh"} {
			if _, err := exec.LookPath(sh); err != nil {
				continue
			}
			cmd := exec.Command("sh", "-c", binDir+"/stsd completion "+sh+" | "+sh+" -n")
			if out, err := cmd.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
				t.Errorf("%s -n: %v %s", sh, err, out)
			}
		}
	}
}
