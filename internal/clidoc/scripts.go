package clidoc

import (
	"fmt"
	"strings"
)

// Shells completion scripts exist for.
var Shells = []string{"bash", "zsh", "fish", "powershell"}

// Script returns the completion script of shell for program prog, whose
// hidden command hook answers `prog HOOK =CUR WORD…` (the words before
// the cursor, and the word being typed after "=") with WriteCandidates'
// lines. The scripts hold no command or flag of their own: every answer
// comes from the program, so they cannot fall behind it.
func Script(shell, prog, hook string) (string, error) {
	var t string
	switch shell {
	case "bash":
		t = bashScript
	case "zsh":
		t = zshScript
	case "fish":
		t = fishScript
	case "powershell":
		t = powershellScript
	default:
		return "", fmt.Errorf("no completion for shell %q: use %s", shell, strings.Join(Shells, ", "))
	}
	fn := "_" + strings.ReplaceAll(prog, "-", "_")
	return strings.NewReplacer("PROG", prog, "HOOK", hook, "_FN", fn).Replace(t), nil
}

// bash: the candidates' descriptions are dropped (bash cannot show them).
const bashScript = `# bash completion for PROG: source it, or install it as
# /usr/share/bash-completion/completions/PROG
_FN() {
    local cur=${COMP_WORDS[COMP_CWORD]} out mode line
    out=$("${COMP_WORDS[0]}" HOOK "=$cur" "${COMP_WORDS[@]:1:COMP_CWORD-1}" 2>/dev/null) || return 0
    mode=${out%%$'\n'*}
    COMPREPLY=()
    case $mode in
    files) mapfile -t COMPREPLY < <(compgen -f -- "$cur"); compopt -o filenames 2>/dev/null ;;
    commands) mapfile -t COMPREPLY < <(compgen -c -- "$cur") ;;
    *)
        while IFS= read -r line; do
            [ -n "$line" ] && COMPREPLY+=("${line%%$'\t'*}")
        done <<<"${out#*$'\n'}"
        [ "$out" = "$mode" ] && COMPREPLY=()
        ;;
    esac
    return 0
}
complete -F _FN PROG
`

const zshScript = `#compdef PROG
# zsh completion for PROG: source it after compinit, or install it as _PROG
# in a directory of $fpath
_FN() {
    local -a lines cands
    local mode line
    lines=("${(@f)$("${words[1]}" HOOK "=${words[CURRENT]}" "${(@)words[2,CURRENT-1]}" 2>/dev/null)}")
    mode=${lines[1]}
    shift lines
    case $mode in
    files) _files ;;
    commands) _command_names -e ;;
    *)
        for line in $lines; do
            [[ -n $line ]] && cands+=("${${line%%$'\t'*}//:/\\:}:${line#*$'\t'}")
        done
        (( ${#cands} )) && _describe -t values PROG cands
        ;;
    esac
}
if [[ ${funcstack[1]} == _FN ]]; then
    _FN "$@"
else
    compdef _FN PROG
fi
`

const fishScript = `# fish completion for PROG: source it, or install it as
# completions/PROG.fish in a directory of $fish_complete_path
function _FN_complete
    set -l words (commandline -opc)
    set -l cur (commandline -ct)
    set -l out ($words[1] HOOK "=$cur" $words[2..-1] 2>/dev/null)
    or return
    switch $out[1]
        case files
            __fish_complete_path $cur
        case commands
            complete -C "$cur"
        case '*'
            printf '%s\n' $out[2..-1]
    end
end
complete -c PROG -f -a '(_FN_complete)'
`

const powershellScript = `# PowerShell completion for PROG: add to your $PROFILE:
#   PROG completion powershell | Out-String | Invoke-Expression
Register-ArgumentCompleter -Native -CommandName PROG, PROG.exe -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
    $words = @()
    foreach ($e in $commandAst.CommandElements) {
        if ($e.Extent.EndOffset -le $cursorPosition -and $e.Extent.Text -ne $wordToComplete) { $words += $e.Extent.Text }
    }
    $prog = $words[0]
    $rest = @()
    if ($words.Count -gt 1) { $rest = $words[1..($words.Count - 1)] }
    $out = @(& $prog HOOK "=$wordToComplete" @rest 2>$null)
    if ($out.Count -eq 0) { return }
    switch ($out[0]) {
        'files' { return }
        'commands' { return }
    }
    foreach ($line in $out[1..($out.Count)]) {
        if (-not $line) { continue }
        $value, $desc = $line -split "` + "`" + `t", 2
        if (-not $desc) { $desc = $value }
        [System.Management.Automation.CompletionResult]::new($value, $value, 'ParameterValue', $desc)
    }
}
`
