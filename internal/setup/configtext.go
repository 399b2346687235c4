package setup

import (
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/stsd/stsd/internal/redact"
)

// answers is what the questions settled.
type answers struct {
	source     string // the shared-file profile with the long-term key
	keyID      string
	profile    string // the stsd profile to make
	region     string
	duration   string
	mfaSerial  string // "" = no MFA
	mfaProcess string // "" = codes are typed
	// keyring: the key moves into the keyring; the config gets its
	// [keys.SOURCE] table.
	keyring bool
	// credentialsFile is written when it is not the default, so a
	// service (which does not see the shell's variables) reads it too.
	credentialsFile string
}

// header starts a config file init writes from scratch.
func header(a answers) string {
	var b strings.Builder
	b.WriteString(`# stsd config, written by ` + "`stsd init`" + `. ` + "`stsd check`" + ` validates it;
# ` + "`man stsd`" + ` and the README describe every key. The daemon re-reads it
# when it changes.
`)
	if a.credentialsFile != "" {
		b.WriteString("\n# Where source_profile keys are read (the service does not see\n# $AWS_SHARED_CREDENTIALS_FILE, so it is named here).\n")
		fmt.Fprintf(&b, "credentials_file = %s\n", tomlString(a.credentialsFile))
	} else {
		b.WriteString("\n# credentials_file = \"~/.aws/credentials\"  # where source_profile keys are read\n")
	}
	b.WriteString("# log_level = \"info\"                       # debug|info|warn|error\n")
	return b.String()
}

// section is the annotated profile init adds.
func section(a answers) string {
	var b strings.Builder
	w := func(comment, key, value string) {
		for _, l := range strings.Split(comment, "\n") {
			b.WriteString("# " + l + "\n")
		}
		fmt.Fprintf(&b, "%s = %s\n", key, tomlString(value))
	}
	fmt.Fprintf(&b, "\n[profiles.%s]\n", tomlKey(a.profile))
	where := "in the shared credentials file"
	if a.keyring {
		where = "in the OS keyring ([keys." + tomlKey(a.source) + "] below; `stsd key list`)"
	}
	w(fmt.Sprintf("The IAM user's long-term key (%s), %s.\nOnly stsd reads it; programs get short-lived credentials.", redact.KeyID(a.keyID), where), "source_profile", a.source)
	w("session: GetSessionToken, credentials for whatever the user may do.\nfederation (GetFederationToken) scopes them with a policy instead.", "mode", "session")
	w("How long each set of credentials lasts: 15m..36h (an account root key: 1h).\nstsd refreshes them before they expire.", "duration", a.duration)
	w("The STS regional endpoint.", "region", a.region)
	if a.mfaSerial != "" {
		w("The MFA device: stsd never calls STS for this profile without a code.", "mfa_serial", a.mfaSerial)
		if a.mfaProcess != "" {
			w("Prints the current 6-digit code (run with sh -c, 30 s timeout).", "mfa_process", a.mfaProcess)
		} else {
			b.WriteString("# When a code is due, `stsd status` says needs-mfa: give one with\n")
			fmt.Fprintf(&b, "# `stsd mfa %s`, or a program's credential_process asks on the terminal.\n", a.profile)
		}
	}
	b.WriteString("# imds_listen = \"127.0.0.1:9912\"   # an IMDSv2 endpoint, for programs without profiles\n")
	if a.keyring {
		fmt.Fprintf(&b, "\n[keys.%s]\n", tomlKey(a.source))
		w("The key lives in the OS keyring, not in the shared credentials file.\n`stsd key rotate` rotates it; rotate_every = \"30d\" would do it on a schedule.", "store", "keyring")
	}
	return b.String()
}

var bareKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func tomlKey(k string) string {
	if bareKey.MatchString(k) {
		return k
	}
	return tomlString(k)
}

// tomlString is s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// writeDiff prints the line changes from old to new, each changed line
// with up to two lines of context, as `diff -u` marks them.
func writeDiff(w io.Writer, oldText, newText string) {
	a, b := splitLines(oldText), splitLines(newText)
	// lcs[i][j]: the longest common subsequence of a[i:] and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []string // each prefixed ' ', '-' or '+'
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			out, i, j = append(out, " "+a[i]), i+1, j+1
		case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
			out, i = append(out, "-"+a[i]), i+1
		default:
			out, j = append(out, "+"+b[j]), j+1
		}
	}
	near := func(k int) bool {
		for d := -2; d <= 2; d++ {
			if k+d >= 0 && k+d < len(out) && out[k+d][0] != ' ' {
				return true
			}
		}
		return false
	}
	skipped := false
	for k, l := range out {
		if !near(k) {
			if !skipped {
				fmt.Fprintln(w, "   …")
			}
			skipped = true
			continue
		}
		skipped = false
		fmt.Fprintf(w, "  %c %s\n", l[0], l[1:])
	}
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
