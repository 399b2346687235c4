package broker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
)

// brokerCipherSuites are the TLS 1.2 suites the broker offers: ECDHE key
// exchange (forward secrecy) with AEAD ciphers only, the set Mozilla's
// "intermediate" profile and HTTP/2 (RFC 9113 §9.2.2) accept. TLS 1.3
// suites are not configurable in Go and are all AEAD.
var brokerCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// fileStamp identifies one version of a file without reading it.
type fileStamp struct {
	fi os.FileInfo
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path) // follows symlinks: certbot's live/ links
	return fileStamp{fi}, err
}

func (a fileStamp) same(b fileStamp) bool {
	return a.fi != nil && b.fi != nil && os.SameFile(a.fi, b.fi) &&
		a.fi.Size() == b.fi.Size() && a.fi.ModTime().Equal(b.fi.ModTime())
}

// reloading holds a value made from files and remakes it when any of them
// changes (another inode, size or modification time). A version that does
// not load (a half-rotated pair) is logged once and the last good value
// is kept, so a rotation never fails a handshake.
type reloading[T any] struct {
	what  string
	files []string
	load  func() (T, error)
	log   *slog.Logger

	mu     sync.Mutex // guards the fields that follow
	stamps []fileStamp
	val    T
	ok     bool
	bad    []fileStamp // the stamps of the last version that failed to load
}

// current returns the value for the files as they are now.
func (r *reloading[T]) current() (T, error) {
	stamps := make([]fileStamp, len(r.files))
	var statErr error
	for i, f := range r.files {
		stamps[i], statErr = stampOf(f)
		if statErr != nil {
			break
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if statErr == nil && r.ok && sameStamps(stamps, r.stamps) {
		return r.val, nil
	}
	err := statErr
	if err == nil && !sameStamps(stamps, r.bad) {
		var v T
		if v, err = r.load(); err == nil {
			if r.ok {
				r.log.Info("broker "+r.what+" reloaded", "event", "broker_tls_reloaded", "what", r.what)
			}
			r.val, r.ok, r.stamps, r.bad = v, true, stamps, nil
			return v, nil
		}
		r.bad = stamps
		if r.ok {
			r.log.Warn("broker "+r.what+" did not load; still serving the previous one", "event", "broker_tls_reload_failed", "what", r.what, "err", err)
		}
	}
	if r.ok {
		return r.val, nil
	}
	if err == nil {
		err = errors.New("the files did not load")
	}
	var zero T
	return zero, fmt.Errorf("broker %s: %w", r.what, err)
}

func sameStamps(a, b []fileStamp) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].same(b[i]) {
			return false
		}
	}
	return true
}

// brokerTLS builds the broker's TLS configuration: TLS 1.2+, the suites
// above, h2 and http/1.1 by ALPN, the certificate re-read whenever its
// files change, and client certificates required and verified against
// caFile when one is set (also re-read on change).
func brokerTLS(certFile, keyFile, caFile string, log *slog.Logger) (*tls.Config, error) {
	cert := &reloading[*tls.Certificate]{
		what: "certificate", files: []string{certFile, keyFile}, log: log,
		load: func() (*tls.Certificate, error) {
			c, err := tls.LoadX509KeyPair(certFile, keyFile)
			return &c, err
		},
	}
	if _, err := cert.current(); err != nil {
		return nil, err
	}
	base := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: brokerCipherSuites,
		NextProtos:   []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return cert.current()
		},
	}
	if caFile == "" {
		return base, nil
	}
	ca := &reloading[*x509.CertPool]{
		what: "client CA", files: []string{caFile}, log: log,
		load: func() (*x509.CertPool, error) {
			b, err := os.ReadFile(caFile)
			if err != nil {
				return nil, err
			}
			p := x509.NewCertPool()
			if !p.AppendCertsFromPEM(b) {
				return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
			}
			return p, nil
		},
	}
	if _, err := ca.current(); err != nil {
		return nil, err
	}
	base.ClientAuth = tls.RequireAndVerifyClientCert
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		pool, err := ca.current()
		if err != nil {
			return nil, err
		}
		c := base.Clone()
		c.GetConfigForClient = nil
		c.ClientCAs = pool
		return c, nil
	}
	return base, nil
}
