// Package opener opens a secret URL in the desktop's browser without
// putting it on any command line.
package opener

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/stsd/stsd/internal/atomicfile"
)

// pageLife is how long a page is kept: a console sign-in token works for
// 15 minutes, so an older page holds nothing of use.
const pageLife = 15 * time.Minute

// Options configure Open. Zero values mean defaults.
type Options struct {
	// Dir holds the pages; it is created 0700 when absent and must be
	// inside a directory only this user can write (the cache directory).
	Dir string
	// Command is the opener and its leading arguments; the page's path is
	// appended. Default: xdg-open, open on macOS, rundll32
	// url.dll,FileProtocolHandler on Windows.
	Command []string
	// Now is the clock for removing old pages; default time.Now.
	Now func() time.Time
}

// Open sends the browser to url. Any local user can read another's
// command lines (/proc/PID/cmdline, ps), so url never reaches one: it goes
// into a page that redirects to it, written owner-only to o.Dir, and the
// opener is run with that page's path. Pages older than the sign-in
// token's 15 minutes are removed first.
func Open(ctx context.Context, url string, o Options) error {
	if o.Dir == "" {
		return errors.New("opener: no directory for the page")
	}
	if len(o.Command) == 0 {
		o.Command = defaultCommand
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := privateDir(o.Dir); err != nil {
		return err
	}
	sweep(o.Dir, o.Now())
	page := filepath.Join(o.Dir, "console-"+rand.Text()+".html")
	if err := atomicfile.Write(page, Page(url), nil); err != nil {
		return fmt.Errorf("write the sign-in page: %w", err)
	}
	cmd := exec.CommandContext(ctx, o.Command[0], append(o.Command[1:], page)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(page)
		msg := strings.TrimSpace(string(out))
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		if msg != "" {
			return fmt.Errorf("%s: %v: %s", o.Command[0], err, msg)
		}
		return fmt.Errorf("%s: %v", o.Command[0], err)
	}
	return nil
}

// Page is the HTML that sends a browser to url at once, sending no
// Referer.
func Page(url string) []byte {
	u := html.EscapeString(url)
	return []byte("<!doctype html>\n<meta charset=\"utf-8\">\n<meta name=\"referrer\" content=\"no-referrer\">\n" +
		"<meta http-equiv=\"refresh\" content=\"0;url=" + u + "\">\n<title>stsd: AWS console</title>\n" +
		"<p><a href=\"" + u + "\" rel=\"noreferrer\">Open the AWS console</a></p>\n")
}

// privateDir makes dir (0700) and refuses a symlink or anything else
// that is not a directory others cannot reach.
func privateDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("page directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("page directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("page directory %s is not a directory (a symlink?): remove it", dir)
	}
	return checkOwner(dir, fi)
}

// sweep removes pages older than pageLife.
func sweep(dir string, now time.Time) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "console-") {
			continue
		}
		if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) > pageLife {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
