package install

import (
	"fmt"
	"strings"
)

// WindowsConfig is the service stsd creates in the Windows SCM: what
// kardianos/service passes to CreateService and SetRecoveryActions.
type WindowsConfig struct {
	Name        string
	DisplayName string
	Description string
	Executable  string
	Arguments   []string
	StartType   string // kardianos StartType option: automatic
	Account     string // the account it runs as
	// OnFailure, RestartDelay and ResetPeriod are the recovery actions.
	OnFailure    string
	RestartDelay string
	ResetPeriod  int // seconds
}

// WindowsConfigFor is the Windows service configuration for s.
func WindowsConfigFor(s Service) WindowsConfig {
	return WindowsConfig{
		Name:        serviceName,
		DisplayName: serviceName,
		Description: description,
		Executable:  s.Executable,
		Arguments:   s.Args(),
		StartType:   "automatic",
		// LocalSystem: the SCM's default, and the owner of the
		// %ProgramData%\stsd DACL. A virtual account would need that DACL
		// to name it.
		Account:      "LocalSystem",
		OnFailure:    "restart",
		RestartDelay: "5s",
		ResetPeriod:  86400,
	}
}

// CommandLine is the service's binary path as the SCM stores it: the
// executable and each argument quoted as Go's syscall.EscapeArg (and so
// golang.org/x/sys/windows/svc/mgr.CreateService) quotes them.
func (w WindowsConfig) CommandLine() string {
	return quoteJoin(append([]string{w.Executable}, w.Arguments...), windowsEscapeArg)
}

// String renders w as text (what `--dry-run` prints).
func (w WindowsConfig) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "service name: %s\n", w.Name)
	fmt.Fprintf(&b, "display name: %s\n", w.DisplayName)
	fmt.Fprintf(&b, "description: %s\n", w.Description)
	fmt.Fprintf(&b, "binary path: %s\n", w.CommandLine())
	fmt.Fprintf(&b, "start type: %s\n", w.StartType)
	fmt.Fprintf(&b, "account: %s\n", w.Account)
	fmt.Fprintf(&b, "on failure: %s after %s (failure count reset after %ds)\n", w.OnFailure, w.RestartDelay, w.ResetPeriod)
	return b.String()
}

// windowsEscapeArg is syscall.EscapeArg from Go's Windows port, available
// on every OS so the rendering can be tested anywhere.
func windowsEscapeArg(s string) string {
	if s == "" {
		return `""`
	}
	needsBackslash, hasSpace := false, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"', '\\':
			needsBackslash = true
		case ' ', '\t':
			hasSpace = true
		}
	}
	if !needsBackslash && !hasSpace {
		return s
	}
	if !needsBackslash {
		return `"` + s + `"`
	}
	var b []byte
	if hasSpace {
		b = append(b, '"')
	}
	slashes := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		default:
			slashes = 0
		case '\\':
			slashes++
		case '"':
			for ; slashes > 0; slashes-- {
				b = append(b, '\\')
			}
			b = append(b, '\\')
		}
		b = append(b, c)
	}
	if hasSpace {
		for ; slashes > 0; slashes-- {
			b = append(b, '\\')
		}
		b = append(b, '"')
	}
	return string(b)
}
