package install

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// Service manager operations.
const (
	opStop      = "stop"
	opUninstall = "uninstall"
	opInstall   = "install"
	opStart     = "start"
)

// plan is what an install or uninstall does, in order. The same steps are
// printed by --dry-run and run by a real install.
type plan struct {
	title string
	steps []step
}

type step struct {
	note  string     // what and why
	argv  [][]string // commands run as they are (exec steps)
	lines []string   // printed form of a manager step
	op    string     // manager operation, with m and text
	m     Manager
	text  string
}

func (p *plan) cmd(note string, argv ...string) { p.cmds(note, argv) }

func (p *plan) cmds(note string, argv ...[]string) {
	p.steps = append(p.steps, step{note: note, argv: argv})
}

// managerStep adds op, printed as what kardianos/service does for it.
func (p *plan) managerStep(s Service, m Manager, op, text string) {
	note, lines := managerLines(s, op, text)
	p.steps = append(p.steps, step{note: note, lines: lines, op: op, m: m, text: text})
}

// managerLines describes op the way kardianos/service v1.3.0 carries it
// out on each init system.
func managerLines(s Service, op, text string) (string, []string) {
	unit := s.UnitPath()
	switch s.Init {
	case Systemd:
		name := serviceName + ".service"
		sc := func(args ...string) string {
			if !s.System { // kardianos puts --user after the verb
				args = append(args[:1:1], append([]string{"--user"}, args[1:]...)...)
			}
			return shellJoin(append([]string{"systemctl"}, args...))
		}
		switch op {
		case opStop:
			return "stop the running service (errors ignored)", []string{sc("stop", name)}
		case opUninstall:
			return "remove the old unit", []string{sc("disable", name), shellJoin([]string{"rm", unit}), sc("daemon-reload")}
		case opInstall:
			return "write the unit (0644) and enable it", append(heredoc(unit, text), sc("enable", name), sc("daemon-reload"))
		case opStart:
			return "start it", []string{sc("start", name)}
		}
	case Launchd:
		switch op {
		case opStop:
			return "stop the running job (errors ignored)", []string{shellJoin([]string{"launchctl", "unload", unit})}
		case opUninstall:
			return "remove the old plist", []string{shellJoin([]string{"launchctl", "unload", unit}), shellJoin([]string{"rm", unit})}
		case opInstall:
			return "write the plist (0644)", heredoc(unit, text)
		case opStart:
			return "load and start it", []string{shellJoin([]string{"launchctl", "load", unit})}
		}
	case Windows:
		switch op {
		case opStop:
			return "stop the running service through the SCM, as `sc.exe stop stsd` does (errors ignored)", nil
		case opUninstall:
			return "delete the old service through the SCM, as `sc.exe delete stsd` does, and its event log source", nil
		case opInstall:
			lines := []string{"# SCM CreateService + SetRecoveryActions + an event log source, with:"}
			for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
				lines = append(lines, "#   "+l)
			}
			return "create the service through the SCM", lines
		case opStart:
			return "start it through the SCM, as `sc.exe start stsd` does", nil
		}
	}
	return op, nil
}

// heredoc prints writing text to path as a shell here-document.
func heredoc(path, text string) []string {
	lines := []string{"cat > " + shellQuote(path) + " <<'STSD_EOF'"}
	lines = append(lines, strings.Split(strings.TrimSuffix(text, "\n"), "\n")...)
	return append(lines, "STSD_EOF")
}

// write prints p: a comment per step, then its commands.
func (p *plan) write(w io.Writer) {
	fmt.Fprintf(w, "# %s: dry run, nothing is changed\n", p.title)
	for i, st := range p.steps {
		fmt.Fprintf(w, "\n# %d. %s\n", i+1, st.note)
		for _, a := range st.argv {
			fmt.Fprintln(w, shellJoin(a))
		}
		for _, l := range st.lines {
			fmt.Fprintln(w, l)
		}
	}
}

// apply prints p on a dry run; otherwise it runs p and then prints done.
func (p *plan) apply(ctx context.Context, o Options, done string) error {
	if o.DryRun {
		p.write(o.Stdout)
		return nil
	}
	if err := p.run(ctx, o); err != nil {
		return err
	}
	fmt.Fprintln(o.Stdout, done)
	return nil
}

// run carries p out, stopping at the first failure (a failed stop of the
// old service is ignored: it may not be running).
func (p *plan) run(ctx context.Context, o Options) error {
	for _, st := range p.steps {
		fmt.Fprintf(o.Stdout, "stsd: %s\n", st.note)
		for _, a := range st.argv {
			if err := o.Run(ctx, a); err != nil {
				return fmt.Errorf("%s: %w", shellJoin(a), err)
			}
		}
		var err error
		switch st.op {
		case opStop:
			_ = st.m.Stop()
		case opUninstall:
			err = st.m.Uninstall()
		case opInstall:
			err = st.m.Install(st.text)
		case opStart:
			err = st.m.Start()
		}
		if err != nil {
			return fmt.Errorf("%s the service: %w", st.op, err)
		}
	}
	return nil
}

// shellJoin prints argv as a POSIX shell command line.
func shellJoin(argv []string) string { return quoteJoin(argv, shellQuote) }

// shellQuote quotes a for a POSIX shell when it needs it.
func shellQuote(a string) string {
	if a == "$ID" { // the placeholder the dry run explains
		return a
	}
	if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=@%+,") == "" {
		return a
	}
	return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}
