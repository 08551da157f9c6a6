package triage

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"fraudwatch/models"
)

// Limits on what analysts type.
const (
	maxNote  = 4000
	maxOwner = 128
)

// change applies fn to a fresh read of incident id and commits it with an
// audit entry, retrying when another writer got there first. fn returns
// errNoChange when there is nothing to write (the request is already
// satisfied): the incident is returned as it is and nothing is audited.
func (t *Triage) change(ctx context.Context, by Actor, id, action string, fn func(tx *txn, inc *models.Incident, now time.Time) error) (models.Incident, error) {
	if !by.Role.Allows(RoleAnalyst) {
		return models.Incident{}, ErrForbidden
	}
	for n := range maxAttempts {
		if !retryWait(ctx, n) {
			return models.Incident{}, ctx.Err()
		}
		tx := newTxn(t.store)
		inc, err := tx.load(ctx, id)
		if err != nil {
			return models.Incident{}, err
		}
		if inc == nil {
			return models.Incident{}, ErrNotFound
		}
		before := *inc
		now := t.cfg.Clock()
		if err := fn(tx, inc, now); errors.Is(err, errNoChange) {
			return public(*inc), nil
		} else if err != nil {
			return models.Incident{}, err
		}
		inc.UpdatedAt = now
		after := *inc
		after.Version = before.Version + 1
		act := action
		if tx.action != "" {
			act = tx.action
		}
		tx.change.Audit = append(tx.change.Audit, auditEntry(by, now, act, id, public(before), public(after)))
		err = tx.commit(ctx, now)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return models.Incident{}, err
		}
		return public(after), nil
	}
	return models.Incident{}, fmt.Errorf("triage: %s on %q: %d concurrent changes in a row: %w", action, id, maxAttempts, ErrConflict)
}

var errNoChange = errors.New("no change")

func auditEntry(by Actor, now time.Time, action, target string, before, after any) models.AuditEntry {
	enc := func(v any) json.RawMessage {
		if v == nil {
			return nil
		}
		b, err := json.Marshal(v)
		if err != nil {
			return json.RawMessage(fmt.Sprintf("%q", "not encodable: "+err.Error()))
		}
		return b
	}
	return models.AuditEntry{At: now, Actor: by.Name, Role: string(by.Role), Action: action, Target: target, Before: enc(before), After: enc(after)}
}

// Acknowledge marks an open incident as taken; its owner becomes the
// analyst unless it has one. Acknowledging it again changes nothing.
func (t *Triage) Acknowledge(ctx context.Context, by Actor, id string) (models.Incident, error) {
	var created time.Time
	inc, err := t.change(ctx, by, id, "incident.acknowledge", func(_ *txn, inc *models.Incident, now time.Time) error {
		switch inc.Status {
		case models.StatusResolved:
			return stateErrorf("incident %s is resolved", inc.ID)
		case models.StatusAcknowledged:
			return errNoChange
		}
		inc.Status, inc.AcknowledgedAt = models.StatusAcknowledged, now
		if inc.Owner == "" {
			inc.Owner = by.Name
		}
		created = inc.CreatedAt
		return nil
	})
	if err == nil && !created.IsZero() && t.cfg.Observer.Acknowledged != nil {
		t.cfg.Observer.Acknowledged(inc.AcknowledgedAt.Sub(created))
	}
	return inc, err
}

// Assign sets an unresolved incident's owner ("" unassigns it).
func (t *Triage) Assign(ctx context.Context, by Actor, id, owner string) (models.Incident, error) {
	owner = strings.TrimSpace(owner)
	if len(owner) > maxOwner {
		return models.Incident{}, inputErrorf("owner is longer than %d bytes", maxOwner)
	}
	return t.change(ctx, by, id, "incident.assign", func(_ *txn, inc *models.Incident, _ time.Time) error {
		switch {
		case inc.Status == models.StatusResolved:
			return stateErrorf("incident %s is resolved", inc.ID)
		case inc.Owner == owner:
			return errNoChange
		}
		inc.Owner = owner
		return nil
	})
}

// AddNote appends an analyst's note to an incident, resolved or not.
func (t *Triage) AddNote(ctx context.Context, by Actor, id, text string) (models.Incident, error) {
	text = strings.TrimSpace(text)
	switch {
	case text == "":
		return models.Incident{}, inputErrorf("the note is empty")
	case len(text) > maxNote:
		return models.Incident{}, inputErrorf("the note is longer than %d bytes", maxNote)
	}
	return t.change(ctx, by, id, "incident.note", func(_ *txn, inc *models.Incident, now time.Time) error {
		inc.Notes = append(inc.Notes, models.Note{Author: by.Name, Text: text, At: now})
		return nil
	})
}

// Resolve closes an incident with a verdict, and the per-sender incidents
// it covers with it. The verdict is sent as one feedback record per alert
// to the detector, which counts it in the senders' reputation ("fraud"
// and "legit" counters; "legit" also allowlists the sender for a while).
//
// A "legit" verdict lowers protection, so it may need a second analyst:
// when a sender in the incident has SecondAnalystAfter or more "fraud"
// verdicts, or when the trust of the analysts who gave it adds up to less
// than MinTrust (trust falls when an analyst's verdicts are later
// contradicted). It is then recorded as pending, and a different
// analyst's "legit" completes it; "fraud" or "unsure" replaces it.
//
// The incident is committed as resolved before the records are written
// (an outbox): if writing fails, the verdict stands and Run writes the
// records later, with the same ids.
func (t *Triage) Resolve(ctx context.Context, by Actor, id, verdict, comment string) (ResolveResult, error) {
	verdict = strings.ToLower(strings.TrimSpace(verdict))
	comment = strings.TrimSpace(comment)
	switch {
	case verdict != models.FeedbackFraud && verdict != models.FeedbackLegit && verdict != models.FeedbackUnsure:
		return ResolveResult{}, inputErrorf("verdict %q: want fraud, legit or unsure", verdict)
	case len(comment) > maxNote:
		return ResolveResult{}, inputErrorf("the comment is longer than %d bytes", maxNote)
	}
	var (
		res    ResolveResult
		alerts []models.StoredAlert
		rules  map[string]int
	)
	inc, err := t.change(ctx, by, id, "incident.resolve", func(tx *txn, inc *models.Incident, now time.Time) error {
		if inc.Status == models.StatusResolved {
			return stateErrorf("incident %s is already resolved (%s by %s)", inc.ID, inc.Resolution.Verdict, inc.Resolution.Analyst)
		}
		var covered []models.Incident
		var err error
		alerts, covered, err = t.timeline(ctx, *inc, true)
		if err != nil {
			return err
		}
		senders := alertSenders(alerts)
		approvers := []string{by.Name}
		if verdict == models.FeedbackLegit {
			var pending bool
			approvers, pending, res.Reason, err = t.approveLegit(ctx, inc, by, senders)
			if err != nil {
				return err
			}
			if pending {
				tx.action = "incident.verdict_pending"
				inc.PendingVerdict = &models.Resolution{Verdict: verdict, Analyst: approvers[0], Comment: comment, At: now, ApprovedBy: approvers[1:]}
				res.Pending = true
				return nil
			}
			if p := inc.PendingVerdict; p != nil && comment == "" {
				comment = p.Comment
			}
		}
		res.Pending, res.Reason = false, ""
		r := &models.Resolution{Verdict: verdict, Analyst: approvers[0], Comment: comment, At: now, ApprovedBy: approvers[1:]}
		resolve := func(x *models.Incident) {
			x.Status, x.ResolvedAt, x.Resolution, x.PendingVerdict = models.StatusResolved, now, r, nil
			x.Resolutions++
			x.UpdatedAt = now
		}
		resolve(inc)
		inc.FeedbackPending = true
		for _, c := range covered {
			x, err := tx.load(ctx, c.ID)
			if err != nil {
				return err
			}
			if x != nil && x.Status != models.StatusResolved {
				resolve(x)
			}
		}
		rules = map[string]int{}
		for _, a := range alerts {
			for _, rule := range alertRules(a.Alert) {
				rules[rule]++
				tx.change.Counters = append(tx.change.Counters, CounterAdd{Key: ruleDayKey(now), Field: rule + "|" + verdict, By: 1})
			}
		}
		return t.recordVerdict(ctx, tx, verdict, approvers, senders)
	})
	if err != nil {
		return ResolveResult{}, err
	}
	res.Incident = inc
	if res.Pending {
		return res, nil
	}
	if f := t.cfg.Observer.Resolved; f != nil {
		f(inc.ResolvedAt.Sub(inc.CreatedAt), verdict, rules)
	}
	n, err := t.publish(ctx, inc, alerts)
	if err != nil {
		t.cfg.Logger.Warn("verdict recorded; its feedback records will be written again later", "incident", inc.ID, "err", err)
		res.Reason = "verdict recorded; the detector gets it once the feedback topic takes it (retried automatically)"
		return res, nil
	}
	res.Feedback = n
	res.Incident.FeedbackPending = false
	return res, nil
}

// approveLegit decides whether a "legit" verdict by "by" takes effect now.
// It returns the analysts who gave it (the first one first), whether it
// still waits for another analyst, and why.
func (t *Triage) approveLegit(ctx context.Context, inc *models.Incident, by Actor, senders []string) ([]string, bool, string, error) {
	approvers := []string{}
	if p := inc.PendingVerdict; p != nil && p.Verdict == models.FeedbackLegit {
		approvers = append(append(approvers, p.Analyst), p.ApprovedBy...)
		if slices.Contains(approvers, by.Name) {
			return nil, false, "", stateErrorf("the legit verdict on %s waits for an analyst other than %s", inc.ID, strings.Join(approvers, ", "))
		}
	}
	approvers = append(approvers, by.Name)
	need := 1
	var reason string
	for _, h := range senders {
		c, err := t.store.Counters(ctx, senderVerdictKey(h))
		if err != nil {
			return nil, false, "", err
		}
		if c[models.FeedbackFraud] >= int64(t.cfg.SecondAnalystAfter) {
			need = 2
			reason = fmt.Sprintf("a sender in this incident has %d fraud verdicts: a legit verdict needs a second analyst", c[models.FeedbackFraud])
			break
		}
	}
	var sum float64
	for _, a := range approvers {
		c, err := t.store.Counters(ctx, analystKey(a))
		if err != nil {
			return nil, false, "", err
		}
		sum += trust(c)
	}
	if len(approvers) >= need && sum >= t.cfg.MinTrust {
		return approvers, false, "", nil
	}
	if reason == "" {
		reason = fmt.Sprintf("verdicts of %s were contradicted before (trust %.2f, %.2f needed): a legit verdict needs a second analyst", strings.Join(approvers, ", "), sum, t.cfg.MinTrust)
	}
	return approvers, true, reason, nil
}

// recordVerdict counts a verdict into the analysts' and senders' records.
// A verdict contradicts the opposite verdicts given earlier on the same
// sender: each of their analysts' contradicted count goes up once, and
// those verdicts are then settled (they do not count again).
func (t *Triage) recordVerdict(ctx context.Context, tx *txn, verdict string, approvers, senders []string) error {
	for _, a := range approvers {
		tx.change.Counters = append(tx.change.Counters, CounterAdd{Key: analystKey(a), Field: "verdicts", By: 1})
	}
	if verdict == models.FeedbackUnsure {
		return nil
	}
	opposite := models.FeedbackLegit
	if verdict == models.FeedbackLegit {
		opposite = models.FeedbackFraud
	}
	contradicted := map[string]int64{}
	for _, h := range senders {
		key := senderVerdictKey(h)
		c, err := t.store.Counters(ctx, key)
		if err != nil {
			return err
		}
		for field, n := range c {
			analyst, ok := strings.CutPrefix(field, opposite+":")
			if !ok || n <= 0 {
				continue
			}
			contradicted[analyst] += n
			tx.change.Counters = append(tx.change.Counters, CounterAdd{Key: key, Field: field, By: -n})
		}
		tx.change.Counters = append(tx.change.Counters, CounterAdd{Key: key, Field: verdict, By: 1})
		for _, a := range approvers {
			tx.change.Counters = append(tx.change.Counters, CounterAdd{Key: key, Field: verdict + ":" + a, By: 1})
		}
	}
	names := make([]string, 0, len(contradicted))
	for a := range contradicted {
		names = append(names, a)
	}
	slices.Sort(names)
	for _, a := range names {
		tx.change.Counters = append(tx.change.Counters, CounterAdd{Key: analystKey(a), Field: "contradicted", By: contradicted[a]})
	}
	return nil
}

func senderVerdictKey(hash string) string { return "sender:" + hash }

// alertSenders returns the distinct sender hashes of alerts, sorted.
func alertSenders(alerts []models.StoredAlert) []string {
	var out []string
	for _, a := range alerts {
		if h := a.Alert.SenderHash; h != "" {
			out = insertSorted(out, h)
		}
	}
	return out
}

// feedbackBatch bounds one write to the feedback topic.
const feedbackBatch = 500

// publish writes one feedback record per alert of a resolved incident,
// then clears its FeedbackPending flag. Record ids derive from the
// incident, its resolution count and the alert, so writing them again
// (after a failure, or from another instance) changes nothing.
func (t *Triage) publish(ctx context.Context, inc models.Incident, alerts []models.StoredAlert) (int, error) {
	r := inc.Resolution
	if r == nil {
		return 0, nil
	}
	recs := make([]models.FeedbackRecord, 0, len(alerts))
	for _, a := range alerts {
		sum := sha256Hex("fraudwatch/triage-feedback/v1\x00" + inc.ID + "\x00" + fmt.Sprint(inc.Resolutions) + "\x00" + a.Alert.ID)
		recs = append(recs, models.FeedbackRecord{ID: "tfb_" + sum, AlertID: a.Alert.ID, SenderHash: a.Alert.SenderHash, Verdict: r.Verdict, Analyst: r.Analyst, TS: r.At})
	}
	for chunk := range slices.Chunk(recs, feedbackBatch) {
		if err := t.feedback.WriteFeedback(ctx, chunk); err != nil {
			return 0, fmt.Errorf("writing %d feedback records of %s: %w", len(recs), inc.ID, err)
		}
	}
	for n := range maxAttempts {
		if !retryWait(ctx, n) {
			return len(recs), ctx.Err()
		}
		cur, err := t.store.Incident(ctx, inc.ID)
		if err != nil {
			return len(recs), err
		}
		if !cur.FeedbackPending || cur.Resolutions != inc.Resolutions {
			return len(recs), nil
		}
		cur.FeedbackPending = false
		cur.Version++
		err = t.store.Commit(ctx, Change{Incidents: []IncidentWrite{{Incident: cur, PrevVersion: cur.Version - 1}}})
		if !errors.Is(err, ErrConflict) {
			return len(recs), err
		}
	}
	return len(recs), fmt.Errorf("triage: clearing the outbox flag of %s: %w", inc.ID, ErrConflict)
}

// CreateSilence stores a silence. Its start defaults to now; it must end
// in the future and needs a comment, as Alertmanager's do.
func (t *Triage) CreateSilence(ctx context.Context, by Actor, s models.Silence) (models.Silence, error) {
	if !by.Role.Allows(RoleAnalyst) {
		return models.Silence{}, ErrForbidden
	}
	now := t.cfg.Clock()
	s.ID, s.CreatedBy, s.CreatedAt, s.ExpiredBy = "sil_"+randomHex(8), by.Name, now, ""
	s.Comment = strings.TrimSpace(s.Comment)
	if s.StartsAt.IsZero() {
		s.StartsAt = now
	}
	for i := range s.Matchers {
		s.Matchers[i].Value = strings.TrimSpace(s.Matchers[i].Value)
	}
	if err := s.Validate(); err != nil {
		return models.Silence{}, &InputError{Msg: err.Error()}
	}
	switch {
	case !s.EndsAt.After(now):
		return models.Silence{}, inputErrorf("the silence ends at %v, which is not in the future", s.EndsAt)
	case s.Comment == "":
		return models.Silence{}, inputErrorf("a silence needs a comment saying why")
	case len(s.Comment) > maxNote:
		return models.Silence{}, inputErrorf("the comment is longer than %d bytes", maxNote)
	case s.EndsAt.Sub(s.StartsAt) > 366*24*time.Hour:
		return models.Silence{}, inputErrorf("a silence may last at most a year")
	}
	c := Change{Silences: []models.Silence{s}, Audit: []models.AuditEntry{auditEntry(by, now, "silence.create", s.ID, nil, s)}}
	if err := t.store.Commit(ctx, c); err != nil {
		return models.Silence{}, err
	}
	return s, nil
}

// Silences returns the silences, newest first; ended ones only when
// withEnded.
func (t *Triage) Silences(ctx context.Context, withEnded bool) ([]models.Silence, error) {
	all, err := t.store.Silences(ctx)
	if err != nil {
		return nil, err
	}
	now := t.cfg.Clock()
	out := make([]models.Silence, 0, len(all))
	for _, s := range all {
		if withEnded || s.EndsAt.After(now) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b models.Silence) int { return -cmpTimeThenID(a.CreatedAt, b.CreatedAt, a.ID, b.ID) })
	return out, nil
}

// ExpireSilence ends a silence now. Alerts from now on are raised again.
func (t *Triage) ExpireSilence(ctx context.Context, by Actor, id string) (models.Silence, error) {
	if !by.Role.Allows(RoleAnalyst) {
		return models.Silence{}, ErrForbidden
	}
	all, err := t.store.Silences(ctx)
	if err != nil {
		return models.Silence{}, err
	}
	i := slices.IndexFunc(all, func(s models.Silence) bool { return s.ID == id })
	if i < 0 {
		return models.Silence{}, ErrNotFound
	}
	before, now := all[i], t.cfg.Clock()
	if !before.EndsAt.After(now) {
		return models.Silence{}, stateErrorf("silence %s has already ended", id)
	}
	after := before
	after.EndsAt, after.ExpiredBy = now, by.Name
	if after.StartsAt.After(now) {
		after.StartsAt = now.Add(-time.Nanosecond)
	}
	c := Change{Silences: []models.Silence{after}, Audit: []models.AuditEntry{auditEntry(by, now, "silence.expire", id, before, after)}}
	if err := t.store.Commit(ctx, c); err != nil {
		return models.Silence{}, err
	}
	return after, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}
