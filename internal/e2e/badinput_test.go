//go:build !windows

package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stsd/stsd/cache"
	"github.com/stsd/stsd/internal/ststest"
)

// badInputConfig serves dev (which gets a cache entry before the table
// runs) and fresh (which never gets one).
const badInputConfig = `
[profiles.dev]
source_profile = "src"
duration = "1h"

[profiles.fresh]
source_profile = "src"
duration = "1h"
`

// badCase is one bad input given to the real binaries. setup (optional)
// plants it and returns the command to run; the command must fail with
// exactly one stderr line, the exit code, and the text wantErr (a
// substring; the whole line when exact is set).
type badCase struct {
	name    string
	setup   func(t *testing.T, w *world) []string
	args    []string // when setup is nil
	env     []string
	code    int
	wantErr string
	exact   bool
	skip    string // "BUG: …" for a case that fails today
}

// TestBadInput is the CLI, config, cache and STS part of the bad-input
// table (the HTTP part is daemon.TestBadHTTPInput): each bad input gives
// one clear stderr line with exit 2 (usage or config) or 1 (runtime), and
// loses nothing — dev's cache entry and the config stay byte for byte as
// they were, and dev keeps getting the same credentials without an STS
// call.
func TestBadInput(t *testing.T) {
	sts := ststest.NewServer(t, ststest.Options{})
	w := newWorld(t, sts.URL, badInputConfig)
	home := filepath.Join(w.dir, "h")
	cfgPath := filepath.Join(home, ".config", "stsd", "config.toml")
	cacheDir := filepath.Join(home, ".cache", "stsd")
	entryPath := filepath.Join(cacheDir, "dev.json")
	devCreds, errOut, code := w.run(t, "stsd-credential-process", "--profile", "dev")
	if code != 0 {
		t.Fatalf("first credential_process: %d %s", code, errOut)
	}
	entry := readFile(t, entryPath)
	cfgBytes := readFile(t, cfgPath)

	// badConfig writes a config file holding text and returns its path.
	badConfig := func(t *testing.T, w *world, text string) string {
		t.Helper()
		p := filepath.Join(w.dir, "bad.toml")
		os.Remove(p) // a fresh 0600 file, whatever the last case left
		writeFile(t, p, text)
		return p
	}
	const dev = "[profiles.dev]\nsource_profile = \"src\"\n"
	check := func(text string) func(t *testing.T, w *world) []string {
		return func(t *testing.T, w *world) []string {
			return []string{"stsd", "check", "--config", badConfig(t, w, text)}
		}
	}
	runWith := func(text string) func(t *testing.T, w *world) []string {
		return func(t *testing.T, w *world) []string {
			return []string{"stsd", "run", "--config", badConfig(t, w, text)}
		}
	}
	// stsFault makes the next token call fail and asks for fresh's
	// credentials with no daemon (the small binary execs stsd, which
	// calls STS once).
	stsFault := func(f ststest.Fault) func(t *testing.T, w *world) []string {
		return func(t *testing.T, w *world) []string {
			sts.Fail(f)
			t.Cleanup(sts.Clear)
			return []string{"stsd-credential-process", "--profile", "fresh"}
		}
	}
	// otherCacheDir points XDG_CACHE_HOME at a fresh directory made by mk.
	otherCacheDir := func(mk func(t *testing.T, dir string)) func(t *testing.T, w *world) []string {
		return func(t *testing.T, w *world) []string {
			base := filepath.Join(w.dir, "xc")
			os.RemoveAll(base)
			mkdir(t, base)
			mk(t, filepath.Join(base, "stsd"))
			t.Cleanup(func() { os.RemoveAll(base) })
			w.env = append(w.env, "XDG_CACHE_HOME="+base)
			return []string{"stsd-credential-process", "--profile", "fresh"}
		}
	}
	bad := func(name string) string { return filepath.Join(w.dir, "bad.toml") + name }

	tests := []badCase{
		// Config files: `stsd check` and `stsd run` exit 2 with file:line.
		{name: "config invalid toml", setup: check(dev + "duration = \"1h\n"), code: 2, wantErr: bad(`:3: invalid TOML: strings cannot contain newlines`), exact: true},
		{name: "config unknown key", setup: check(dev + "durration = \"1h\"\n"), code: 2, wantErr: bad(`:3: profiles.dev.durration: unknown key; did you mean "duration"?`), exact: true},
		{name: "config duration too long", setup: check(dev + "duration = \"40h\"\n"), code: 2, wantErr: bad(`:3: profiles.dev.duration: "40h" is longer than 36h (STS allows 15m..36h)`), exact: true},
		{name: "config duration too short", setup: check(dev + "duration = \"10m\"\n"), code: 2, wantErr: bad(`:3: profiles.dev.duration: "10m" is shorter than 15m (STS allows 15m..36h)`), exact: true},
		{name: "config duration not a string", setup: check(dev + "duration = 3600\n"), code: 2, wantErr: bad(`:3: profiles.dev.duration: must be a duration string such as "12h" or "90m", not an integer`), exact: true},
		{name: "config bad region", setup: check(dev + "region = \"mars-1\"\n"), code: 2, wantErr: bad(`:3: profiles.dev.region: "mars-1" is not an AWS region name`)},
		{name: "config bad mode", setup: check(dev + "mode = \"nope\"\n"), code: 2, wantErr: bad(`:3: profiles.dev.mode: "nope" is not a mode; use "session" (GetSessionToken), "federation" (GetFederationToken) or "role" (AssumeRole)`), exact: true},
		{name: "config federation without permissions", setup: check(dev + "mode = \"federation\"\n"), code: 2, wantErr: bad(`:1: profiles.dev: a federation profile needs policy, policy_file or policy_arns`)},
		{name: "config non-loopback listener", setup: check(dev + "imds_listen = \"0.0.0.0:9912\"\n"), code: 2, wantErr: bad(`:3: profiles.dev.imds_listen: "0.0.0.0:9912" is not a loopback address`)},
		{name: "config mfa_serial in federation mode", setup: check(dev + "mode = \"federation\"\npolicy_arns = [\"arn:aws:iam::aws:policy/ReadOnlyAccess\"]\nmfa_serial = \"arn:aws:iam::123456789012:mfa/alice\"\n"), code: 2, wantErr: bad(`:5: profiles.dev.mfa_serial: belongs to session and role modes, but this profile uses federation mode`)},
		{name: "config no source_profile", setup: check("[profiles.dev]\nduration = \"1h\"\n"), code: 2, wantErr: bad(`:1: profiles.dev.source_profile: missing: name the AWS profile that holds the IAM user's long-term key`)},
		{name: "config missing policy_file", setup: check(dev + "mode = \"federation\"\npolicy_file = \"/nonexistent/policy.json\"\n"), code: 2, wantErr: bad(`:4: profiles.dev.policy_file: /nonexistent/policy.json does not exist; create it or fix the path`), exact: true},
		{name: "config policy not json", setup: check(dev + "mode = \"federation\"\npolicy = \"{not json\"\n"), code: 2, wantErr: bad(`:4: profiles.dev.policy: the policy is not valid JSON`)},
		{name: "config federated name with a space", setup: check(dev + "mode = \"federation\"\nname = \"bad name!\"\npolicy_arns = [\"arn:aws:iam::aws:policy/ReadOnlyAccess\"]\n"), code: 2, wantErr: bad(`:4: profiles.dev.name: "bad name!" contains ' ', which STS does not allow in a federated user name`)},
		{name: "config bad profile name", setup: check("[profiles.\"bad/name\"]\nsource_profile = \"src\"\n"), code: 2, wantErr: bad(`:1: profiles."bad/name": invalid profile name`)},
		{name: "config listener clash", setup: check("[ecs]\nlisten = \"127.0.0.1:9911\"\n" + dev + "imds_listen = \"127.0.0.1:9911\"\n"), code: 2, wantErr: bad(`:5: profiles.dev.imds_listen: port 9911 is already used by ecs.listen (line 2)`)},
		{name: "config utf-16", setup: check("\xff\xfe[\x00p\x00]\x00"), code: 2, wantErr: bad(`:1: invalid TOML: files cannot contain NULL bytes; probably using UTF-16; TOML files must be UTF-8`), exact: true},
		{name: "config world-writable", setup: func(t *testing.T, w *world) []string {
			p := badConfig(t, w, dev)
			os.Chmod(p, 0o666)
			return []string{"stsd", "check", "--config", p}
		}, code: 2, wantErr: "is group- and world-writable (mode 0666), so others could change what stsd does; run: chmod go-w " + bad("")},
		{name: "config credentials file readable by others", setup: func(t *testing.T, w *world) []string {
			creds := filepath.Join(w.dir, "creds-open")
			writeFile(t, creds, "[src]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = x\n")
			os.Chmod(creds, 0o644)
			return []string{"stsd", "check", "--config", badConfig(t, w, "credentials_file = \""+creds+"\"\n"+dev)}
		}, code: 2, wantErr: "holds secrets but is accessible to group and others (mode 0644); run: chmod 0600 "},
		{name: "config missing", args: []string{"stsd", "check", "--config", "/nonexistent/stsd.toml"}, code: 2, wantErr: "/nonexistent/stsd.toml: the config file does not exist; create it (see the sample in the README) or pass --config", exact: true},
		{name: "config is a directory", args: []string{"stsd", "check", "--config", "/"}, code: 2, wantErr: "/: is a directory; pass the path of the config file", exact: true},
		{name: "run with a bad config", setup: runWith(dev + "duration = \"40h\"\n"), code: 2, wantErr: bad(`:3: profiles.dev.duration: "40h" is longer than 36h (STS allows 15m..36h)`), exact: true},
		{name: "run with a bad log level", args: []string{"stsd", "run", "--log-level", "loud"}, code: 2, wantErr: `stsd run: --log-level "loud": use debug, info, warn or error`, exact: true},
		{name: "run with a bad log format", args: []string{"stsd", "run", "--log-format", "xml"}, code: 2, wantErr: `stsd run: --log-format "xml": use text or json`, exact: true},

		// Command-line arguments: exit 2 with what to type instead.
		{name: "cli unknown command", args: []string{"stsd", "frobnicate"}, code: 2, wantErr: "stsd: unknown command \"frobnicate\": run `stsd help` for the list", exact: true},
		{name: "cli unknown flag", args: []string{"stsd", "status", "--nope"}, code: 2, wantErr: "stsd status: flag provided but not defined: -nope: run `stsd status -h` for usage", exact: true},
		{name: "cli refresh without a profile", args: []string{"stsd", "refresh"}, code: 2, wantErr: "stsd refresh: give exactly one profile: stsd refresh PROFILE", exact: true},
		{name: "cli clear with two profiles", args: []string{"stsd", "clear", "dev", "fresh"}, code: 2, wantErr: "stsd clear: give exactly one profile: stsd clear PROFILE", exact: true},
		{name: "cli mfa code too short", args: []string{"stsd", "mfa", "dev", "12"}, code: 2, wantErr: "stsd mfa: an MFA code is 6 digits", exact: true},
		{name: "cli mfa code with letters", args: []string{"stsd", "mfa", "dev", "12ab56"}, code: 2, wantErr: "stsd mfa: an MFA code is 6 digits", exact: true},
		{name: "cli mfa without a profile", args: []string{"stsd", "mfa"}, code: 2, wantErr: "stsd mfa: usage: stsd mfa PROFILE [CODE]", exact: true},
		{name: "cli exec without --", args: []string{"stsd", "exec", "dev", "true"}, code: 2, wantErr: "stsd exec: usage: stsd exec PROFILE -- COMMAND [ARG…]", exact: true},
		{name: "cli credential-process without --profile", args: []string{"stsd", "credential-process"}, code: 2, wantErr: "stsd credential-process: usage: stsd credential-process --profile PROFILE", exact: true},
		{name: "cli env with an unknown format", args: []string{"stsd", "env", "dev", "--format", "csh"}, code: 2, wantErr: "stsd env: usage: stsd env PROFILE [--format sh|fish|powershell|json]", exact: true},
		{name: "cli install with an unknown init", args: []string{"stsd", "install", "--init", "upstart", "--dry-run"}, code: 2, wantErr: `stsd install: --init "upstart": use systemd, launchd or windows`, exact: true},
		{name: "cli install user and system", args: []string{"stsd", "install", "--user", "--system", "--dry-run"}, code: 2, wantErr: "stsd install: --user and --system exclude each other", exact: true},
		{name: "cli configure-profile with nothing", args: []string{"stsd", "configure-profile"}, code: 2, wantErr: "stsd configure-profile: give profile names or --all: stsd configure-profile PROFILE… | --all", exact: true},
		{name: "cli small binary without --profile", args: []string{"stsd-credential-process"}, code: 2, wantErr: "stsd-credential-process: --profile is required; usage: stsd-credential-process --profile P", exact: true},
		{name: "cli small binary --profile without a value", args: []string{"stsd-credential-process", "--profile"}, code: 2, wantErr: "stsd-credential-process: flag needs an argument: -profile; usage: stsd-credential-process --profile P", exact: true},
		{name: "cli small binary extra argument", args: []string{"stsd-credential-process", "--profile", "dev", "x"}, code: 2, wantErr: `stsd-credential-process: unexpected argument "x"; usage: stsd-credential-process --profile P`, exact: true},
		{name: "cli status with an extra argument", args: []string{"stsd", "status", "extra"}, code: 2, wantErr: "stsd status: unexpected argument \"extra\": it takes no arguments (run `stsd status -h`)", exact: true},
		{name: "cli check with an extra argument", args: []string{"stsd", "check", "extra"}, code: 2, wantErr: "stsd check: unexpected argument \"extra\": it takes no arguments (run `stsd check -h`)", exact: true},

		// Runtime failures: exit 1.
		{name: "runtime status with no daemon", args: []string{"stsd", "status"}, code: 1, wantErr: "stsd status: no stsd daemon is running (tried "},
		{name: "runtime refresh with no daemon", args: []string{"stsd", "refresh", "dev"}, code: 1, wantErr: "stsd refresh: no stsd daemon is running (tried "},
		{name: "runtime unknown profile", args: []string{"stsd-credential-process", "--profile", "nope"}, code: 1, wantErr: `stsd credential-process: profile "nope" is not in ` + cfgPath + ": add [profiles.nope] or fix the --profile argument", exact: true},
		{name: "runtime recursion guard", args: []string{"stsd-credential-process", "--profile", "dev"}, env: []string{"STSD_RESOLVING=1"}, code: 1, wantErr: "stsd-credential-process: STSD_RESOLVING is set: a source profile's credential_process points back at stsd; give the source profile a long-term key", exact: true},
		{name: "runtime source profile missing", setup: func(t *testing.T, w *world) []string {
			return []string{"stsd", "credential-process", "--profile", "x", "--config", badConfig(t, w, "[profiles.x]\nsource_profile = \"nosuch\"\n")}
		}, code: 1, wantErr: `stsd credential-process: source profile "nosuch" not found in `},

		// Cache directories stsd must not use: exit 1, the entry kept.
		{name: "cache dir open to others", setup: otherCacheDir(func(t *testing.T, d string) { mkdir(t, d); os.Chmod(d, 0o755) }), code: 1, wantErr: "is mode 0755, must not be group- or world-accessible: run chmod 700 "},
		{name: "cache dir is a file", setup: otherCacheDir(func(t *testing.T, d string) { writeFile(t, d, "") }), code: 1, wantErr: "stsd credential-process: open cache: mkdir " + filepath.Join(w.dir, "xc", "stsd") + ": not a directory", exact: true},
		{name: "cache dir owned by another user", setup: otherCacheDir(func(t *testing.T, d string) {
			if os.Getuid() != 0 {
				t.Skip("needs root to chown")
			}
			mkdir(t, d)
			os.Chown(d, 65534, 65534)
		}), code: 1, wantErr: "is owned by uid 65534, not 0: run chown 0 "},

		// STS refusals and broken answers, with no daemon: exit 1 and one
		// line; nothing is written for fresh.
		{name: "sts access denied", setup: stsFault(ststest.FaultAccessDenied), code: 1, wantErr: "stsd credential-process: GetSessionToken: AccessDenied: User: arn:aws:iam::123456789012:user/alice is not authorized to perform: sts:GetSessionToken", exact: true},
		{name: "sts deleted key", setup: stsFault(ststest.FaultInvalidClientTokenId), code: 1, wantErr: "stsd credential-process: GetSessionToken: InvalidClientTokenId: The security token included in the request is invalid.: the long-term key of source profile \"src\" is unknown to AWS (deleted or rotated?): update it, then `stsd refresh fresh`", exact: true},
		{name: "sts throttling", setup: stsFault(ststest.FaultThrottling), code: 1, wantErr: "stsd credential-process: GetSessionToken: Throttling: Rate exceeded", exact: true},
		{name: "sts 500", setup: stsFault(ststest.FaultServerError), code: 1, wantErr: "stsd credential-process: GetSessionToken: InternalFailure: The request processing has failed because of an unknown error, exception or failure.", exact: true},
		{name: "sts 503", setup: stsFault(ststest.FaultUnavailable), code: 1, wantErr: "stsd credential-process: GetSessionToken: ServiceUnavailable: The request has failed due to a temporary failure of the server.", exact: true},
		{name: "sts malformed xml", setup: stsFault(ststest.FaultMalformed), code: 1, wantErr: "stsd credential-process: GetSessionToken: malformed response from STS", exact: true},
		{name: "sts connection reset", setup: stsFault(ststest.FaultReset), code: 1, wantErr: "stsd credential-process: GetSessionToken: network error: "},
		{name: "sts expired credentials", setup: stsFault(ststest.FaultExpired), code: 1, wantErr: "stsd credential-process: STS returned credentials that are already expired: check this host's clock", exact: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skip != "" {
				t.Skip(tt.skip)
			}
			saved := w.env
			w.env = append(append([]string(nil), w.env...), tt.env...)
			t.Cleanup(func() { w.env = saved })
			args := tt.args
			if tt.setup != nil {
				args = tt.setup(t, w)
			}
			before := sts.Calls()
			out, errOut, code := w.run(t, args[0], args[1:]...)
			line := strings.TrimSpace(errOut)
			if code != tt.code {
				t.Errorf("%s: exit %d; want %d (stderr %q)", strings.Join(args, " "), code, tt.code, line)
			}
			if strings.Contains(line, "\n") || line == "" {
				t.Errorf("stderr is not one line:\n%s", errOut)
			}
			if tt.exact && line != tt.wantErr || !strings.Contains(line, tt.wantErr) {
				t.Errorf("stderr = %q\nwant %s %q", line, map[bool]string{true: "exactly", false: "containing"}[tt.exact], tt.wantErr)
			}
			if out != "" {
				t.Errorf("stdout = %.80q; want nothing on a failure", out)
			}
			if n := sts.Calls() - before; n > 1 {
				t.Errorf("%d STS calls; want at most one", n)
			}

			// Nothing lost.
			w.env = saved
			if !bytes.Equal(readFile(t, entryPath), entry) {
				t.Error("dev's cache entry changed")
			}
			if !bytes.Equal(readFile(t, cfgPath), cfgBytes) {
				t.Error("the config file changed")
			}
			if _, err := os.Stat(filepath.Join(cacheDir, "fresh.json")); err == nil {
				t.Error("a cache entry was written for fresh")
			}
			calls := sts.Calls()
			if got, errOut, code := w.run(t, "stsd-credential-process", "--profile", "dev"); code != 0 || got != devCreds || sts.Calls() != calls {
				t.Errorf("after the bad input: credential_process dev = exit %d, same credentials %v, %d STS calls (%s)", code, got == devCreds, sts.Calls()-calls, errOut)
			}
		})
	}

	// Once the faults are gone, fresh is fetched with one call.
	calls := sts.Calls()
	if _, errOut, code := w.run(t, "stsd-credential-process", "--profile", "fresh"); code != 0 || sts.Calls() != calls+1 {
		t.Errorf("fresh after the faults: exit %d, %d calls (%s)", code, sts.Calls()-calls, errOut)
	}
}

// TestCorruptCacheEntriesReplaced: cache entries that cannot be used are
// never an error: each is ignored and replaced (one STS call), and the
// client gets credentials.
func TestCorruptCacheEntriesReplaced(t *testing.T) {
	sts := ststest.NewServer(t, ststest.Options{})
	w := newWorld(t, sts.URL, badInputConfig)
	entryPath := filepath.Join(w.dir, "h", ".cache", "stsd", "dev.json")
	if _, errOut, code := w.run(t, "stsd-credential-process", "--profile", "dev"); code != 0 {
		t.Fatalf("first run: %d %s", code, errOut)
	}
	good := readFile(t, entryPath)
	tests := []struct {
		name     string
		plant    func(t *testing.T)
		keepsBad bool // the bad thing cannot be replaced (a directory): every run fetches
	}{
		{name: "truncated json", plant: func(t *testing.T) { writeFile(t, entryPath, string(good[:len(good)/2])) }},
		{name: "empty file", plant: func(t *testing.T) { writeFile(t, entryPath, "") }},
		{name: "another format version", plant: func(t *testing.T) {
			writeFile(t, entryPath, strings.Replace(string(good), `"version": 1`, `"version": 9`, 1))
		}},
		{name: "made for another profile", plant: func(t *testing.T) {
			writeFile(t, entryPath, strings.Replace(string(good), `"profile": "dev"`, `"profile": "fresh"`, 1))
		}},
		{name: "no expiration", plant: func(t *testing.T) {
			writeFile(t, entryPath, strings.Replace(string(good), `"Expiration"`, `"Expired"`, 1))
		}},
		{name: "readable by others", plant: func(t *testing.T) { writeFile(t, entryPath, string(good)); os.Chmod(entryPath, 0o644) }},
		{name: "a symlink", plant: func(t *testing.T) {
			target := filepath.Join(w.dir, "elsewhere.json")
			writeFile(t, target, string(good))
			os.Remove(entryPath)
			if err := os.Symlink(target, entryPath); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "a directory", plant: func(t *testing.T) { os.Remove(entryPath); mkdir(t, entryPath) }, keepsBad: true},
		{name: "larger than 1 MiB", plant: func(t *testing.T) { writeFile(t, entryPath, string(good)+strings.Repeat(" ", 1<<20)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.RemoveAll(entryPath)
			writeFile(t, entryPath, string(good))
			tt.plant(t)
			t.Cleanup(func() { os.RemoveAll(entryPath) })
			calls := sts.Calls()
			out, errOut, code := w.run(t, "stsd-credential-process", "--profile", "dev")
			if code != 0 || !strings.HasPrefix(out, `{"Version":1,`) || errOut != "" {
				t.Fatalf("credential_process with a bad entry: exit %d, stderr %q", code, errOut)
			}
			if sts.Calls() != calls+1 {
				t.Errorf("%d STS calls; want 1 (the entry replaced)", sts.Calls()-calls)
			}
			if tt.keepsBad {
				if _, _, code := w.run(t, "stsd-credential-process", "--profile", "dev"); code != 0 {
					t.Errorf("second run: exit %d", code)
				}
				return
			}
			fi, err := os.Lstat(entryPath)
			if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
				t.Fatalf("entry after the run: %v %v; want a 0600 file", fi, err)
			}
			if out2, _, _ := w.run(t, "stsd-credential-process", "--profile", "dev"); out2 != out || sts.Calls() != calls+1 {
				t.Error("the replaced entry is not served")
			}
		})
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestNoDaemonKeepsValidEntryWhenSTSFails: with no daemon, an entry in its
// last 15 minutes sends credential_process to STS (clients re-fetch then);
// if STS fails, the entry is still valid and should be served rather than
// an error — as the daemon keeps serving the last credentials while valid.
func TestNoDaemonKeepsValidEntryWhenSTSFails(t *testing.T) {
	sts := ststest.NewServer(t, ststest.Options{})
	w := newWorld(t, sts.URL, badInputConfig)
	entryPath := filepath.Join(w.dir, "h", ".cache", "stsd", "dev.json")
	if _, errOut, code := w.run(t, "stsd-credential-process", "--profile", "dev"); code != 0 {
		t.Fatalf("first run: %d %s", code, errOut)
	}
	// Age the entry: issued 50 minutes ago, 10 minutes left.
	var e cache.Entry
	if err := json.Unmarshal(readFile(t, entryPath), &e); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	e.Issued, e.Credentials.Expiration = now.Add(-50*time.Minute), now.Add(10*time.Minute)
	store, err := cache.Open(filepath.Dir(entryPath))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Save(&e); err != nil {
		t.Fatal(err)
	}
	sts.FailAll(ststest.FaultUnavailable)
	out, errOut, code := w.run(t, "stsd-credential-process", "--profile", "dev")
	if code != 0 || !strings.Contains(out, e.Credentials.AccessKeyID) {
		t.Errorf("during an STS outage with 10 minutes left: exit %d %q; want the cached credentials", code, strings.TrimSpace(errOut))
	}
}
