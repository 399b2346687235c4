package credproc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stsd/stsd/cache"
	"github.com/stsd/stsd/internal/mfa"
	"github.com/stsd/stsd/internal/paths"
	"github.com/stsd/stsd/internal/wire"
)

// Exit codes: 0 ok, 1 a runtime failure, 2 a usage error.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

const prefix = "stsd-credential-process: "

// maxResponse caps a daemon reply: a credential document is ~1.5 KiB.
const maxResponse = 64 << 10

// Options configure Run. Zero values mean the defaults.
type Options struct {
	// Profile is the stsd profile to print credentials for.
	Profile string
	// Sockets are the control sockets to ask, in order; nil means
	// paths.Layout{}.Sockets() (the user socket, then the system one).
	Sockets []string
	// ReadyDir holds the ready files the user daemon keeps for this user
	// (paths.Layout.ReadyDir); "" means paths.Layout{}.ReadyDir() when
	// Sockets is nil too, else none: a caller that picks its sockets
	// picks their ready directory too.
	ReadyDir string
	// CacheDir is the cache directory; "" means paths.Layout{}.CacheDir().
	CacheDir string
	// Stsd is the full stsd binary to exec as the last resort; "" means
	// "stsd" (".exe" on Windows) next to this executable, else on PATH.
	Stsd string
	// Stdout receives the credential JSON and nothing else; Stderr one
	// line per problem. nil means os.Stdout / os.Stderr.
	Stdout, Stderr io.Writer
	// Now is the clock for cache expiry checks; nil means time.Now.
	Now func() time.Time
	// Exec runs the full stsd: argv is the whole argument vector (argv[0]
	// is path) and env the environment. It returns the exit code. nil means
	// syscall.Exec on unix (replaces this process; returns 1 only when exec
	// fails) and run-and-wait with stdio passed through on Windows.
	Exec func(path string, argv, env []string) int
	// Prompt asks for an MFA code with the named mfa_prompt backend;
	// default mfa.Ask (terminal or desktop dialog, never stdout).
	Prompt func(ctx context.Context, backend, profile string) (string, error)
	// Fallback, when set, replaces finding and exec'ing stsd: the full
	// binary passes its own direct STS fetch here.
	Fallback func(ctx context.Context) int
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// DialTimeout bounds connecting to and writing to a socket; 0 means 1s.
	DialTimeout time.Duration
	// ResponseTimeout bounds waiting for the daemon's reply, which may wait
	// (bounded) for a refresh in flight; 0 means 20s. A daemon that does
	// not answer in time is skipped like an absent one.
	ResponseTimeout time.Duration
}

func (o *Options) setDefaults() {
	if o.Sockets == nil {
		o.Sockets = paths.Layout{}.Sockets()
		if o.ReadyDir == "" {
			o.ReadyDir = paths.Layout{}.ReadyDir()
		}
	}
	if o.CacheDir == "" {
		o.CacheDir, _ = paths.Layout{}.CacheDir() // no cache dir: skip the cache
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Exec == nil {
		stderr := o.Stderr
		o.Exec = func(path string, argv, env []string) int { return execStsd(stderr, path, argv, env) }
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = time.Second
	}
	if o.Prompt == nil {
		o.Prompt = func(ctx context.Context, backend, profile string) (string, error) {
			return mfa.Ask(ctx, backend, mfa.Options{Profile: profile})
		}
	}
	if o.ResponseTimeout <= 0 {
		o.ResponseTimeout = 20 * time.Second
	}
}

// Run is the whole credential_process client and returns the exit code:
// it prints the user daemon's ready file when that is fresh and
// trustworthy, else asks each daemon socket, then reads the cache, then
// execs `stsd credential-process --profile P`.
// Stdout gets the credential JSON or nothing.
func Run(ctx context.Context, o Options) int {
	o.setDefaults()
	// stsd sets STSD_RESOLVING while it runs a source profile's
	// credential_process: reaching us then means that source points back
	// at stsd, which would loop forever.
	if o.Getenv(wire.ResolvingEnv) != "" {
		return o.fail(wire.ResolvingEnv + " is set: a source profile's credential_process points back at stsd; give the source profile a long-term key")
	}
	if o.Profile == "" {
		fmt.Fprintln(o.Stderr, prefix+"no profile: usage: stsd-credential-process --profile P")
		return exitUsage
	}
	if doc, ok := o.fromReady(); ok {
		return o.write(doc)
	}
	for _, sock := range o.Sockets {
		r, err := ask(ctx, sock, o, o.credentialsRequest())
		if errors.Is(err, errUnavailable) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return o.fail("interrupted")
			}
			return o.fail(err.Error())
		}
		switch r.status {
		case 200:
			if !json.Valid(r.body) || !bytes.HasPrefix(bytes.TrimSpace(r.body), []byte("{")) {
				return o.fail(fmt.Sprintf("daemon at %s sent a malformed credential document", sock))
			}
			return o.write(r.body)
		case 404: // this daemon does not serve the profile
			continue
		case 409:
			if e := wire.DecodeError(r.body); e.Code == wire.CodeNeedsMFA {
				return o.mfa(ctx, sock, e)
			}
			return o.fail(daemonError(sock, o.Profile, r))
		default:
			return o.fail(daemonError(sock, o.Profile, r))
		}
	}
	if c, ok := o.fromCache(); ok {
		return o.write(wire.Marshal(c))
	}
	if ctx.Err() != nil {
		return o.fail("interrupted")
	}
	if o.Fallback != nil {
		return o.Fallback(ctx)
	}
	stsd := o.Stsd
	if stsd == "" {
		var ok bool
		if stsd, ok = findStsd(); !ok {
			exe, _ := os.Executable()
			return o.fail(fmt.Sprintf("no daemon serves profile %s and the stsd binary was not found: install stsd next to %s or put it on PATH", o.Profile, exe))
		}
	}
	return o.Exec(stsd, []string{stsd, "credential-process", "--profile", o.Profile}, os.Environ())
}

func (o *Options) fail(msg string) int {
	fmt.Fprintln(o.Stderr, prefix+oneLine(msg))
	return exitFailure
}

func (o *Options) write(doc []byte) int {
	if _, err := o.Stdout.Write(doc); err != nil {
		return o.fail("write credentials: " + err.Error())
	}
	return exitOK
}

// fromCache returns the cached credentials when the entry is for this
// profile, was made from files that are unchanged, and has more than
// wire.MinRemaining left. It never writes: a missing cache directory is
// not created, and bad entries are left for stsd to replace.
func (o *Options) fromCache() (wire.Credentials, bool) {
	if o.CacheDir == "" {
		return wire.Credentials{}, false
	}
	e, err := cache.Peek(o.CacheDir, o.Profile)
	if err != nil || e.Profile != o.Profile {
		return wire.Credentials{}, false
	}
	lifetime := e.Lifetime()
	if lifetime <= 0 {
		return wire.Credentials{}, false
	}
	if e.Remaining(o.Now()) <= wire.MinRemaining(lifetime) {
		return wire.Credentials{}, false
	}
	if !e.FilesMatch() {
		return wire.Credentials{}, false
	}
	return e.Credentials, true
}

// findStsd looks for the full binary next to this executable, then on PATH.
func findStsd() (string, bool) {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), stsdName)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, true
		}
	}
	if p, err := exec.LookPath("stsd"); err == nil {
		return p, true
	}
	return "", false
}

// errUnavailable means "no usable daemon at this socket": try the next one.
var errUnavailable = errors.New("daemon unavailable")

// errUntrusted marks a socket another user could have planted (dialDaemon
// checks its directory on Windows): skipped like an absent daemon, with a
// note on stderr.
var errUntrusted = errors.New("skipping untrusted socket")

type reply struct {
	status int
	body   []byte
}

// ask sends the one request the control API needs as raw HTTP/1.0 (no
// net/http: it would cost ~0.3 ms of a ~2 ms run) and reads the reply.
func ask(ctx context.Context, sock string, o Options, req string) (reply, error) {
	conn, err := dialDaemon(ctx, sock, o.DialTimeout)
	if err != nil {
		// ENOENT, ECONNREFUSED, EACCES, a timeout, or anything else that
		// stops a connection: there is no daemon we can use there.
		if ctx.Err() != nil {
			return reply{}, ctx.Err()
		}
		if errors.Is(err, errUntrusted) {
			fmt.Fprintln(o.Stderr, prefix+oneLine(err.Error()))
		}
		return reply{}, errUnavailable
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, req); err != nil {
		return reply{}, errUnavailable
	}
	conn.setReadTimeout(o.ResponseTimeout)
	cr := &countReader{r: conn}
	r, err := parseResponse(cr)
	switch {
	case err == nil:
		return r, nil
	case ctx.Err() != nil:
		return reply{}, ctx.Err()
	case errors.Is(err, os.ErrDeadlineExceeded):
		return reply{}, errUnavailable // slow daemon: as good as none
	case cr.n == 0:
		return reply{}, errUnavailable // closed without a word (daemon stopping)
	default:
		return reply{}, fmt.Errorf("daemon at %s sent a malformed reply: %w", sock, err)
	}
}

// daemonConn is a connection to a daemon's control socket.
type daemonConn interface {
	io.ReadWriteCloser
	// setReadTimeout bounds each read from now on; a read that times out
	// returns an error matching os.ErrDeadlineExceeded.
	setReadTimeout(d time.Duration)
}

type countReader struct {
	r io.Reader
	n int
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// parseResponse reads an HTTP/1.x reply: status line, headers, and a body
// of Content-Length bytes or up to EOF, all within maxResponse bytes.
func parseResponse(r io.Reader) (reply, error) {
	lr := &countReader{r: io.LimitReader(r, maxResponse+1)}
	br := bufio.NewReader(lr)
	line, err := readLine(br)
	if err != nil {
		return reply{}, err
	}
	proto, rest, _ := strings.Cut(line, " ")
	if proto != "HTTP/1.0" && proto != "HTTP/1.1" {
		return reply{}, errors.New("not an HTTP/1 status line")
	}
	code, _, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if err != nil || len(code) != 3 || status < 100 {
		return reply{}, errors.New("bad status code")
	}
	length := -1
	for {
		h, err := readLine(br)
		if err != nil {
			return reply{}, err
		}
		if h == "" {
			break
		}
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			return reply{}, errors.New("bad header line")
		}
		if strings.EqualFold(strings.TrimSpace(k), "Content-Length") {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 || n > maxResponse {
				return reply{}, errors.New("bad Content-Length")
			}
			length = n
		}
	}
	var body []byte
	if length >= 0 {
		body = make([]byte, length)
		if _, err := io.ReadFull(br, body); err != nil {
			return reply{}, fmt.Errorf("short body: %w", err)
		}
	} else {
		body, err = io.ReadAll(br)
		if err != nil {
			return reply{}, err
		}
	}
	if lr.n > maxResponse {
		return reply{}, errors.New("reply larger than 64 KiB")
	}
	return reply{status: status, body: body}, nil
}

// readLine reads one CRLF- (or LF-) terminated line without its ending.
func readLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		if errors.Is(err, io.EOF) {
			return "", io.ErrUnexpectedEOF
		}
		return "", err
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
}

// daemonError is the one line for a final non-200 reply: the daemon's
// Message (it never holds a secret).
func daemonError(sock, profile string, r reply) string {
	e := wire.DecodeError(r.body)
	if e.Message == "" {
		return fmt.Sprintf("daemon at %s answered %d for profile %s", sock, r.status, profile)
	}
	return e.Message
}

func (o *Options) credentialsRequest() string {
	return "GET " + wire.PathCredentials + escapePath(o.Profile) + " HTTP/1.0\r\nHost: stsd\r\n\r\n"
}

// mfa answers the daemon's needs-mfa: it asks the person with the
// profile's mfa_prompt backend (never on stdout), hands the code to the
// daemon, which refreshes with it before replying, then fetches the
// credentials.
func (o *Options) mfa(ctx context.Context, sock string, e wire.Error) int {
	code, err := o.Prompt(ctx, e.MFAPrompt, o.Profile)
	if err != nil {
		return o.fail(e.Message + ": " + err.Error())
	}
	post := "POST " + wire.PathMFA + escapePath(o.Profile) + " HTTP/1.0\r\nHost: stsd\r\nContent-Type: text/plain\r\nContent-Length: " +
		strconv.Itoa(len(code)) + "\r\n\r\n" + code
	r, err := ask(ctx, sock, *o, post)
	if err != nil {
		return o.fail("send the MFA code to the daemon: " + err.Error())
	}
	if r.status != 200 {
		return o.fail(daemonError(sock, o.Profile, r))
	}
	r, err = ask(ctx, sock, *o, o.credentialsRequest())
	if err != nil {
		return o.fail("fetch credentials after the MFA code: " + err.Error())
	}
	if r.status != 200 || !json.Valid(r.body) {
		return o.fail(daemonError(sock, o.Profile, r))
	}
	return o.write(r.body)
}

// oneLine turns control characters into spaces and caps the length, so an
// error is exactly one stderr line.
func oneLine(s string) string {
	const maxLen = 1000
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > maxLen {
		s = s[:maxLen] + "…"
	}
	return s
}

// escapePath percent-encodes everything but RFC 3986 unreserved characters,
// so any profile name is one path segment ("/" becomes %2F).
func escapePath(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
