package install

import (
	"encoding/xml"
	"path"
	"strings"
)

// launchdUser is the macOS account of the system daemon: macOS names
// daemon accounts with a leading underscore; install adds "stsd" as an alias
// (RecordName) so socket_group = "stsd" works too.
const launchdUser = "_stsd"

func renderLaunchd(s Service) string {
	var b serviceText
	w := b.lines
	str := func(v string) string {
		var e strings.Builder
		xml.EscapeText(&e, []byte(v))
		return "<string>" + e.String() + "</string>"
	}
	kind, logPath := "LaunchAgent", path.Join(s.Home, "Library/Logs/stsd.log")
	if s.System {
		kind, logPath = "LaunchDaemon", "/Library/Logs/stsd.log"
	}
	w(`<?xml version="1.0" encoding="UTF-8"?>`,
		`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">`,
		`<!-- stsd `+kind+`, written by stsd install; run it again to update, stsd uninstall to remove. -->`,
		`<plist version="1.0">`,
		`<dict>`,
		`	<key>Label</key>`,
		`	`+str(launchdLabel),
		`	<key>ProgramArguments</key>`,
		`	<array>`,
		`		`+str(s.Executable))
	for _, a := range s.Args() {
		w(`		` + str(a))
	}
	w(`	</array>`,
		`	<key>RunAtLoad</key>`,
		`	<true/>`,
		// Restart after a failure only. launchd cannot exempt exit code 2 (a
		// config error) the way systemd's RestartPreventExitStatus does;
		// ThrottleInterval keeps such a loop slow.
		`	<key>KeepAlive</key>`,
		`	<dict>`,
		`		<key>SuccessfulExit</key>`,
		`		<false/>`,
		`	</dict>`,
		`	<key>ThrottleInterval</key>`,
		`	<integer>30</integer>`,
		`	<key>ProcessType</key>`,
		`	<string>Background</string>`,
		// 63 = 0077: files stsd creates are private to its user.
		`	<key>Umask</key>`,
		`	<integer>63</integer>`,
		// No core dump may hold the long-term key.
		`	<key>SoftResourceLimits</key>`,
		`	<dict>`,
		`		<key>Core</key>`,
		`		<integer>0</integer>`,
		`	</dict>`,
		`	<key>HardResourceLimits</key>`,
		`	<dict>`,
		`		<key>Core</key>`,
		`		<integer>0</integer>`,
		`	</dict>`)
	if s.System {
		w(`	<key>UserName</key>`,
			`	`+str(launchdUser),
			`	<key>GroupName</key>`,
			`	`+str(launchdUser))
	}
	w(`	<key>StandardErrorPath</key>`,
		`	`+str(logPath),
		`</dict>`,
		`</plist>`)
	return b.String()
}
