package triage

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"fraudwatch/models"
)

// List returns one page of the incidents matching f, most recently seen
// first. Inhibited incidents and incidents made only of silenced alerts
// are left out unless f asks for them.
func (t *Triage) List(ctx context.Context, f Filter) (Page, error) {
	if f.Offset < 0 || f.Limit < 0 {
		return Page{}, inputErrorf("offset %d and limit %d must not be negative", f.Offset, f.Limit)
	}
	if f.Limit == 0 {
		f.Limit = DefaultPageLimit
	}
	f.Limit = min(f.Limit, MaxPageLimit)
	for _, s := range f.Status {
		if !s.Valid() {
			return Page{}, inputErrorf("status %q: want open, acknowledged or resolved", s)
		}
	}
	incs, err := t.store.Incidents(ctx, f.From, f.To)
	if err != nil {
		return Page{}, err
	}
	text := strings.ToLower(strings.TrimSpace(f.Text))
	matched := make([]models.Incident, 0, len(incs))
	for _, inc := range incs {
		if f.matches(inc, text) {
			matched = append(matched, inc)
		}
	}
	page := Page{Total: len(matched), Offset: f.Offset, Limit: f.Limit, Incidents: []models.Incident{}}
	if f.Offset < len(matched) {
		for _, inc := range matched[f.Offset:min(len(matched), f.Offset+f.Limit)] {
			page.Incidents = append(page.Incidents, public(inc))
		}
	}
	return page, nil
}

func (f Filter) matches(inc models.Incident, text string) bool {
	switch {
	case !f.Inhibited && inc.InhibitedBy != "":
		return false
	case !f.Silenced && inc.AlertCount > 0 && inc.SilencedCount == inc.AlertCount:
		return false
	case len(f.Status) > 0 && !slices.Contains(f.Status, inc.Status):
		return false
	case len(f.Severity) > 0 && !slices.Contains(f.Severity, inc.Severity):
		return false
	case f.Category != "" && !slices.Contains(inc.Categories, f.Category):
		return false
	case f.Employee != "" && !slices.Contains(inc.Employees, f.Employee):
		return false
	case f.Campaign != "" && inc.Campaign != f.Campaign:
		return false
	case f.SenderHash != "" && !slices.ContainsFunc(inc.Senders, func(s models.IncidentSender) bool { return s.Hash == f.SenderHash }):
		return false
	case text != "" && !strings.Contains(inc.Search, text) && !strings.Contains(strings.ToLower(inc.ID), text):
		return false
	}
	return true
}

// public is an incident as the API shows it: without its search text.
func public(inc models.Incident) models.Incident {
	inc.Search = ""
	return inc
}

// Detail returns an incident with its alerts and, for a campaign
// incident, the per-sender incidents it covers and their alerts, in
// event-time order.
func (t *Triage) Detail(ctx context.Context, id string) (Detail, error) {
	inc, err := t.store.Incident(ctx, id)
	if err != nil {
		return Detail{}, err
	}
	alerts, covered, err := t.timeline(ctx, inc, false)
	if err != nil {
		return Detail{}, err
	}
	d := Detail{Incident: public(inc), Alerts: alerts, Covered: []models.Incident{}}
	for _, c := range covered {
		d.Covered = append(d.Covered, public(c))
	}
	return d, nil
}

// timeline returns the alerts of inc and of the incidents it covers
// (only the unresolved ones when openOnly), in event-time order.
func (t *Triage) timeline(ctx context.Context, inc models.Incident, openOnly bool) ([]models.StoredAlert, []models.Incident, error) {
	alerts, err := t.store.IncidentAlerts(ctx, inc.ID)
	if err != nil {
		return nil, nil, err
	}
	var covered []models.Incident
	for _, cid := range inc.Covers {
		c, err := t.store.Incident(ctx, cid)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if openOnly && c.Status == models.StatusResolved {
			continue
		}
		ca, err := t.store.IncidentAlerts(ctx, cid)
		if err != nil {
			return nil, nil, err
		}
		covered = append(covered, c)
		alerts = append(alerts, ca...)
	}
	slices.SortStableFunc(alerts, func(x, y models.StoredAlert) int {
		return cmpTimeThenID(x.Alert.EventTime, y.Alert.EventTime, x.Alert.ID, y.Alert.ID)
	})
	if alerts == nil {
		alerts = []models.StoredAlert{}
	}
	return alerts, covered, nil
}

// OpenBySeverity counts the incidents the queue shows as not resolved,
// by severity: the SOC's backlog.
func (t *Triage) OpenBySeverity(ctx context.Context) (map[models.Severity]int, error) {
	incs, err := t.store.Incidents(ctx, time.Time{}, time.Time{})
	if err != nil {
		return nil, err
	}
	out := map[models.Severity]int{}
	visible := Filter{Status: []models.IncidentStatus{models.StatusOpen, models.StatusAcknowledged}}
	for _, inc := range incs {
		if visible.matches(inc, "") {
			out[inc.Severity]++
		}
	}
	return out, nil
}

// maxStatsDays bounds the range of RuleStats.
const maxStatsDays = 400

// RuleStats sums the per-day rule records over [from, to] (whole UTC
// days; default the last 30 days), busiest rule first.
func (t *Triage) RuleStats(ctx context.Context, from, to time.Time) ([]RuleStat, error) {
	if to.IsZero() {
		to = t.cfg.Clock()
	}
	if from.IsZero() {
		from = to.Add(-30 * 24 * time.Hour)
	}
	from, to = from.UTC().Truncate(24*time.Hour), to.UTC()
	if to.Before(from) {
		return nil, inputErrorf("from %v is after to %v", from, to)
	}
	if to.Sub(from) > maxStatsDays*24*time.Hour {
		return nil, inputErrorf("range of %v is longer than %d days", to.Sub(from), maxStatsDays)
	}
	byRule := map[string]*RuleStat{}
	for day := from; !day.After(to); day = day.Add(24 * time.Hour) {
		fields, err := t.store.Counters(ctx, ruleDayKey(day))
		if err != nil {
			return nil, err
		}
		for field, n := range fields {
			rule, kind, ok := strings.Cut(field, "|")
			if !ok {
				continue
			}
			s := byRule[rule]
			if s == nil {
				s = &RuleStat{Rule: rule}
				byRule[rule] = s
			}
			switch kind {
			case "hits":
				s.Hits += n
			case models.FeedbackFraud:
				s.Fraud += n
			case models.FeedbackLegit:
				s.Legit += n
			case models.FeedbackUnsure:
				s.Unsure += n
			}
		}
	}
	out := make([]RuleStat, 0, len(byRule))
	for _, s := range byRule {
		s.Precision = -1
		if s.Fraud+s.Legit > 0 {
			s.Precision = float64(s.Fraud) / float64(s.Fraud+s.Legit)
		}
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b RuleStat) int {
		if a.Hits != b.Hits {
			return int(b.Hits - a.Hits)
		}
		return strings.Compare(a.Rule, b.Rule)
	})
	return out, nil
}

// Analyst returns an analyst's verdict record and trust.
func (t *Triage) Analyst(ctx context.Context, name string) (AnalystStat, error) {
	c, err := t.store.Counters(ctx, analystKey(name))
	if err != nil {
		return AnalystStat{}, err
	}
	return AnalystStat{Analyst: name, Verdicts: c["verdicts"], Contradicted: c["contradicted"], Trust: trust(c)}, nil
}

// Audit returns audit entries at or after since, oldest first (at most
// limit; default 100, at most 1000).
func (t *Triage) Audit(ctx context.Context, since time.Time, limit int) ([]models.AuditEntry, error) {
	switch {
	case limit < 0:
		return nil, inputErrorf("limit %d is negative", limit)
	case limit == 0:
		limit = 100
	}
	entries, err := t.store.Audit(ctx, since, min(limit, 1000))
	if entries == nil && err == nil {
		entries = []models.AuditEntry{}
	}
	return entries, err
}

func analystKey(name string) string { return "analyst:" + name }

// trust is an analyst's weight from their record: 1 for a new analyst,
// less with each verdict of theirs that a later verdict contradicted.
func trust(c map[string]int64) float64 {
	v, bad := c["verdicts"], c["contradicted"]
	return max(0, 1-float64(bad)/float64(v+2))
}
