package config

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stsd/stsd/config/internal/tomlpos"
	"github.com/stsd/stsd/internal/atomicfile"
)

// The broker client commands (`stsd broker add-client` …) edit the config
// file in place: only the bytes of one [broker.clients.NAME] table change;
// every other byte, comment and the order of everything stay.

// Errors of the broker client edits.
var (
	ErrNoBroker     = errors.New("the config has no [broker] section")
	ErrClientExists = errors.New("broker client already exists")
	ErrNoClient     = errors.New("no such broker client")
	// ErrNotEditable: the client is written in a form the editor does not
	// rewrite (dotted keys, an inline table); edit it by hand.
	ErrNotEditable = errors.New("broker client is not written as its own [broker.clients.NAME] table")
)

// AddBrokerClient returns data with a new [broker.clients.NAME] table
// holding tokenSHA256 (64 lowercase hex digits), profiles and cidrs
// (omitted when empty). It goes after the last table under [broker], so
// clients stay together. data must be valid TOML.
func AddBrokerClient(data []byte, name, tokenSHA256 string, profiles []string, cidrs []netip.Prefix) ([]byte, error) {
	if err := checkClientArgs(name, tokenSHA256); err != nil {
		return nil, err
	}
	if len(profiles) == 0 {
		return nil, errors.New("list at least one profile")
	}
	for _, p := range profiles {
		if !isProfileName(p) {
			return nil, fmt.Errorf("%q is not a profile name", p)
		}
	}
	items, err := scanTOML(data)
	if err != nil {
		return nil, err
	}
	at, broker := -1, false
	for i, it := range items {
		if len(it.Path) > 0 && it.Path[0] == "broker" {
			broker = true
		}
		if len(it.Path) >= 3 && it.Path[0] == "broker" && it.Path[1] == "clients" && it.Path[2] == name {
			return nil, fmt.Errorf("%w: %s", ErrClientExists, name)
		}
		if it.Header && !it.Array && it.Path[0] == "broker" {
			at = bodyEnd(items, i)
		}
	}
	if !broker {
		return nil, ErrNoBroker
	}
	if at < 0 { // [broker] only as dotted keys: append
		at = len(data)
	}
	nl := newline(data)
	var b strings.Builder
	b.WriteString(breakAt(data, at))
	b.WriteString(nl)
	fmt.Fprintf(&b, "[broker.clients.%s]%s", tomlKey(name), nl)
	fmt.Fprintf(&b, "token_sha256 = %q%s", tokenSHA256, nl)
	fmt.Fprintf(&b, "profiles = %s%s", tomlStrings(profiles), nl)
	if len(cidrs) > 0 {
		ss := make([]string, len(cidrs))
		for i, c := range cidrs {
			ss[i] = c.String()
		}
		fmt.Fprintf(&b, "allowed_cidrs = %s%s", tomlStrings(ss), nl)
	}
	return slices.Concat(data[:at], []byte(b.String()), data[at:]), nil
}

// SetBrokerClientToken returns data with client name's token_sha256
// replaced (only the quoted value changes; a comment after it stays).
func SetBrokerClientToken(data []byte, name, tokenSHA256 string) ([]byte, error) {
	if err := checkClientArgs(name, tokenSHA256); err != nil {
		return nil, err
	}
	items, h, err := clientTable(data, name)
	if err != nil {
		return nil, err
	}
	value := fmt.Appendf(nil, "%q", tokenSHA256)
	for _, it := range items[h+1 : bodyIndex(items, h)] {
		if len(it.Key) == 1 && it.Key[0] == "token_sha256" {
			if q := data[it.ValStart]; (q != '"' && q != '\'') || bytes.HasPrefix(data[it.ValStart:], []byte(`"""`)) || bytes.HasPrefix(data[it.ValStart:], []byte(`'''`)) {
				return nil, fmt.Errorf("%w: its token_sha256 is not a one-line string", ErrNotEditable)
			}
			return slices.Concat(data[:it.ValStart], value, data[it.ValEnd:]), nil
		}
	}
	// No token yet (the config would not load): add it under the header.
	line := slices.Concat([]byte("token_sha256 = "), value, []byte(newline(data)))
	at := items[h].End
	return slices.Concat(data[:at], []byte(breakAt(data, at)), line, data[at:]), nil
}

// RemoveBrokerClient returns data without client name's table: its header
// and every line up to its last key. Comments and blank lines after that
// (they usually belong to what follows) stay; one blank line left doubled
// is dropped.
func RemoveBrokerClient(data []byte, name string) ([]byte, error) {
	if err := checkClientName(name); err != nil {
		return nil, err
	}
	items, h, err := clientTable(data, name)
	if err != nil {
		return nil, err
	}
	start, end := items[h].Start, bodyEnd(items, h)
	before, after := data[:start], data[end:]
	if endsWithBlankLine(before) && (len(after) == 0 || after[0] == '\n' || bytes.HasPrefix(after, []byte("\r\n"))) {
		before = bytes.TrimSuffix(before, []byte("\n"))
		before = bytes.TrimSuffix(before, []byte("\r"))
	}
	return slices.Concat(before, after), nil
}

func endsWithBlankLine(b []byte) bool {
	return bytes.HasSuffix(b, []byte("\n\n")) || bytes.HasSuffix(b, []byte("\n\r\n"))
}

func checkClientName(name string) error {
	if !isName(name, 2, 32) {
		return fmt.Errorf("%q is not a broker client name (2..32 of letters, digits and _+=,.@-)", name)
	}
	return nil
}

func checkClientArgs(name, tokenSHA256 string) error {
	if err := checkClientName(name); err != nil {
		return err
	}
	if !isLowerHex(tokenSHA256, 64) {
		return errors.New("a token hash is 64 lowercase hex digits")
	}
	return nil
}

// clientTable scans data and finds client name's [broker.clients.NAME]
// header: it returns the items and the header's index.
func clientTable(data []byte, name string) ([]tomlpos.Item, int, error) {
	items, err := scanTOML(data)
	if err != nil {
		return nil, -1, err
	}
	other := false
	for i, it := range items {
		if len(it.Path) < 3 || it.Path[0] != "broker" || it.Path[1] != "clients" || it.Path[2] != name {
			continue
		}
		if it.Header && !it.Array && len(it.Path) == 3 {
			return items, i, nil
		}
		other = true
	}
	if other {
		return nil, -1, fmt.Errorf("%w: %s", ErrNotEditable, name)
	}
	return nil, -1, fmt.Errorf("%w: %s", ErrNoClient, name)
}

// bodyIndex is the index of the first item after header h's table.
func bodyIndex(items []tomlpos.Item, h int) int {
	for i := h + 1; i < len(items); i++ {
		if items[i].Header {
			return i
		}
	}
	return len(items)
}

// bodyEnd is the offset just past header h's last key line (the header's
// own line when the table is empty).
func bodyEnd(items []tomlpos.Item, h int) int {
	end := items[h].End
	for _, it := range items[h+1 : bodyIndex(items, h)] {
		end = it.End
	}
	return end
}

// breakAt is the line ending to write before new lines inserted at offset
// at: none when a line starts there already.
func breakAt(data []byte, at int) string {
	if at > 0 && data[at-1] != '\n' {
		return newline(data)
	}
	return ""
}

// newline is the file's line ending: CRLF when its first line ends so.
func newline(data []byte) string {
	if i := bytes.IndexByte(data, '\n'); i > 0 && data[i-1] == '\r' {
		return "\r\n"
	}
	return "\n"
}

// tomlKey writes a key piece bare when TOML allows, else quoted. Client
// and profile names never hold a quote, a backslash or a control
// character (checked before).
func tomlKey(s string) string {
	if isBareKey(s) {
		return s
	}
	return `"` + s + `"`
}

func tomlStrings(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = `"` + s + `"`
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// scanTOML lists the headers and key/values of data, a valid TOML
// document, in file order.
func scanTOML(data []byte) ([]tomlpos.Item, error) {
	if _, err := tomlpos.Parse(data); err != nil {
		return nil, fmt.Errorf("invalid TOML: %w", err)
	}
	items, err := tomlpos.Scan(data)
	if err != nil {
		return nil, fmt.Errorf("cannot edit this file: %w", err)
	}
	return items, nil
}

// EditFile applies edit to the config file at path (through a symlink)
// and validates the result as Load would. Only a valid result is written,
// atomically (temporary file, fsync, rename) with the file's mode (and
// owner, when run as root); after the write the file is loaded again and,
// should that fail, the old bytes are put back. It returns the new config.
func EditFile(path string, o Options, edit func([]byte) ([]byte, error)) (*Config, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	old, err := os.ReadFile(real)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	data, err := edit(old)
	if err != nil {
		return nil, err
	}
	if _, err := Parse(path, data, o); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(real, data, atomicfile.Like(fi)); err != nil {
		return nil, fmt.Errorf("write the config file: %w", err)
	}
	cfg, err := Load(path, o)
	if err != nil {
		if rerr := atomicfile.Write(real, old, atomicfile.Like(fi)); rerr != nil {
			return nil, errors.Join(err, fmt.Errorf("restore the config file: %w", rerr))
		}
		return nil, err
	}
	return cfg, nil
}
