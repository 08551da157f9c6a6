package triage

import (
	"context"
	"errors"
	"time"

	"fraudwatch/models"
)

// raiseHorizon is how far back (by last event time) Flush looks for
// incidents to raise: an unresolved incident quiet for longer is no
// longer repeated.
const raiseHorizon = 7 * 24 * time.Hour

// Run raises due incidents and retries unpublished verdicts every
// FlushEvery until ctx is cancelled; it returns nil then. A failed pass is
// logged and retried at the next tick.
func (t *Triage) Run(ctx context.Context) error {
	tick := time.NewTicker(t.cfg.FlushEvery)
	defer tick.Stop()
	for {
		if err := t.Flush(ctx); err != nil && ctx.Err() == nil {
			t.cfg.Logger.Warn("triage flush failed; retrying at the next tick", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// Flush makes one pass: it raises the incidents that are due (group_wait
// after creation, group_interval after the last raise when new alerts
// came, repeat_interval while still open) and writes the feedback of
// resolved incidents whose records are not yet acknowledged.
func (t *Triage) Flush(ctx context.Context) error {
	now := t.cfg.Clock()
	incs, err := t.store.Incidents(ctx, now.Add(-raiseHorizon), time.Time{})
	if err != nil {
		return err
	}
	var ns []Notification
	var errs []error
	for _, inc := range incs {
		if inc.Status == models.StatusResolved {
			if inc.FeedbackPending {
				if err := t.republish(ctx, inc); err != nil {
					errs = append(errs, err)
				}
			}
			continue
		}
		reason := t.due(inc, now)
		if reason == "" {
			continue
		}
		raised := inc
		raised.NotifiedAt, raised.NotifiedAlerts = now, inc.AlertCount-inc.SilencedCount
		raised.Version++
		err := t.store.Commit(ctx, Change{Incidents: []IncidentWrite{{Incident: raised, PrevVersion: inc.Version}}})
		if errors.Is(err, ErrConflict) {
			continue // changed meanwhile (or raised by another instance): next pass
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ns = append(ns, Notification{Incident: public(raised), Reason: reason})
	}
	if len(ns) > 0 {
		if err := t.notify(ctx, ns); err != nil {
			t.cfg.Logger.Warn("delivering incident notifications failed", "incidents", len(ns), "err", err)
		}
	}
	return errors.Join(errs...)
}

// due says why inc is to be raised now ("" when it is not): only visible
// incidents with alerts no silence holds back are raised.
func (t *Triage) due(inc models.Incident, now time.Time) string {
	raisable := inc.AlertCount - inc.SilencedCount
	switch {
	case inc.InhibitedBy != "" || raisable == 0:
		return ""
	case inc.NotifiedAt.IsZero():
		if !now.Before(inc.CreatedAt.Add(t.cfg.GroupWait)) {
			return "new"
		}
	case raisable > inc.NotifiedAlerts && !now.Before(inc.NotifiedAt.Add(t.cfg.GroupInterval)):
		return "update"
	case inc.Status == models.StatusOpen && !now.Before(inc.NotifiedAt.Add(t.cfg.RepeatInterval)):
		return "repeat"
	}
	return ""
}

func (t *Triage) notify(ctx context.Context, ns []Notification) error {
	for _, n := range ns {
		if f := t.cfg.Observer.Notified; f != nil {
			f(n.Reason)
		}
	}
	for _, n := range ns {
		senders := make([]string, 0, len(n.Incident.Senders))
		for _, s := range n.Incident.Senders {
			senders = append(senders, s.Masked)
		}
		t.cfg.Logger.Info("incident raised", "incident", n.Incident.ID, "reason", n.Reason,
			"severity", n.Incident.Severity.String(), "categories", n.Incident.Categories,
			"alerts", n.Incident.AlertCount, "silenced", n.Incident.SilencedCount,
			"employees", len(n.Incident.Employees), "senders", senders)
	}
	if t.cfg.Notifier != nil {
		return t.cfg.Notifier.Notify(ctx, ns)
	}
	return nil
}

// republish writes the feedback of a resolved incident again.
func (t *Triage) republish(ctx context.Context, inc models.Incident) error {
	alerts, covered, err := t.timeline(ctx, inc, false)
	if err != nil {
		return err
	}
	// The covered incidents resolved with inc (not those resolved before
	// it) belong to its verdict, as in Resolve.
	with := map[string]bool{inc.ID: true}
	for _, c := range covered {
		with[c.ID] = c.ResolvedAt.Equal(inc.ResolvedAt)
	}
	own := alerts[:0]
	for _, a := range alerts {
		if with[a.IncidentID] {
			own = append(own, a)
		}
	}
	_, err = t.publish(ctx, inc, own)
	return err
}
