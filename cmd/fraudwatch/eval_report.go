package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"

	"fraudwatch/detector"
	"fraudwatch/detector/rules"
	"fraudwatch/models"
)

// evalReport is eval's JSON document (documented in the README).
type evalReport struct {
	RulesVersion string      `json:"rules_version"`
	Model        *modelInfo  `json:"model"`
	MinSeverity  string      `json:"min_severity"`
	CV           int         `json:"cv,omitempty"`
	Datasets     []dataset   `json:"datasets"`
	Rules        []ruleStats `json:"rules"`
}

type modelInfo struct {
	Version   string   `json:"version"`
	Algorithm string   `json:"algorithm,omitempty"`
	Features  int      `json:"features,omitempty"`
	TrainedOn []string `json:"trained_on,omitempty"`
}

// metrics are the confusion counts and the figures derived from them. A
// figure that is undefined (precision with nothing flagged) is null.
type metrics struct {
	N         int      `json:"n"`
	TP        int      `json:"tp"`
	FP        int      `json:"fp"`
	TN        int      `json:"tn"`
	FN        int      `json:"fn"`
	Precision *float64 `json:"precision"`
	Recall    *float64 `json:"recall"`
	F1        *float64 `json:"f1"`
	FPR       *float64 `json:"fpr"`
}

type dataset struct {
	Path string `json:"path"`
	metrics
	SHA256          string          `json:"sha256"`
	Positives       int             `json:"positives"`
	Negatives       int             `json:"negatives"`
	BadRows         int             `json:"bad_rows"`
	CV              int             `json:"cv,omitempty"`
	InModelTraining bool            `json:"in_model_training"`
	Note            string          `json:"note,omitempty"`
	Seconds         float64         `json:"seconds"`
	Severities      map[string]pair `json:"severities"` // severity → negatives, positives
	Categories      []categoryStats `json:"categories"`
	Rules           []ruleStats     `json:"rules"`
	Sweep           []sweepPoint    `json:"sweep"`
	ModelSweep      []sweepPoint    `json:"model_sweep"`
	ModelBrier      *float64        `json:"model_brier"`
	Baseline        *baselineReport `json:"baseline,omitempty"`
	// Errors lists up to --show-errors false positives and negatives.
	Errors *errorList `json:"errors,omitempty"`
}

type errorList struct {
	FalsePositives []misjudged `json:"false_positives"`
	FalseNegatives []misjudged `json:"false_negatives"`
}

// misjudged is one row eval got wrong, for the analyst.
type misjudged struct {
	EventID    string   `json:"event_id"`
	Label      string   `json:"label"`
	Severity   string   `json:"severity"`
	Score      float64  `json:"score"`
	ModelScore float64  `json:"model_score"`
	Rules      []string `json:"rules"`
	Text       string   `json:"text"` // first 100 characters, card numbers masked
}

// pair counts negatives and positives.
type pair struct {
	Negatives int `json:"negatives"`
	Positives int `json:"positives"`
}

type categoryStats struct {
	Category models.Category `json:"category"`
	N        int             `json:"n"`       // rows labelled with the category
	Flagged  int             `json:"flagged"` // of those, flagged (any category)
	Recall   *float64        `json:"recall"`
	// Predicted: flagged rows whose verdict lists the category; Correct:
	// of those, rows labelled with it.
	Predicted int      `json:"predicted"`
	Correct   int      `json:"correct"`
	Precision *float64 `json:"precision"`
}

type ruleStats struct {
	ID       string          `json:"id"`
	Category models.Category `json:"category"`
	Weight   float64         `json:"weight"`
	Shadow   bool            `json:"shadow"`
	HitsPos  int             `json:"hits_pos"`
	HitsNeg  int             `json:"hits_neg"`
	// SO is SpamAssassin's S/O ratio: the rule's hit rate on positives
	// over its hit rates on positives and negatives; 1 = fires only on
	// positives. Null when it never fires or a class is empty.
	SO *float64 `json:"so"`
}

type sweepPoint struct {
	Threshold float64  `json:"threshold"`
	Flagged   int      `json:"flagged"`
	Precision *float64 `json:"precision"`
	Recall    *float64 `json:"recall"`
	FPR       *float64 `json:"fpr"`
}

type baselineReport struct {
	RulesVersion string  `json:"rules_version"`
	Metrics      metrics `json:"metrics"`
	Delta        delta   `json:"delta"`
	FlipsTotal   int     `json:"flips_total"`
	Flips        []flip  `json:"flips"`
}

type delta struct {
	Precision *float64 `json:"precision"`
	Recall    *float64 `json:"recall"`
	F1        *float64 `json:"f1"`
	FPR       *float64 `json:"fpr"`
}

type flip struct {
	EventID  string  `json:"event_id"`
	Label    string  `json:"label"`
	Before   string  `json:"before"` // severity under the baseline rules
	After    string  `json:"after"`  // and under the evaluated rules
	ScoreOld float64 `json:"score_before"`
	ScoreNew float64 `json:"score_after"`
}

// modelThresholds are where the text model alone is swept.
var modelThresholds = []float64{0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99}

// accumulator collects the figures of one or more files in memory that
// does not grow with the rows (a score histogram and fixed counters; the
// flips list is capped).
type accumulator struct {
	rs       *rules.Ruleset
	min      models.Severity
	baseline *rules.Ruleset
	maxFlips int

	c          counts
	bad        int
	severities [5]pair
	cats       map[models.Category]*categoryStats
	labelled   bool               // some row carries categories
	hits       map[string]*[2]int // rule id → negatives, positives
	scores     map[float64]*[2]int
	model      [][2]int // per modelThresholds: negatives, positives at or above
	brier      float64
	brierN     int

	bc    counts
	flips []flip
	nflip int

	showErrors int
	errs       errorList
}

type counts struct{ tp, fp, tn, fn int }

func newAccumulator(rs *rules.Ruleset, min models.Severity, baseline *rules.Ruleset) *accumulator {
	return &accumulator{
		rs: rs, min: min, baseline: baseline, maxFlips: 1000,
		cats:   map[models.Category]*categoryStats{},
		hits:   map[string]*[2]int{},
		scores: map[float64]*[2]int{},
		model:  make([][2]int, len(modelThresholds)),
	}
}

func (c *counts) add(positive, flagged bool) {
	switch {
	case positive && flagged:
		c.tp++
	case positive:
		c.fn++
	case flagged:
		c.fp++
	default:
		c.tn++
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// add counts one scored row.
func (a *accumulator) add(row *models.LabeledEvent, sc *detector.Scored, stderr io.Writer, path string) {
	if errScored(sc, stderr, path) {
		a.bad++
		return
	}
	pos := row.Label.Positive()
	v := &sc.Verdict
	flagged := v.Severity >= a.min
	a.c.add(pos, flagged)
	if pos != flagged && a.showErrors > 0 {
		list := &a.errs.FalseNegatives
		if flagged {
			list = &a.errs.FalsePositives
		}
		if len(*list) < a.showErrors {
			m := misjudged{EventID: row.ID, Label: string(row.Label), Severity: v.Severity.String(), Score: v.Score,
				ModelScore: math.Round(sc.Features.ModelScore*1e4) / 1e4, Rules: []string{}}
			for _, r := range v.Reasons {
				m.Rules = append(m.Rules, fmt.Sprintf("%s(%+g)", r.Rule, r.Weight))
			}
			text, cut := models.TruncateRunes(models.MaskSensitive(strings.Join(strings.Fields(row.Text), " ")), 100)
			if cut {
				text += "…"
			}
			m.Text = text
			*list = append(*list, m)
		}
	}
	if int(v.Severity) >= 0 && int(v.Severity) < len(a.severities) {
		if pos {
			a.severities[v.Severity].Positives++
		} else {
			a.severities[v.Severity].Negatives++
		}
	}
	for _, c := range row.Categories {
		a.labelled = true
		cs := a.cat(c)
		cs.N++
		if flagged {
			cs.Flagged++
		}
	}
	if flagged {
		for _, c := range v.Categories {
			cs := a.cat(c)
			cs.Predicted++
			for _, rc := range row.Categories {
				if rc == c {
					cs.Correct++
					break
				}
			}
		}
	}
	for _, r := range v.Reasons {
		h := a.hits[r.Rule]
		if h == nil {
			h = new([2]int)
			a.hits[r.Rule] = h
		}
		h[b2i(pos)]++
	}
	s := a.scores[v.Score]
	if s == nil {
		s = new([2]int)
		a.scores[v.Score] = s
	}
	s[b2i(pos)]++
	p := sc.Features.ModelScore
	for i, t := range modelThresholds {
		if p >= t {
			a.model[i][b2i(pos)]++
		}
	}
	d := p - float64(b2i(pos))
	a.brier += d * d
	a.brierN++

	if a.baseline != nil {
		ev, _ := a.baseline.Evaluate(&sc.Features)
		was := ev.Severity >= a.min
		a.bc.add(pos, was)
		if was != flagged {
			a.nflip++
			if len(a.flips) < a.maxFlips {
				a.flips = append(a.flips, flip{EventID: row.ID, Label: string(row.Label),
					Before: ev.Severity.String(), After: v.Severity.String(), ScoreOld: ev.Score, ScoreNew: v.Score})
			}
		}
	}
}

func (a *accumulator) cat(c models.Category) *categoryStats {
	cs := a.cats[c]
	if cs == nil {
		cs = &categoryStats{Category: c}
		a.cats[c] = cs
	}
	return cs
}

// merge adds b's rule hits and counts to a (for the all-files rule table).
func (a *accumulator) merge(b *accumulator) {
	a.c.tp += b.c.tp
	a.c.fp += b.c.fp
	a.c.tn += b.c.tn
	a.c.fn += b.c.fn
	for id, h := range b.hits {
		x := a.hits[id]
		if x == nil {
			x = new([2]int)
			a.hits[id] = x
		}
		x[0] += h[0]
		x[1] += h[1]
	}
}

func ratio(num, den int) *float64 {
	if den == 0 {
		return nil
	}
	return round4(float64(num) / float64(den))
}

func round4(x float64) *float64 {
	r := math.Round(x*1e4) / 1e4
	return &r
}

func (c counts) metrics() metrics {
	m := metrics{N: c.tp + c.fp + c.tn + c.fn, TP: c.tp, FP: c.fp, TN: c.tn, FN: c.fn,
		Precision: ratio(c.tp, c.tp+c.fp), Recall: ratio(c.tp, c.tp+c.fn), FPR: ratio(c.fp, c.fp+c.tn)}
	if m.Precision != nil && m.Recall != nil {
		p, r := float64(c.tp)/float64(c.tp+c.fp), float64(c.tp)/float64(c.tp+c.fn)
		if p+r == 0 {
			m.F1 = round4(0)
		} else {
			m.F1 = round4(2 * p * r / (p + r))
		}
	}
	return m
}

// dataset turns the accumulated figures into the report of one file.
func (a *accumulator) dataset(path string, maxFlips int) dataset {
	pos, neg := a.c.tp+a.c.fn, a.c.fp+a.c.tn
	ds := dataset{Path: path, metrics: a.c.metrics(), Positives: pos, Negatives: neg, BadRows: a.bad,
		Severities: map[string]pair{}, Rules: a.ruleStats(false)}
	for i, p := range a.severities {
		ds.Severities[models.Severity(i).String()] = p
	}
	for _, c := range models.AllCategories() {
		cs, ok := a.cats[c]
		if !ok || !a.labelled || cs.N == 0 && cs.Predicted == 0 {
			continue
		}
		out := *cs
		out.Recall = ratio(cs.Flagged, cs.N)
		out.Precision = ratio(cs.Correct, cs.Predicted)
		ds.Categories = append(ds.Categories, out)
	}
	if ds.Categories == nil {
		ds.Categories = []categoryStats{}
	}
	// Score sweep: flagged = score ≥ threshold, at every score seen.
	keys := make([]float64, 0, len(a.scores))
	for k := range a.scores {
		keys = append(keys, k)
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(keys)))
	var cn, cp int
	for _, k := range keys {
		cn += a.scores[k][0]
		cp += a.scores[k][1]
		if k <= 0 {
			break // a threshold at or below zero flags everything with no evidence
		}
		ds.Sweep = append(ds.Sweep, sweepPoint{Threshold: k, Flagged: cn + cp,
			Precision: ratio(cp, cn+cp), Recall: ratio(cp, pos), FPR: ratio(cn, neg)})
	}
	if ds.Sweep == nil {
		ds.Sweep = []sweepPoint{}
	}
	for i, t := range modelThresholds {
		n, p := a.model[i][0], a.model[i][1]
		ds.ModelSweep = append(ds.ModelSweep, sweepPoint{Threshold: t, Flagged: n + p,
			Precision: ratio(p, n+p), Recall: ratio(p, pos), FPR: ratio(n, neg)})
	}
	if a.showErrors > 0 {
		e := a.errs
		if e.FalsePositives == nil {
			e.FalsePositives = []misjudged{}
		}
		if e.FalseNegatives == nil {
			e.FalseNegatives = []misjudged{}
		}
		ds.Errors = &e
	}
	if a.brierN > 0 {
		ds.ModelBrier = round4(a.brier / float64(a.brierN))
	}
	if a.baseline != nil {
		bm := a.bc.metrics()
		ds.Baseline = &baselineReport{RulesVersion: a.baseline.Version(), Metrics: bm, FlipsTotal: a.nflip, Flips: a.flips,
			Delta: delta{Precision: sub(ds.Precision, bm.Precision), Recall: sub(ds.Recall, bm.Recall), F1: sub(ds.F1, bm.F1), FPR: sub(ds.FPR, bm.FPR)}}
		if len(ds.Baseline.Flips) > maxFlips {
			ds.Baseline.Flips = ds.Baseline.Flips[:maxFlips]
		}
		if ds.Baseline.Flips == nil {
			ds.Baseline.Flips = []flip{}
		}
	}
	return ds
}

func sub(a, b *float64) *float64 {
	if a == nil || b == nil {
		return nil
	}
	return round4(*a - *b)
}

// ruleStats lists the rules in file order: all of them (all) or those
// that fired.
func (a *accumulator) ruleStats(all bool) []ruleStats {
	pos, neg := a.c.tp+a.c.fn, a.c.fp+a.c.tn
	out := []ruleStats{}
	for _, r := range a.rs.Rules() {
		h := a.hits[r.ID]
		if h == nil {
			h = new([2]int)
		}
		if !all && h[0]+h[1] == 0 {
			continue
		}
		rs := ruleStats{ID: r.ID, Category: r.Category, Weight: r.Weight, Shadow: r.Shadow, HitsNeg: h[0], HitsPos: h[1]}
		if pos > 0 && neg > 0 && h[0]+h[1] > 0 {
			sp, hp := float64(h[1])/float64(pos), float64(h[0])/float64(neg)
			rs.SO = round4(sp / (sp + hp))
		}
		out = append(out, rs)
	}
	return out
}

func fmtMetric(p *float64) string {
	if p == nil {
		return "—"
	}
	return fmt.Sprintf("%.4f", *p)
}

func fmtDelta(p *float64) string {
	if p == nil {
		return "—"
	}
	return fmt.Sprintf("%+.4f", *p)
}

// writeEvalText prints the report for people.
func writeEvalText(w io.Writer, r *evalReport) {
	model := r.Model.Version
	if len(r.Model.TrainedOn) > 0 {
		model += fmt.Sprintf(" (%s, %d features, trained on %s)", r.Model.Algorithm, r.Model.Features, strings.Join(r.Model.TrainedOn, ", "))
	}
	fmt.Fprintf(w, "rules %s · model %s · flagged = severity ≥ %s\n", r.RulesVersion, model, r.MinSeverity)
	for _, ds := range r.Datasets {
		fmt.Fprintf(w, "\n== %s", ds.Path)
		if ds.CV > 0 {
			fmt.Fprintf(w, "  [%d-fold cross-validated text model]", ds.CV)
		}
		if ds.InModelTraining {
			fmt.Fprintf(w, "  [IN THE MODEL'S TRAINING DATA: figures are optimistic]")
		}
		fmt.Fprintf(w, "\n   n %d (%d positive, %d negative)  tp %d  fp %d  tn %d  fn %d  bad rows %d  %.1fs\n",
			ds.N, ds.Positives, ds.Negatives, ds.TP, ds.FP, ds.TN, ds.FN, ds.BadRows, ds.Seconds)
		fmt.Fprintf(w, "   precision %s  recall %s  F1 %s  FPR %s\n", fmtMetric(ds.Precision), fmtMetric(ds.Recall), fmtMetric(ds.F1), fmtMetric(ds.FPR))
		if b := ds.Baseline; b != nil {
			fmt.Fprintf(w, "   vs baseline %s: precision %s  recall %s  F1 %s  FPR %s  (%d verdicts flip)\n", b.RulesVersion,
				fmtDelta(b.Delta.Precision), fmtDelta(b.Delta.Recall), fmtDelta(b.Delta.F1), fmtDelta(b.Delta.FPR), b.FlipsTotal)
			for _, f := range b.Flips {
				fmt.Fprintf(w, "     flip %-28s %-4s %s (%.2f) → %s (%.2f)\n", f.EventID, f.Label, f.Before, f.ScoreOld, f.After, f.ScoreNew)
			}
		}
		if e := ds.Errors; e != nil {
			for _, group := range []struct {
				name string
				list []misjudged
			}{{"false positive", e.FalsePositives}, {"false negative", e.FalseNegatives}} {
				for _, m := range group.list {
					fmt.Fprintf(w, "     %s %s (%s) %s %.2f model %.2f %s\n       %q\n", group.name, m.EventID, m.Label, m.Severity, m.Score, m.ModelScore, strings.Join(m.Rules, " "), m.Text)
				}
			}
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		if len(ds.Categories) > 0 {
			fmt.Fprintln(tw, "   category\tlabelled\tflagged\trecall\tpredicted\tprecision")
			for _, c := range ds.Categories {
				fmt.Fprintf(tw, "   %s\t%d\t%d\t%s\t%d\t%s\n", c.Category, c.N, c.Flagged, fmtMetric(c.Recall), c.Predicted, fmtMetric(c.Precision))
			}
			tw.Flush()
		}
		fmt.Fprintln(tw, "   score ≥\tflagged\tprecision\trecall\tFPR")
		for _, p := range thinSweep(ds.Sweep, 12) {
			fmt.Fprintf(tw, "   %.2f\t%d\t%s\t%s\t%s\n", p.Threshold, p.Flagged, fmtMetric(p.Precision), fmtMetric(p.Recall), fmtMetric(p.FPR))
		}
		tw.Flush()
		fmt.Fprintf(tw, "   model alone ≥\tflagged\tprecision\trecall\tFPR\t(Brier %s)\n", fmtMetric(ds.ModelBrier))
		for _, p := range ds.ModelSweep {
			fmt.Fprintf(tw, "   %.2f\t%d\t%s\t%s\t%s\n", p.Threshold, p.Flagged, fmtMetric(p.Precision), fmtMetric(p.Recall), fmtMetric(p.FPR))
		}
		tw.Flush()
	}
	fmt.Fprintln(w, "\nrules (all files)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   rule\tcategory\tweight\ton positives\ton negatives\tS/O\t")
	for _, r := range r.Rules {
		shadow := ""
		if r.Shadow {
			shadow = "shadow"
		}
		fmt.Fprintf(tw, "   %s\t%s\t%g\t%d\t%d\t%s\t%s\n", r.ID, r.Category, r.Weight, r.HitsPos, r.HitsNeg, fmtMetric(r.SO), shadow)
	}
	tw.Flush()
}

// thinSweep keeps at most n points of a sweep, evenly spread, always the
// first and the last.
func thinSweep(s []sweepPoint, n int) []sweepPoint {
	if len(s) <= n {
		return s
	}
	out := make([]sweepPoint, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, s[i*(len(s)-1)/(n-1)])
	}
	return out
}
