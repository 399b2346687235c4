package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/stsd/stsd/config"
	"github.com/stsd/stsd/internal/stsclient"
)

// defaultDebounce gathers the several events one save makes (editors
// write a temp file and rename it, or truncate then write).
const defaultDebounce = 300 * time.Millisecond

// ErrNoReload is returned by Reload when the daemon has no way to re-read
// its config (Options.Load is nil) or is not serving.
var ErrNoReload = errors.New("reload is not available")

type reloadRequest struct {
	reason string
	done   chan error // buffered 1
}

// Reload re-reads the config and applies it (SIGHUP, POST /v1/reload). A
// broken config is refused with every problem; the old one keeps running.
func (s *Supervisor) Reload(ctx context.Context, reason string) error {
	if s.o.Load == nil {
		return ErrNoReload
	}
	req := reloadRequest{reason: reason, done: make(chan error, 1)}
	select {
	case s.reloadCh <- req:
	case <-ctx.Done():
		return fmt.Errorf("%w: the daemon is not serving", ErrNoReload)
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// manage is the daemon's lifecycle loop: it serves reload requests and,
// when the config can be re-read, watches every file it was made from,
// until g stops. Reloads run here only, one at a time.
func (s *Supervisor) manage(g *runGroup) {
	ctx := g.ctx
	var events <-chan fsnotify.Event
	var errs <-chan error
	var w *fsnotify.Watcher
	var err error
	if s.o.Load != nil {
		w, err = fsnotify.NewWatcher()
	}
	switch {
	case err != nil:
		s.o.Logger.Warn("config watch unavailable: use SIGHUP or `stsd reload`", "event", "watch_failed", "err", err.Error())
		w = nil
	case w != nil:
		defer w.Close()
		events, errs = w.Events, w.Errors
	}
	watched := s.watch(w, nil)
	var fire <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case req := <-s.reloadCh:
			req.done <- s.reload(g, req.reason)
			s.kickKeys()
			watched = s.watch(w, watched)
		case ev := <-events:
			if watched[filepath.Clean(ev.Name)] && fire == nil {
				fire = time.After(s.o.WatchDebounce)
			}
		case <-fire:
			fire = nil
			if err := s.reload(g, "file changed"); err == nil {
				s.kickFailing()
				s.kickKeys()
			}
			watched = s.watch(w, watched)
		case err := <-errs:
			s.o.Logger.Warn("config watch error", "event", "watch_error", "err", err.Error())
		}
	}
}

// watchedFiles are the files a change to which means a reload: the config,
// every policy file, and the shared credentials and config files.
func watchedFiles(cfg *config.Config) map[string]bool {
	files := map[string]bool{filepath.Clean(cfg.Path): true,
		filepath.Clean(stsclient.CredentialsFile(cfg)): true, filepath.Clean(stsclient.ConfigFile()): true}
	for _, p := range cfg.Profiles {
		if p.PolicyFile != "" {
			files[filepath.Clean(p.PolicyFile)] = true
		}
	}
	return files
}

// watch watches the directories of the current config's files (editors
// replace files by rename, which a watch on the file itself would lose)
// and returns the set of file names that matter.
func (s *Supervisor) watch(w *fsnotify.Watcher, old map[string]bool) map[string]bool {
	files := watchedFiles(s.cur().cfg)
	if w == nil {
		return files
	}
	dirs := map[string]bool{}
	for f := range files {
		dirs[filepath.Dir(f)] = true
	}
	have := w.WatchList()
	for d := range dirs {
		if slices.Contains(have, d) {
			continue
		}
		if err := w.Add(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.o.Logger.Warn("cannot watch directory", "event", "watch_failed", "dir", d, "err", err.Error())
		}
	}
	for _, d := range have {
		if !dirs[d] {
			w.Remove(d)
		}
	}
	return files
}

// kickFailing retries now the profiles that are failing: a fixed key or
// policy file should not wait out a 5-minute backoff.
func (s *Supervisor) kickFailing() {
	for _, r := range s.cur().refreshers {
		if st := r.snap.Load().phase; st == StateBackoff || st == StateError {
			r.Refresh()
		}
	}
}

// reload loads the config and applies it per profile: unchanged profiles
// keep running untouched; changed ones are replaced (a new fingerprint
// means new credentials; an unchanged one reuses the cache); removed ones
// stop and close their listeners; added ones start.
func (s *Supervisor) reload(g *runGroup, reason string) error {
	cfg, err := s.o.Load()
	if err != nil {
		s.reloadFailed(err)
		return err
	}
	old := s.cur()
	if err := s.ep.reconcile(g, cfg); err != nil {
		s.reloadFailed(err)
		return err
	}
	keep := map[string]*Refresher{}
	var added, changed, removed []string
	for name, r := range old.refreshers {
		switch np := cfg.Profiles[name]; {
		case np == nil:
			removed = append(removed, name)
		case sameProfile(r.profile, np):
			keep[name] = r
		default:
			changed = append(changed, name)
		}
	}
	changed = append(changed, keepWithParents(keep)...)
	for name := range cfg.Profiles {
		if old.refreshers[name] == nil {
			added = append(added, name)
		}
	}
	next := &view{cfg: cfg, refreshers: s.buildRefreshers(cfg, keep)}
	s.view.Store(next)
	s.readyReplaced(old, next)
	for name, r := range next.refreshers {
		if keep[name] == nil {
			r.start(g)
		}
	}
	for name, r := range old.refreshers {
		if keep[name] == nil {
			r.stop()
		}
	}
	if err := s.applyBrokerClients(cfg); err != nil {
		// config.Load validated every hash: this does not happen.
		s.o.Logger.Error("broker clients not applied", "event", "reload_partial", "err", err)
	}
	s.stopClients(func(profile, client string) bool {
		op, np := old.cfg.Profiles[profile], cfg.Profiles[profile]
		return op == nil || np == nil || !sameProfile(op, np) || !brokerGrants(cfg, profile, client)
	})
	for _, w := range restartOnly(old.cfg, cfg) {
		s.o.Logger.Warn("config change needs a restart", "event", "reload_partial", "key", w)
	}
	s.reloadMu.Lock()
	s.reloadErr, s.reloadedAt = "", s.o.Clock.Now()
	s.reloadMu.Unlock()
	s.metrics.reloads.Inc("ok")
	slices.Sort(added)
	slices.Sort(changed)
	slices.Sort(removed)
	s.o.Logger.Info("config reloaded", "event", "reloaded", "reason", reason,
		"added", added, "changed", changed, "removed", removed)
	return nil
}

// reloadFailed records a refused reload: logged with every file:line,
// shown by status; the running config is untouched.
func (s *Supervisor) reloadFailed(err error) {
	lines := strings.Split(err.Error(), "\n")
	for _, l := range lines {
		s.o.Logger.Error("config reload refused; the previous config keeps running", "event", "reload_failed", "err", l)
	}
	s.reloadMu.Lock()
	s.reloadErr = strings.Join(lines, "; ")
	s.reloadMu.Unlock()
	s.metrics.reloads.Inc("error")
}

// keepWithParents drops from keep every role profile whose via_profile
// (at any depth) is not kept: its refresher reads the parent's snapshots,
// so it is rebuilt beside the new parent. It returns the names dropped.
func keepWithParents(keep map[string]*Refresher) []string {
	var dropped []string
	for again := true; again; {
		again = false
		for name, r := range keep {
			if via := r.profile.ViaProfile; via != "" && keep[via] == nil {
				delete(keep, name)
				dropped = append(dropped, name)
				again = true
			}
		}
	}
	return dropped
}

// sameProfile reports whether a and b would run identically.
func sameProfile(a, b *config.Profile) bool {
	x, y := *a, *b
	x.Line, y.Line = 0, 0
	return reflect.DeepEqual(x, y)
}

// restartOnly names the changed settings a running daemon cannot apply.
func restartOnly(a, b *config.Config) []string {
	var out []string
	if a.SocketGroup != b.SocketGroup {
		out = append(out, "socket_group")
	}
	if a.MetricsListen != b.MetricsListen {
		out = append(out, "metrics_listen")
	}
	if a.LogLevel != b.LogLevel {
		out = append(out, "log_level")
	}
	if !reflect.DeepEqual(brokerSettings(a.Broker), brokerSettings(b.Broker)) {
		out = append(out, "broker")
	}
	return out
}

// brokerSettings is b without its clients, which a reload applies.
func brokerSettings(b *config.Broker) *config.Broker {
	if b == nil {
		return nil
	}
	c := *b
	c.Clients = nil
	return &c
}
