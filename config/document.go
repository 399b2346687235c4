package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/stsd/stsd/config/internal/tomlpos"
	"github.com/stsd/stsd/internal/linklocal"
	"github.com/stsd/stsd/internal/paths"
)

var (
	topKeys    = []string{"credentials_file", "log_level", "metrics_listen", "socket_group", "signin_endpoint", "ecs", "broker", "profiles", "keys", "keyring"}
	ecsKeys    = []string{"listen", "token_dir", "container_listen"}
	brokerKeys = []string{"listen", "tls_cert_file", "tls_key_file", "client_ca_file", "rate", "max_connections", "max_connections_per_address", "trusted_proxies", "clients"}
	clientKeys = []string{"token_sha256", "profiles", "allowed_cidrs", "client_cert_sha256"}
	logLevels  = []string{"debug", "info", "warn", "error"}
	rateRe     = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)/(s|m|h)$`)
)

// listenerUse is one configured listen address, for the duplicate check.
type listenerUse struct {
	n    *tomlpos.Node
	host string // "" for a wildcard address; "localhost" stands for any loopback
	port int
}

func (p *parser) document(root *tomlpos.Node) {
	var profiles, credsNode, keysNode *tomlpos.Node
	for _, n := range root.Kids {
		switch n.Last() {
		case "credentials_file":
			if path, ok := p.filePath(n); ok {
				p.cfg.CredentialsFile = path
				credsNode = n
			}
		case "log_level":
			if s, ok := p.oneOf(n, logLevels, "%q is not a log level; use debug, info, warn or error"); ok {
				p.cfg.LogLevel = s
			}
		case "metrics_listen":
			if s, ok := p.listener(n, true); ok {
				p.cfg.MetricsListen = s
			}
		case "socket_group":
			if s, ok := p.nonEmpty(n); ok {
				p.cfg.SocketGroup = s
			}
		case "signin_endpoint":
			p.signinEndpoint(n)
		case "ecs":
			p.ecs(n)
		case "broker":
			p.broker(n)
		case "profiles":
			profiles = n
		case "keys":
			keysNode = n
		case "keyring":
			p.keyringTable(n)
		default:
			p.errf(n, "%s", suggest(n.Last(), topKeys))
		}
	}

	var states []*profileState
	if profiles != nil && p.table(profiles) {
		for _, n := range profiles.Kids {
			if st := p.profile(n); st != nil {
				states = append(states, st)
			}
		}
	}
	if len(p.cfg.Profiles) == 0 && profiles == nil {
		p.warns = append(p.warns, &Error{File: p.file, Msg: "no [profiles.NAME] tables: stsd has nothing to serve"})
	}
	for _, st := range states {
		st.pr.CredentialsFile = p.cfg.CredentialsFile
	}

	p.keyringDefaults()
	if keysNode != nil {
		p.keysTable(keysNode)
		p.keysCross(keysNode)
	}
	p.brokerClients()
	for _, st := range states {
		p.profileCross(st)
	}
	p.checkListeners()
	p.sharedFiles(credsNode)
	if len(p.errs) == 0 {
		p.cfg.chainFingerprints()
	}
}

func (p *parser) ecs(n *tomlpos.Node) {
	if !p.table(n) {
		return
	}
	e := &ECS{}
	p.cfg.ECS = e
	for _, k := range n.Kids {
		switch k.Last() {
		case "listen":
			if s, ok := p.listener(k, true); ok {
				e.Listen = s
			}
		case "token_dir":
			if s, ok := p.filePath(k); ok {
				e.TokenDir = s
			}
		case "container_listen":
			if s, ok := p.linkLocalListener(k, linklocal.ContainerCredentials); ok {
				e.ContainerListen = s
			}
		default:
			p.errf(k, "%s", suggest(k.Last(), ecsKeys))
		}
	}
	p.require(n, "listen", `set the loopback address of the ECS endpoint, e.g. "127.0.0.1:9911"`)
	if e.TokenDir == "" && n.Child("token_dir") == nil {
		d, err := paths.Layout{System: p.o.System}.StateDir()
		if err != nil {
			p.errAt(n.Line, "ecs.token_dir", fmt.Sprintf("no default (%v): set token_dir", err))
		} else {
			e.TokenDir = filepath.Join(d, "ecs")
		}
	}
}

// signinEndpoint checks signin_endpoint: an https URL, or http on a
// loopback host (a test stand-in), without query or fragment; the sign-in
// token travels to it, so nothing else may be plain text.
func (p *parser) signinEndpoint(n *tomlpos.Node) {
	s, ok := p.nonEmpty(n)
	if !ok {
		return
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		p.errf(n, `%q is not a URL; write e.g. "https://signin.aws.amazon.com/federation"`, s)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		p.errf(n, "%q must not carry a user, query or fragment; write the federation endpoint's URL alone", s)
	case u.Scheme == "https":
		p.cfg.SigninEndpoint = s
	case u.Scheme == "http" && loopbackHost(u.Hostname()):
		p.cfg.SigninEndpoint = s
	case u.Scheme == "http":
		p.errf(n, "%q is plain http to a host that is not loopback: the sign-in token would cross the network unencrypted; use https", s)
	default:
		p.errf(n, "%q is not an http(s) URL; write e.g. \"https://signin.aws.amazon.com/federation\"", s)
	}
}

// loopbackHost reports whether h is localhost or a loopback literal.
func loopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.Unmap().IsLoopback()
}

// listener checks a host:port listen address. Loopback-only listeners serve
// credentials to local programs, so their host must be a literal loopback
// address or localhost (a name is never resolved here).
func (p *parser) listener(n *tomlpos.Node, loopbackOnly bool) (string, bool) {
	s, ok := p.str(n)
	if !ok {
		return "", false
	}
	example := "127.0.0.1:9912"
	if !loopbackOnly {
		example = "0.0.0.0:9443"
	}
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		p.errf(n, "%q is not host:port; write e.g. %q", s, example)
		return "", false
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 || portStr == "" {
		p.errf(n, "%q has no valid port (0..65535, 0 picks a free one); write e.g. %q", s, example)
		return "", false
	}
	use := listenerUse{n: n, port: port}
	switch addr, err := netip.ParseAddr(host); {
	case host == "":
		use.host = ""
		if loopbackOnly {
			p.errf(n, "%q listens on every address: this endpoint serves credentials to local programs, so use 127.0.0.1, [::1] or localhost", s)
			return "", false
		}
	case strings.EqualFold(host, "localhost"):
		use.host = "localhost"
	case err == nil && addr.Zone() == "":
		if addr.IsUnspecified() {
			use.host = ""
		} else {
			use.host = addr.Unmap().String()
		}
		if loopbackOnly && !addr.Unmap().IsLoopback() {
			p.errf(n, "%q is not a loopback address: this endpoint serves credentials to local programs, so use 127.0.0.1, [::1] or localhost", s)
			return "", false
		}
	case loopbackOnly:
		p.errf(n, "%q is not a loopback address: this endpoint serves credentials to local programs, so use 127.0.0.1, [::1] or localhost (names other than localhost are not resolved)", s)
		return "", false
	default:
		use.host = strings.ToLower(host)
	}
	p.listeners = append(p.listeners, use)
	return s, true
}

// linkLocalListener checks a link-local listen address: want, literally,
// with a port SDKs can reach (they use 80); only where stsd can manage
// the address and tell its callers apart (Linux).
func (p *parser) linkLocalListener(n *tomlpos.Node, want netip.Addr) (string, bool) {
	s, ok := p.str(n)
	if !ok {
		return "", false
	}
	example := want.String() + ":80"
	ap, err := netip.ParseAddrPort(s)
	switch {
	case err != nil || ap.Addr() != want:
		p.errf(n, "%q must be %s with a port: the SDKs look there without being told; write %q", s, want, example)
		return "", false
	case ap.Port() == 0:
		p.errf(n, "%q has port 0: the SDKs look at a fixed port; write %q", s, example)
		return "", false
	case !p.linkLocal:
		p.errf(n, "%s", linklocal.ErrUnsupported)
		return "", false
	}
	p.listeners = append(p.listeners, listenerUse{n: n, host: want.String(), port: int(ap.Port())})
	return s, true
}

// checkListeners reports the same non-zero address configured twice (a
// wildcard host collides with every host on its port; localhost with every
// loopback address).
func (p *parser) checkListeners() {
	ls := slices.Clone(p.listeners)
	slices.SortStableFunc(ls, func(a, b listenerUse) int { return a.n.Line - b.n.Line })
	for i, b := range ls {
		if b.port == 0 {
			continue
		}
		for _, a := range ls[:i] {
			if a.port != b.port || !hostsCollide(a.host, b.host) {
				continue
			}
			p.errf(b.n, "port %d is already used by %s (line %d); give each listener its own address", b.port, a.n.Name(), a.n.Line)
			break
		}
	}
}

func hostsCollide(a, b string) bool {
	if a == b || a == "" || b == "" {
		return true
	}
	isLoop := func(h string) bool {
		if h == "localhost" {
			return true
		}
		ad, err := netip.ParseAddr(h)
		return err == nil && ad.IsLoopback()
	}
	return (a == "localhost" && isLoop(b)) || (b == "localhost" && isLoop(a))
}

func (p *parser) broker(n *tomlpos.Node) {
	if !p.table(n) {
		return
	}
	b := &Broker{Rate: 10, MaxConnections: 1024, MaxConnectionsPerAddress: 64, Clients: map[string]*BrokerClient{}}
	p.cfg.Broker = b
	for _, k := range n.Kids {
		switch k.Last() {
		case "listen":
			if s, ok := p.listener(k, false); ok {
				b.Listen = s
			}
		case "tls_cert_file":
			if s, ok := p.filePath(k); ok && p.existingFile(k, s, kindConfig) {
				b.TLSCertFile = s
			}
		case "tls_key_file":
			if s, ok := p.filePath(k); ok && p.existingFile(k, s, kindSecret) {
				b.TLSKeyFile = s
			}
		case "client_ca_file":
			if s, ok := p.filePath(k); ok && p.existingFile(k, s, kindConfig) {
				b.ClientCAFile = s
			}
		case "rate":
			if s, ok := p.str(k); ok {
				m := rateRe.FindStringSubmatch(s)
				r := 0.0
				if m != nil {
					r, _ = strconv.ParseFloat(m[1], 64)
				}
				switch {
				case m == nil:
					p.errf(k, `%q is not a rate; write requests per second, minute or hour, e.g. "10/s" or "600/m"`, s)
				case r <= 0:
					p.errf(k, "%q must be more than zero", s)
				default:
					b.Rate = r / map[string]float64{"s": 1, "m": 60, "h": 3600}[m[2]]
				}
			}
		case "max_connections":
			if i, ok := p.intIn(k, 1, 1<<20); ok {
				b.MaxConnections = i
			}
		case "max_connections_per_address":
			if i, ok := p.intIn(k, 1, 1<<20); ok {
				b.MaxConnectionsPerAddress = i
			}
		case "trusted_proxies":
			b.TrustedProxies = p.cidrs(k)
		case "clients":
			if p.table(k) {
				for _, c := range k.Kids {
					p.brokerClient(b, c)
				}
			}
		default:
			p.errf(k, "%s", suggest(k.Last(), brokerKeys))
		}
	}
	p.require(n, "listen", `set the address the HTTPS broker listens on, e.g. "0.0.0.0:9443"`)
	p.require(n, "tls_cert_file", "the broker serves HTTPS only; set the PEM certificate file")
	p.require(n, "tls_key_file", "the broker serves HTTPS only; set the PEM private key file")
	if n.Child("client_ca_file") == nil {
		for _, cn := range p.clientNodes {
			if k := cn.n.Child("client_cert_sha256"); k != nil {
				p.errf(k, "needs broker.client_ca_file: a client certificate is only asked for when the broker has a client CA")
			}
		}
	}
}

// cidrs parses an array of CIDR prefixes.
func (p *parser) cidrs(n *tomlpos.Node) []netip.Prefix {
	var out []netip.Prefix
	p.eachString(n, func(key, s string) {
		pf, err := netip.ParsePrefix(s)
		switch {
		case err != nil:
			p.errAt(n.Line, key, fmt.Sprintf(`%q is not a CIDR prefix; write e.g. "10.0.0.5/32" or "10.20.0.0/16"`, s))
		case pf != pf.Masked():
			p.errAt(n.Line, key, fmt.Sprintf("%q has address bits set past /%d; write %q", s, pf.Bits(), pf.Masked().String()))
		default:
			out = append(out, pf)
		}
	})
	return out
}

func (p *parser) brokerClient(b *Broker, n *tomlpos.Node) {
	name := n.Last()
	if !p.table(n) {
		return
	}
	if msg := checkChars(name, 2, 32, nameChar, "a broker client name", "letters, digits and _+=,.@-"); msg != "" {
		p.errf(n, "client name %q %s (it becomes the federated user name through {client})", name, msg)
	}
	c := &BrokerClient{Name: name, Line: n.Line}
	b.Clients[name] = c
	p.clientNodes = append(p.clientNodes, clientNode{c: c, n: n})
	for _, k := range n.Kids {
		switch k.Last() {
		case "token_sha256":
			// Never quote the value: a token pasted here by mistake is a secret.
			if s, ok := p.str(k); ok {
				if _, err := hex.DecodeString(s); err != nil || len(s) != 64 {
					p.errf(k, "must be 64 hex digits, the SHA-256 of the client's token (not the token itself; got %s); `stsd broker add-client` prints both", plural(len([]rune(s)), "character"))
					continue
				}
				c.TokenSHA256 = strings.ToLower(s)
				for _, o := range p.clientNodes {
					if o.c != c && o.c.TokenSHA256 == c.TokenSHA256 {
						p.errf(k, "is the same as broker client %q's (line %d); give each client its own token (`stsd broker rotate-client %s`)", o.c.Name, o.c.Line, name)
						break
					}
				}
			}
		case "profiles":
			if ss, ok := p.strList(k); ok {
				if len(ss) == 0 {
					p.errf(k, "is empty: list the federation profiles this client may fetch")
				}
				c.Profiles = ss
			}
		case "allowed_cidrs":
			c.AllowedCIDRs = p.cidrs(k)
		case "client_cert_sha256":
			if s, ok := p.str(k); ok {
				s = strings.ToLower(strings.ReplaceAll(s, ":", ""))
				if _, err := hex.DecodeString(s); err != nil || len(s) != 64 {
					p.errf(k, "must be 64 hex digits (colons allowed), the SHA-256 of the client's certificate: run openssl x509 -in CERT -noout -fingerprint -sha256")
					continue
				}
				c.CertSHA256 = s
			}
		default:
			p.errf(k, "%s", suggest(k.Last(), clientKeys))
		}
	}
	p.require(n, "token_sha256", "run `stsd broker add-client "+name+" --profiles …` to make a token and its hash")
	p.require(n, "profiles", "list the federation profiles this client may fetch")
}

type clientNode struct {
	c *BrokerClient
	n *tomlpos.Node
}

// brokerClients checks that every profile a client names exists and is a
// federation profile.
func (p *parser) brokerClients() {
	for _, cn := range p.clientNodes {
		k := cn.n.Child("profiles")
		for i, name := range cn.c.Profiles {
			pr, ok := p.cfg.Profiles[name]
			switch {
			case !ok:
				p.errAt(k.Line, elem(k, i), fmt.Sprintf("%q is not a profile in this file; add [profiles.%s] or fix the name", name, name))
			case pr.Mode == ModeRole:
				p.errAt(k.Line, elem(k, i), fmt.Sprintf("%q is a role profile; the broker serves federation profiles only (each client gets its own federated user and session policy)", name))
			case pr.Mode != ModeFederation:
				p.errAt(k.Line, elem(k, i), fmt.Sprintf("%q is a session profile; the broker serves federation profiles only (GetSessionToken credentials carry the IAM user's full permissions)", name))
			}
		}
	}
}

// sharedFiles checks the AWS shared files source keys are read from (the
// configured credentials_file at its line n, else the default one, and the
// AWS config file): see Config.SharedFileProblems.
func (p *parser) sharedFiles(n *tomlpos.Node) {
	if n != nil {
		if _, err := os.Stat(p.cfg.CredentialsFile); errors.Is(err, fs.ErrNotExist) {
			p.warnf(n, "%s does not exist (yet); profiles fail until it holds their source profiles' keys", p.cfg.CredentialsFile)
		}
	}
	for _, prob := range p.cfg.SharedFileProblems() {
		if n != nil && prob.Path == p.cfg.CredentialsFile {
			p.errf(n, "%s", prob.Msg)
		} else {
			p.errs = append(p.errs, &Error{File: p.file, Msg: prob.Msg})
		}
	}
}

// existingFile checks that path exists and passes the checks of its kind.
func (p *parser) existingFile(n *tomlpos.Node, path string, kind fileKind) bool {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		p.errf(n, "%s does not exist; create it or fix the path", path)
		return false
	}
	if err != nil {
		p.errf(n, "cannot read %s: %v", path, unwrapPath(err))
		return false
	}
	if fi.IsDir() {
		p.errf(n, "%s is a directory; name a file", path)
		return false
	}
	if !fi.Mode().IsRegular() { // a FIFO or device could block reads
		p.errf(n, "%s is not a regular file", path)
		return false
	}
	msgs := checkFileInfo(path, fi, kind, p.o.System)
	for _, msg := range msgs {
		p.errf(n, "%s", msg)
	}
	return len(msgs) == 0
}
