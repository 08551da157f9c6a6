package main

import (
	"fmt"
	"io"
	"strings"

	"fraudwatch/detector"
	"fraudwatch/detector/rules"
	"fraudwatch/features"
	"fraudwatch/models"
)

// explainTopTokens is how many model features `score --explain` lists.
const explainTopTokens = 8

// explainer prints, per event, why it got its verdict: every rule that
// fired with its weight and evidence, the text model's probability and
// the features that moved it most, and the final score and severity.
// Evidence is the masked evidence of the verdict; model features are
// stems, not message text.
func explainer(w io.Writer, x *features.Extractor, rs *rules.Ruleset) func(*detector.Scored) error {
	desc := map[string]string{}
	for _, r := range rs.Rules() {
		desc[r.ID] = r.Description
	}
	th := rs.Thresholds()
	return func(s *detector.Scored) error {
		v := &s.Verdict
		ev := &s.Event
		flagged := "not flagged"
		if v.Flagged {
			flagged = "FLAGGED"
		}
		from := models.MaskNumber(ev.From)
		if from == "" {
			from = "unknown sender"
		}
		fmt.Fprintf(w, "== %s  %s from %s", ev.ID, ev.Kind, from)
		if ev.To != "" {
			fmt.Fprintf(w, " to %s", ev.To)
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "   score %g → %s, %s  (thresholds: low %g, medium %g, high %g, critical %g)\n",
			v.Score, v.Severity, flagged, th.Low, th.Medium, th.High, th.Critical)
		if len(v.Categories) > 0 {
			cats := make([]string, len(v.Categories))
			for i, c := range v.Categories {
				cats[i] = string(c)
			}
			fmt.Fprintf(w, "   categories: %s\n", strings.Join(cats, ", "))
		}
		if len(v.Reasons) == 0 {
			fmt.Fprintln(w, "   rules: none fired")
		} else {
			fmt.Fprintln(w, "   rules:")
		}
		for _, r := range v.Reasons {
			weight := fmt.Sprintf("%+g", r.Weight)
			if r.Shadow {
				weight = "shadow " + weight + " (not counted)"
			}
			fmt.Fprintf(w, "     %-8s %s [%s] %s\n", weight, r.Rule, r.Category, desc[r.Rule])
			if r.Evidence != "" {
				fmt.Fprintf(w, "              evidence: %q\n", r.Evidence)
			}
		}
		if only := onlyUnknownNumber(v); only {
			fmt.Fprintln(w, "   (only unknown_number rules fired: they strengthen other signals and never alert alone)")
		}
		m := x.Model()
		switch {
		case m == nil:
			fmt.Fprintln(w, "   text model: none")
		case ev.Text == "":
			fmt.Fprintf(w, "   text model %s: no text\n", m.Version())
		default:
			e := m.Explain(x.ModelDoc(ev.Text), explainTopTokens)
			fmt.Fprintf(w, "   text model %s: model_score %.4f (log-odds %+.3f = bias %+.3f + features %+.3f)\n",
				m.Version(), e.Probability, e.LogOdds, e.Bias, e.LogOdds-e.Bias)
			if len(e.Top) > 0 {
				parts := make([]string, len(e.Top))
				for i, c := range e.Top {
					parts[i] = fmt.Sprintf("%q %+.2f", c.Feature, c.Weight)
				}
				fmt.Fprintf(w, "     top features: %s\n", strings.Join(parts, ", "))
			} else {
				fmt.Fprintln(w, "     no word of the text is known to the model: the score is its prior")
			}
		}
		fmt.Fprintln(w)
		return nil
	}
}

// onlyUnknownNumber reports a verdict whose only positive rules are
// unknown_number ones (severity none by design), so the reader is not
// puzzled by a positive score without a severity.
func onlyUnknownNumber(v *models.Verdict) bool {
	if v.Severity != models.SeverityNone || v.Score <= 0 {
		return false
	}
	for _, r := range v.Reasons {
		if !r.Shadow && r.Weight > 0 && r.Category != models.CategoryUnknownNumber {
			return false
		}
	}
	return true
}
