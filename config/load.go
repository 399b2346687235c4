package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/BurntSushi/toml"

	"github.com/stsd/stsd/config/internal/tomlpos"
	"github.com/stsd/stsd/internal/paths"
)

// Options tunes Load and Parse. The zero value is the per-user layout on this
// host.
type Options struct {
	Hostname string // for {hostname} in federation names; default os.Hostname()
	User     string // for {user} in role session and console names; default the current user's login name
	System   bool   // system layout: credentials file may be root:stsd 0640, no `~`
}

// Load reads, parses and validates the config file at path. On problems it
// returns a nil *Config and an Errors listing every problem found, in file
// order, each naming file:line and dotted key and saying what to do. The
// config file itself must be owned by the current user or root and not be
// group- or world-writable (not checked on Windows).
func Load(path string, o Options) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		msg := fmt.Sprintf("cannot read the config file: %v", unwrapPath(err))
		if errors.Is(err, fs.ErrNotExist) {
			msg = "the config file does not exist; create it (see the sample in the README) or pass --config"
		}
		return nil, Errors{{File: path, Msg: msg, Err: err}}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("cannot stat the config file: %v", unwrapPath(err)), Err: err}}
	}
	if fi.IsDir() {
		return nil, Errors{{File: path, Msg: "is a directory; pass the path of the config file"}}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("cannot read the config file: %v", unwrapPath(err)), Err: err}}
	}
	p := newParser(path, data, o)
	for _, msg := range checkFileInfo(absPath(path), fi, kindConfig, o.System) {
		p.errs = append(p.errs, &Error{File: path, Msg: msg})
	}
	return p.run()
}

// Parse is Load on bytes already read: name is the file's path (used in
// messages, as Config.Path once made absolute, and as the base of relative
// paths). The config file's own ownership and mode are not checked, but the
// policy and credentials files it names are.
func Parse(name string, data []byte, o Options) (*Config, error) {
	return newParser(name, data, o).run()
}

// ResolvePath picks the config file: flagValue (--config) if set, else
// $STSD_CONFIG, else the layout's default (paths.Layout.ConfigFile). The
// result is absolute.
func ResolvePath(flagValue string, system bool) (string, error) {
	p := flagValue
	if p == "" {
		p = os.Getenv("STSD_CONFIG")
	}
	if p == "" {
		d, err := paths.Layout{System: system}.ConfigFile()
		if err != nil {
			return "", fmt.Errorf("default config path: %w (pass --config or set STSD_CONFIG)", err)
		}
		p = d
	}
	a, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("config path %q: %w", p, err)
	}
	return a, nil
}

// parser collects every problem of one load.
type parser struct {
	file string // the name in messages
	path string // absolute
	dir  string // base of relative paths
	data []byte
	o    Options

	// tcpPeerCheck is whether this OS can tell which user opened a TCP
	// connection (Linux); without it imds_listen needs imds_any_local_user.
	tcpPeerCheck bool
	// linkLocal is whether this OS has link-local listeners (Linux).
	linkLocal bool
	// instanceProfile is the profile serving 169.254.169.254, once one does.
	instanceProfile *profileState

	cfg   *Config
	errs  Errors
	warns Errors

	listeners   []listenerUse
	clientNodes []clientNode

	hostname    string
	hostnameErr error
	hostnameSet bool
}

func newParser(name string, data []byte, o Options) *parser {
	path := absPath(name)
	return &parser{
		file:         name,
		path:         path,
		dir:          filepath.Dir(path),
		data:         data,
		o:            o,
		tcpPeerCheck: tcpPeerCheck,
		linkLocal:    linkLocalSupported,
	}
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// unwrapPath drops the *PathError wrapper when the message names the path
// anyway.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (p *parser) run() (*Config, error) {
	root, err := tomlpos.Parse(p.data)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			p.errs = append(p.errs, &Error{File: p.file, Line: pe.Position.Line, Msg: "invalid TOML: " + pe.Message, Err: err})
		} else {
			p.errs = append(p.errs, &Error{File: p.file, Msg: "invalid TOML: " + err.Error(), Err: err})
		}
		return nil, p.errs
	}
	p.cfg = &Config{
		Path:     p.path,
		System:   p.o.System,
		LogLevel: "info",
		Profiles: map[string]*Profile{},
	}
	p.document(root)
	sortErrors(p.errs)
	sortErrors(p.warns)
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	p.cfg.Warnings = p.warns
	return p.cfg, nil
}

// sortErrors puts problems in file order; problems with the file as a whole
// (line 0) come first.
func sortErrors(es Errors) {
	sort.SliceStable(es, func(i, j int) bool { return es[i].Line < es[j].Line })
}

// errf records a problem at n.
func (p *parser) errf(n *tomlpos.Node, format string, args ...any) {
	p.errAt(n.Line, n.Name(), fmt.Sprintf(format, args...))
}

func (p *parser) errAt(line int, key, msg string) {
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Key: key, Msg: msg})
}

func (p *parser) warnf(n *tomlpos.Node, format string, args ...any) {
	p.warns = append(p.warns, &Error{File: p.file, Line: n.Line, Key: n.Name(), Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) host() (string, error) {
	if !p.hostnameSet {
		p.hostnameSet = true
		p.hostname = p.o.Hostname
		if p.hostname == "" {
			p.hostname, p.hostnameErr = os.Hostname()
		}
	}
	return p.hostname, p.hostnameErr
}
