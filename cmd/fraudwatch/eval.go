package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"time"

	"fraudwatch/detector"
	"fraudwatch/detector/rules"
	"fraudwatch/features"
	"fraudwatch/features/memrep"
	"fraudwatch/features/textmodel"
	"fraudwatch/models"
)

// evalOptions are eval's own flags (the scoring flags are pipelineFlags).
type evalOptions struct {
	data          stringList
	format        string
	baselineRules string
	minF1, maxFPR float64 // negative: no gate
	cv            int
	params        textmodel.Params // for --cv: how each fold's model is trained
	progress      int              // rows between progress lines; 0: none
	maxFlips      int
	showErrors    int
}

// defaultProgress is how many rows pass between progress lines on stderr.
const defaultProgress = 20000

func cmdEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var pf pipelineFlags
	pf.register(fs)
	var o evalOptions
	o.params = textmodel.DefaultParams()
	fs.Var(&o.data, "data", "labelled corpus `FILE` (JSON Lines); repeat for several")
	fs.StringVar(&o.format, "format", "text", "output: text or json")
	fs.StringVar(&o.baselineRules, "baseline-rules", "", "compare with this rule `FILE`: print the events whose verdict flips and the metric deltas")
	fs.Float64Var(&o.minF1, "min-f1", -1, "exit 1 when a file's F1 is below `F` (or undefined)")
	fs.Float64Var(&o.maxFPR, "max-fpr", -1, "exit 1 when a file's false-positive rate is above `R` (0.005 = 0.5%)")
	fs.IntVar(&o.cv, "cv", 0, "`K`-fold cross-validation of the text model: each row is scored with a model trained on the other K-1 folds of its file")
	fs.Uint64Var(&o.params.Seed, "seed", o.params.Seed, "seed of the --cv folds and training order")
	fs.StringVar(&o.params.Algorithm, "cv-algorithm", o.params.Algorithm, "--cv: train each fold with logreg or naive_bayes")
	fs.IntVar(&o.progress, "progress", defaultProgress, "print a progress line on stderr every `N` rows of a file (0: never)")
	fs.IntVar(&o.maxFlips, "max-flips", 200, "--baseline-rules: list at most `N` flipped events per file")
	fs.IntVar(&o.showErrors, "show-errors", 0, "list up to `N` false positives and N false negatives per file (id, verdict, rules, the text's start)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: fraudwatch eval --data FILE [--data FILE ...] [flags]

Scores labelled corpus rows through the real scoring path (features, text
model, rules; in-memory reputation on event time) and prints precision,
recall, F1 and false-positive rate per file, per category and per rule.
Positive = label spam or scam; flagged = severity ≥ --min-severity (default low).
Exit status 1 when --min-f1 or --max-fpr is not met, 2 on bad usage or bad rows.

Flags:`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(o.data) == 0 || fs.NArg() > 0 || (o.format != "text" && o.format != "json") || o.cv == 1 || o.cv < 0 {
		fs.Usage()
		return exitError{2}
	}
	if pf.minSeverity == "" {
		pf.minSeverity = "low"
	}
	s, err := pf.settings()
	if err != nil {
		return err
	}
	if s.hmacSecret == "" {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		s.hmacSecret = string(key)
	}
	// Reject a broken candidate before reading any data.
	if _, err := loadRules(s.rulesPath); err != nil {
		return err
	}
	var baseline *rules.Ruleset
	if o.baselineRules != "" {
		if baseline, err = rules.LoadFile(o.baselineRules); err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
	}
	if o.cv > 1 {
		if err := o.params.Validate(); err != nil {
			return err
		}
	}

	rep := evalReport{MinSeverity: s.minSeverity.String(), CV: o.cv}
	var all *accumulator
	bad := 0
	for _, path := range o.data {
		start := time.Now()
		acc, info, err := evalFile(ctx, s, path, baseline, o, stderr)
		if err != nil {
			return err
		}
		bad += acc.bad
		if all == nil {
			all = newAccumulator(info.rules, s.minSeverity, nil)
			rep.RulesVersion = info.rules.Version()
			rep.Model = info.model
		}
		all.merge(acc)
		ds := acc.dataset(path, o.maxFlips)
		ds.SHA256 = info.sha
		if o.cv > 1 {
			ds.CV = o.cv
		} else if name, ok := info.trainedOn(); ok {
			ds.InModelTraining = true
			ds.Note = fmt.Sprintf("part of the text model's training data (as %s): figures are optimistic; use --cv", name)
		}
		ds.Seconds = math.Round(time.Since(start).Seconds()*100) / 100
		rep.Datasets = append(rep.Datasets, ds)
	}
	rep.Rules = all.ruleStats(true)

	switch o.format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	default:
		writeEvalText(stdout, &rep)
	}

	failed := false
	for _, ds := range rep.Datasets {
		if o.minF1 >= 0 && (ds.F1 == nil || *ds.F1 < o.minF1) {
			fmt.Fprintf(stderr, "eval: %s: F1 %s is below --min-f1 %g\n", ds.Path, fmtMetric(ds.F1), o.minF1)
			failed = true
		}
		if o.maxFPR >= 0 && ds.FPR != nil && *ds.FPR > o.maxFPR {
			fmt.Fprintf(stderr, "eval: %s: false-positive rate %s is above --max-fpr %g\n", ds.Path, fmtMetric(ds.FPR), o.maxFPR)
			failed = true
		}
	}
	switch {
	case failed:
		return exitError{1}
	case bad > 0:
		fmt.Fprintf(stderr, "eval: %d bad row(s) skipped\n", bad)
		return exitError{2}
	}
	return nil
}

// fileInfo is what eval learns about a file besides its figures.
type fileInfo struct {
	sha   string
	rules *rules.Ruleset
	model *modelInfo
	m     *textmodel.Model
}

func (fi fileInfo) trainedOn() (string, bool) {
	if fi.m == nil {
		return "", false
	}
	return fi.m.TrainedOn(fi.sha)
}

// evalFile scores one file with a fresh scoring path (its own reputation
// and replay clock), streaming: memory does not grow with the file,
// except under --cv, which holds each row's tokens to train the folds.
func evalFile(ctx context.Context, s settings, path string, baseline *rules.Ruleset, o evalOptions, stderr io.Writer) (*accumulator, fileInfo, error) {
	if o.cv > 1 {
		return evalFileCV(ctx, s, path, baseline, o, stderr)
	}
	clock := &replayClock{}
	s.now = clock.Now
	p, err := newPipeline(ctx, s, false)
	if err != nil {
		return nil, fileInfo{}, err
	}
	defer p.Close()
	info := fileInfo{rules: p.engine.Rules(), m: p.extractor.Model()}
	info.model = describeModel(info.m)
	acc := newAccumulator(info.rules, s.minSeverity, baseline)
	acc.showErrors = o.showErrors
	prog := newProgress(path, o.progress, stderr)
	var rows []models.LabeledEvent
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		evs := make([]models.Event, len(rows))
		for i := range rows {
			evs[i] = rows[i].Event
			clock.Advance(rows[i].TS)
		}
		scored, err := p.engine.Score(ctx, evs)
		if err != nil {
			return err
		}
		for i := range scored {
			acc.add(&rows[i], &scored[i], stderr, path)
		}
		prog.add(len(rows))
		rows = rows[:0]
		return nil
	}
	sha, bad, err := readCorpus(path, p.decode, stderr, func(_ int, row models.LabeledEvent) error {
		rows = append(rows, row)
		if len(rows) == scoreBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return nil, fileInfo{}, err
	}
	prog.done()
	acc.bad += bad
	info.sha = sha
	return acc, info, nil
}

// evalFileCV is evalFile under K-fold cross-validation: a first pass
// reads each row's model tokens, K models are trained (each without one
// fold), and a second pass scores every row with the model that did not
// see it. The K scoring paths share one reputation store and clock, so
// sender history is the same as in a plain run.
func evalFileCV(ctx context.Context, s settings, path string, baseline *rules.Ruleset, o evalOptions, stderr io.Writer) (*accumulator, fileInfo, error) {
	x, err := features.NewExtractor(features.Config{NoModel: true})
	if err != nil {
		return nil, fileInfo{}, err
	}
	var examples []textmodel.Example
	tf := textmodel.TrainingFile{Name: filepath.Base(path), Rows: map[string]int{}}
	sha, _, err := readCorpus(path, models.DecodeOptions{}, io.Discard, func(_ int, row models.LabeledEvent) error {
		tf.Rows[string(row.Label)]++
		examples = append(examples, textmodel.Example{Doc: x.ModelDoc(row.Text), Positive: row.Label.Positive()})
		return nil
	})
	if err != nil {
		return nil, fileInfo{}, err
	}
	tf.SHA256 = sha
	folds := textmodel.Folds(len(examples), o.cv, o.params.Seed)
	rep, err := memrep.New(memrep.Config{IDRetention: s.redis.IDRetention})
	if err != nil {
		return nil, fileInfo{}, err
	}
	clock := &replayClock{}
	s.now, s.rep = clock.Now, rep
	paths := make([]*pipeline, o.cv)
	for k := range paths {
		var train []textmodel.Example
		for i, ex := range examples {
			if folds[i] != k {
				train = append(train, ex)
			}
		}
		m, err := textmodel.Train(train, []textmodel.TrainingFile{tf}, o.params)
		if err != nil {
			return nil, fileInfo{}, fmt.Errorf("%s: fold %d: %w", path, k+1, err)
		}
		s.model = m
		if paths[k], err = newPipeline(ctx, s, false); err != nil {
			return nil, fileInfo{}, err
		}
		defer paths[k].Close()
	}
	info := fileInfo{sha: sha, rules: paths[0].engine.Rules(), model: &modelInfo{
		Version:   fmt.Sprintf("cv%d (%s, seed %d)", o.cv, o.params.Algorithm, o.params.Seed),
		Algorithm: o.params.Algorithm,
	}}
	acc := newAccumulator(info.rules, s.minSeverity, baseline)
	acc.showErrors = o.showErrors
	prog := newProgress(path, o.progress, stderr)
	var rows []models.LabeledEvent
	var idx []int
	n := 0
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		out := make([]detector.Scored, len(rows))
		for i := range rows {
			clock.Advance(rows[i].TS)
		}
		for k, p := range paths {
			var evs []models.Event
			var at []int
			for i := range rows {
				if folds[idx[i]] == k {
					evs = append(evs, rows[i].Event)
					at = append(at, i)
				}
			}
			if len(evs) == 0 {
				continue
			}
			scored, err := p.engine.Score(ctx, evs)
			if err != nil {
				return err
			}
			for j := range scored {
				out[at[j]] = scored[j]
			}
		}
		for i := range rows {
			acc.add(&rows[i], &out[i], stderr, path)
		}
		prog.add(len(rows))
		rows, idx = rows[:0], idx[:0]
		return nil
	}
	_, bad, err := readCorpus(path, paths[0].decode, stderr, func(_ int, row models.LabeledEvent) error {
		rows = append(rows, row)
		idx = append(idx, n)
		n++
		if len(rows) == scoreBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return nil, fileInfo{}, err
	}
	prog.done()
	acc.bad += bad
	return acc, info, nil
}

// progress reports rows scored on stderr for large files: a line every
// `every` rows, and one at the end of a file that needed any.
type progress struct {
	path  string
	w     io.Writer
	every int
	n     int
	next  int
	start time.Time
}

func newProgress(path string, every int, w io.Writer) *progress {
	if every <= 0 {
		w = nil
	}
	return &progress{path: path, w: w, every: every, next: every, start: time.Now()}
}

func (p *progress) add(n int) {
	p.n += n
	if p.w != nil && p.n >= p.next {
		fmt.Fprintf(p.w, "eval: %s: %d rows (%.0f/s)\n", p.path, p.n, float64(p.n)/time.Since(p.start).Seconds())
		for p.next <= p.n {
			p.next += p.every
		}
	}
}

func (p *progress) done() {
	if p.w != nil && p.n >= p.every {
		fmt.Fprintf(p.w, "eval: %s: done, %d rows in %.1fs\n", p.path, p.n, time.Since(p.start).Seconds())
	}
}

// describeModel summarises the model in use for the report.
func describeModel(m *textmodel.Model) *modelInfo {
	if m == nil {
		return &modelInfo{Version: "none"}
	}
	mi := &modelInfo{Version: m.Version(), Algorithm: m.Algorithm(), Features: m.Len()}
	for _, f := range m.Training().Files {
		mi.TrainedOn = append(mi.TrainedOn, f.Name)
	}
	return mi
}

// errScored reports whether a scored event hit an internal error; such
// events are counted as bad rows, not judged.
func errScored(sc *detector.Scored, stderr io.Writer, path string) bool {
	if sc.Err == nil {
		return false
	}
	fmt.Fprintf(stderr, "%s: event %q: %v\n", path, sc.Event.ID, sc.Err)
	return true
}
