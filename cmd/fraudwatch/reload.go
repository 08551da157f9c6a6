package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	"fraudwatch/detector"
	"fraudwatch/detector/rules"
	"fraudwatch/features"
)

// ReloadConfig says how `run` picks up edited rule, lexicon and model
// files without a restart. SIGHUP always reloads.
type ReloadConfig struct {
	Interval time.Duration `yaml:"interval" env:"FRAUDWATCH_RELOAD_INTERVAL" doc:"how often run checks the rule, lexicon and model files for changes (size, time, content hash); 0: only on SIGHUP"`
}

func defaultReloadConfig() ReloadConfig { return ReloadConfig{Interval: 5 * time.Second} }

// Validate rejects an interval so short that polling would cost more
// than it saves.
func (c ReloadConfig) Validate() error {
	if c.Interval != 0 && c.Interval < 100*time.Millisecond {
		return fmt.Errorf("reload.interval: %v, want 0 (SIGHUP only) or at least 100ms", c.Interval)
	}
	return nil
}

// reloadRequestsKey carries the channel of reload requests (SIGHUP) from
// main to run: signals are handled only in main, and tests send their own.
type reloadRequestsKey struct{}

// withReloadRequests returns ctx carrying ch; each value on ch asks `run`
// to reload its rule, lexicon and model files.
func withReloadRequests(ctx context.Context, ch <-chan os.Signal) context.Context {
	return context.WithValue(ctx, reloadRequestsKey{}, ch)
}

func reloadRequests(ctx context.Context) <-chan os.Signal {
	ch, _ := ctx.Value(reloadRequestsKey{}).(<-chan os.Signal)
	return ch // nil: no requests, a receive blocks forever
}

// fileState is what polling compares: size and modification time, and
// the content hash that decides when they changed.
type fileState struct {
	size    int64
	modTime time.Time
	sum     [sha256.Size]byte
	missing bool
}

// watched is one file the scoring set is built from.
type watched struct {
	kind  string // "rules", "lexicons", "model"
	path  string
	state fileState
}

// reloader rebuilds the engine's scoring set (rules; extractor with its
// lexicons and text model) when its files change or on request, and
// swaps it in only when every file is valid. A rejected file is logged
// with the file, the rule and the problem; the running set stays.
type reloader struct {
	engine   *detector.Engine
	xcfg     features.Config // the extractor's config; Model and LexiconsPath are re-read on reload
	files    []*watched
	interval time.Duration
	logger   *slog.Logger
	mu       sync.Mutex // one reload at a time
}

// newReloader watches the files s names. The built-in rules, lexicons and
// model are part of the binary and never change while it runs.
func newReloader(p *pipeline, s settings, cfg ReloadConfig, logger *slog.Logger) *reloader {
	r := &reloader{engine: p.engine, xcfg: p.xcfg, interval: cfg.Interval, logger: logger}
	for _, f := range []struct{ kind, path string }{{"rules", s.rulesPath}, {"lexicons", s.lexiconsPath}, {"model", s.modelPath}} {
		if f.path == "" {
			continue
		}
		w := &watched{kind: f.kind, path: f.path}
		w.state, _ = readState(f.path, nil)
		r.files = append(r.files, w)
	}
	return r
}

// Run polls the files every interval and reloads on each request from
// requests, until ctx ends. It returns nil on cancellation.
func (r *reloader) Run(ctx context.Context, requests <-chan os.Signal) error {
	var tick <-chan time.Time
	if r.interval > 0 && len(r.files) > 0 {
		t := time.NewTicker(r.interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-requests:
			r.logger.Info("reload requested (SIGHUP)")
			r.reload(true)
		case <-tick:
			r.reload(false)
		}
	}
}

// reload rebuilds what changed (everything when forced) and swaps it in.
// It reports whether a new set is in use.
func (r *reloader) reload(force bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := map[string]bool{}
	for _, w := range r.files {
		st, err := readState(w.path, &w.state)
		if err != nil {
			if !w.state.missing {
				r.logger.Error("cannot read a watched file; the running rules stay", "kind", w.kind, "file", w.path, "err", err)
			}
			w.state.missing = true
			continue
		}
		if force || st.sum != w.state.sum || w.state.missing {
			changed[w.kind] = true
		}
		w.state = st
	}
	if len(changed) == 0 {
		return false
	}
	old := r.engine.Scoring()
	next, err := r.build(old, changed)
	if err != nil {
		r.logger.Error("reload rejected; the running rules stay", "files", slices.Sorted(maps.Keys(changed)), "rules_version", old.Rules.Version(), "err", err)
		return false
	}
	if err := r.engine.Swap(next); err != nil {
		r.logger.Error("reload rejected; the running rules stay", "err", err)
		return false
	}
	if changed["rules"] && next.Rules.Version() == old.Rules.Version() {
		r.logger.Warn("the rule file changed but its version did not; alerts cannot tell the two rule sets apart", "rules_version", next.Rules.Version())
	}
	r.logger.Info("rules reloaded", "changed", slices.Sorted(maps.Keys(changed)),
		"rules_version", next.Rules.Version(), "previous_rules_version", old.Rules.Version(),
		"model_version", modelVersionOf(next.Extractor), "rules", len(next.Rules.Rules()), "shadow_rules", shadowRuleIDs(next.Rules))
	return true
}

// build compiles the changed files into a new set; unchanged parts are
// kept from old. Every file is validated before anything is swapped.
func (r *reloader) build(old detector.Scoring, changed map[string]bool) (detector.Scoring, error) {
	next := old
	path := func(kind string) string {
		for _, w := range r.files {
			if w.kind == kind {
				return w.path
			}
		}
		return ""
	}
	if changed["rules"] {
		rs, err := rules.LoadFile(path("rules"))
		if err != nil {
			return next, err
		}
		next.Rules = rs
	}
	if changed["lexicons"] || changed["model"] {
		xcfg := r.xcfg
		if p := path("model"); p != "" {
			m, err := readModelFile(p)
			if err != nil {
				return next, err
			}
			xcfg.Model = m
		}
		x, err := features.NewExtractor(xcfg)
		if err != nil {
			return next, err
		}
		next.Extractor = x
	}
	return next, nil
}

// readState stats path and, when its size or time differ from prev (or
// there is no prev), hashes its content.
func readState(path string, prev *fileState) (fileState, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileState{missing: true}, err
	}
	st := fileState{size: fi.Size(), modTime: fi.ModTime()}
	if prev != nil && !prev.missing && prev.size == st.size && prev.modTime.Equal(st.modTime) {
		st.sum = prev.sum
		return st, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fileState{missing: true}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fileState{missing: true}, err
	}
	copy(st.sum[:], h.Sum(nil))
	return st, nil
}

func modelVersionOf(x detector.Extractor) string {
	if mv, ok := x.(detector.ModelVersioner); ok {
		return mv.ModelVersion()
	}
	return "none"
}

func shadowRuleIDs(rs *rules.Ruleset) []string {
	ids := []string{}
	for _, r := range rs.Rules() {
		if r.Shadow {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// shadowLog wraps the engine for `run`: shadow rules never change a
// verdict, so their hits are only visible here — per batch at debug
// level, and as running totals at info level at most once per every.
type shadowLog struct {
	next   detector.BatchHandler
	logger *slog.Logger
	every  time.Duration
	now    func() time.Time

	mu     sync.Mutex
	totals map[string]int
	last   time.Time
}

var _ detector.BatchHandler = (*shadowLog)(nil)

func newShadowLog(next detector.BatchHandler, logger *slog.Logger, every time.Duration) *shadowLog {
	return &shadowLog{next: next, logger: logger, every: every, now: time.Now, totals: map[string]int{}}
}

// HandleBatch counts the shadow rules in the batch's verdicts.
func (s *shadowLog) HandleBatch(ctx context.Context, recs []detector.Record) (detector.Result, error) {
	res, err := s.next.HandleBatch(ctx, recs)
	if err != nil {
		return res, err
	}
	batch := map[string]int{}
	for _, v := range res.Verdicts {
		for _, r := range v.Reasons {
			if r.Shadow {
				batch[r.Rule]++
			}
		}
	}
	if len(batch) == 0 {
		return res, nil
	}
	s.logger.Debug("shadow rules fired", "batch_events", len(recs), "hits", batch)
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, n := range batch {
		s.totals[id] += n
	}
	if now := s.now(); now.Sub(s.last) >= s.every {
		s.last = now
		s.logger.Info("shadow rule hits since start (they never alert)", "hits", maps.Clone(s.totals))
	}
	return res, nil
}
