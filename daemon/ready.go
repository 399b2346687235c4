package daemon

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/stsd/stsd/internal/wire"
)

// readyStore keeps, for the daemon's own user, each profile's current
// credential_process document ready-made in a private directory
// (wire.AppendReady), so stsd-credential-process prints it without a
// round trip to the socket. A file exists only while its profile serves
// valid credentials from this daemon: written (atomically, 0600) when
// they change, removed when they go (clear, failure, needs-mfa, expiry
// seen by a refresh, a reload that changes or drops the profile, the
// daemon stopping). While the daemon runs it holds an exclusive flock on
// every file, so a reader can tell a file a dead daemon left behind.
// Readers also apply the cache's minimum-remaining rule and fall back to
// the socket, whose answer stays final.
type readyStore struct {
	dir string
	log *slog.Logger
	now func() time.Time

	mu   sync.Mutex            // guards the field that follows
	held map[string]*readyFile // by profile
}

type readyFile struct {
	lock io.Closer // the descriptor holding the flock
	doc  []byte    // the document written
}

// openReadyFiles prepares dir (0700, owned by this user, not a symlink)
// and empties it: whatever is there was left by a daemon that stopped
// (this one holds the socket). It returns nil, after a warning, when ready
// files cannot be kept here; clients then use the socket.
func openReadyFiles(dir string, log *slog.Logger, now func() time.Time) *readyStore {
	if dir == "" || !readySupported {
		return nil
	}
	if err := prepareReadyDir(dir); err != nil {
		log.Warn("ready files off: clients use the socket", "event", "ready_failed", "err", err.Error())
		return nil
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		_ = os.Remove(filepath.Join(dir, e.Name()))
	}
	return &readyStore{dir: dir, log: log, now: now, held: map[string]*readyFile{}}
}

// publishedLocked brings name's file in line with snapshot sn: the
// document while sn holds valid credentials in a serving phase, else no
// file.
func (rf *readyStore) publishedLocked(name string, sn *snapshot) {
	serving := sn.phase == StateOK || sn.phase == StateRefreshing
	if sn.creds == nil || len(sn.output) == 0 || !serving || sn.issued.IsZero() ||
		!sn.issued.Before(sn.creds.Expiration) || !rf.now().Before(sn.creds.Expiration) || !wire.ReadyName(name) {
		rf.removeLocked(name)
		return
	}
	if f := rf.held[name]; f != nil && bytes.Equal(f.doc, sn.output) {
		return
	}
	lock, err := writeReady(filepath.Join(rf.dir, name), wire.AppendReady(nil, name, sn.issued, sn.creds.Expiration, sn.output))
	if err != nil {
		rf.log.Warn("ready file not written: clients use the socket", "event", "ready_failed", "profile", name, "err", err.Error())
		rf.removeLocked(name)
		return
	}
	if old := rf.held[name]; old != nil {
		old.lock.Close()
	}
	rf.held[name] = &readyFile{lock: lock, doc: sn.output}
}

// removeLocked deletes name's file (then drops its lock).
func (rf *readyStore) removeLocked(name string) {
	f := rf.held[name]
	if f == nil {
		return
	}
	if err := os.Remove(filepath.Join(rf.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		rf.log.Warn("ready file not removed", "event", "ready_failed", "profile", name, "err", err.Error())
	}
	f.lock.Close()
	delete(rf.held, name)
}

// close removes every file: the daemon is stopping.
func (rf *readyStore) close() {
	if rf == nil {
		return
	}
	rf.mu.Lock()
	defer rf.mu.Unlock()
	for name := range rf.held {
		rf.removeLocked(name)
	}
}

// readyPublished is every refresher's publish hook: the current refresher
// of a profile keeps its ready file. A replaced one (a reload) and broker
// client refreshers never touch it.
func (s *Supervisor) readyPublished(r *Refresher, sn *snapshot) {
	rf := s.readyFiles.Load()
	if rf == nil || r.client != "" {
		return
	}
	rf.mu.Lock()
	defer rf.mu.Unlock()
	if s.cur().refreshers[r.profile.Name] != r {
		return
	}
	rf.publishedLocked(r.profile.Name, sn)
}

// readyReplaced removes the files of the profiles a reload dropped or
// replaced, as it installs next: their new refreshers write afresh.
func (s *Supervisor) readyReplaced(old, next *view) {
	rf := s.readyFiles.Load()
	if rf == nil {
		return
	}
	rf.mu.Lock()
	defer rf.mu.Unlock()
	for name, r := range old.refreshers {
		if next.refreshers[name] != r {
			rf.removeLocked(name)
		}
	}
}
