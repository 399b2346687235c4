package credproc

import "github.com/stsd/stsd/internal/wire"

// fromReady returns the document the user daemon keeps ready for the
// profile, when the file is trustworthy (readReady) and the credentials
// fresh (wire.Ready.Fresh: the cache's minimum-remaining rule). Anything
// else — no file, a doubtful or stale one — is left to the socket, whose
// answer is final (and which handles needs-mfa).
func (o *Options) fromReady() ([]byte, bool) {
	if o.ReadyDir == "" || !wire.ReadyName(o.Profile) {
		return nil, false
	}
	data, ok := readReady(o.ReadyDir, o.Profile)
	if !ok {
		return nil, false
	}
	r, ok := wire.ParseReady(data, o.Profile)
	if !ok || !r.Fresh(o.Now()) {
		return nil, false
	}
	return r.Doc, true
}
