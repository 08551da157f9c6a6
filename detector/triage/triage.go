package triage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"fraudwatch/models"
)

// Triage is the SOC's incident service: Ingest files alerts into
// incidents, the Service methods serve the API, and Run raises due
// incidents and retries unpublished verdicts. It keeps no state of its
// own beyond its configuration: several instances may share one Store.
type Triage struct {
	store    Store
	feedback FeedbackSink
	cfg      Config
}

var _ Service = (*Triage)(nil)

// New returns a Triage over store, publishing verdicts to feedback.
func New(store Store, feedback FeedbackSink, cfg Config) (*Triage, error) {
	if store == nil || feedback == nil {
		return nil, errors.New("triage: a store and a feedback sink are required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Triage{store: store, feedback: feedback, cfg: cfg}, nil
}

// maxAttempts bounds the retries of a write that lost a race with
// another writer of the same incident. Each retry first waits a little
// (retryWait), so that writers racing for one campaign incident spread
// out instead of colliding again.
const maxAttempts = 64

// retryWait sleeps before attempt n (from 0) of a write that conflicted:
// nothing before the first, then a random time up to a bound that grows
// to 20ms. It reports false when ctx ended first.
func retryWait(ctx context.Context, n int) bool {
	if n == 0 {
		return true
	}
	bound := min(time.Duration(1<<min(n, 5))*time.Millisecond, 20*time.Millisecond)
	select {
	case <-ctx.Done():
		return false
	case <-time.After(rand.N(bound) + time.Millisecond/2):
		return true
	}
}

// IngestResult says where an alert went.
type IngestResult struct {
	IncidentID  string
	Silenced    bool
	Duplicate   bool
	NewIncident bool
}

// Ingest stores one alert and files it into its incident: the incident
// of its campaign, else of its sender (else of its employee, for alerts
// without a valid number). A redelivered alert (same id) changes nothing.
// A silenced alert is stored and counted but does not raise its incident.
// Errors are retryable.
func (t *Triage) Ingest(ctx context.Context, a models.Alert) (IngestResult, error) {
	if _, err := t.store.Alert(ctx, a.ID); err == nil {
		t.observeStored(false, true)
		return IngestResult{Duplicate: true}, nil
	} else if !errors.Is(err, ErrNotFound) {
		return IngestResult{}, err
	}
	now := t.cfg.Clock()
	silence, err := t.silenceFor(ctx, a, now)
	if err != nil {
		return IngestResult{}, err
	}
	for n := range maxAttempts {
		if !retryWait(ctx, n) {
			return IngestResult{}, ctx.Err()
		}
		res, err := t.ingestOnce(ctx, a, silence, now)
		switch {
		case errors.Is(err, ErrConflict):
			continue
		case errors.Is(err, ErrDuplicateAlert):
			t.observeStored(false, true)
			return IngestResult{Duplicate: true}, nil
		case err != nil:
			return IngestResult{}, err
		}
		t.observeStored(res.Silenced, false)
		return res, nil
	}
	return IngestResult{}, fmt.Errorf("triage: storing alert %q: %d concurrent changes in a row: %w", a.ID, maxAttempts, ErrConflict)
}

// silenceFor returns the id of the active silence that matches a, or "".
// Of several, the oldest wins, so that the choice does not depend on the
// store's order.
func (t *Triage) silenceFor(ctx context.Context, a models.Alert, now time.Time) (string, error) {
	sils, err := t.store.Silences(ctx)
	if err != nil {
		return "", err
	}
	slices.SortFunc(sils, func(x, y models.Silence) int {
		return cmpTimeThenID(x.CreatedAt, y.CreatedAt, x.ID, y.ID)
	})
	for _, s := range sils {
		if s.Active(now) && s.Matches(a) {
			return s.ID, nil
		}
	}
	return "", nil
}

func (t *Triage) ingestOnce(ctx context.Context, a models.Alert, silence string, now time.Time) (IngestResult, error) {
	tx := newTxn(t.store)
	key := groupKey(a)
	var inc *models.Incident
	id, err := t.store.Group(ctx, key)
	if err != nil {
		return IngestResult{}, err
	}
	if id != "" {
		cur, err := tx.load(ctx, id)
		if err != nil {
			return IngestResult{}, err
		}
		if cur != nil && t.joins(cur, a) {
			inc = cur
		}
	}
	res := IngestResult{Silenced: silence != ""}
	if inc == nil {
		inc = tx.create(newIncident(key, id, a, now))
		res.NewIncident = true
	}
	res.IncidentID = inc.ID
	addAlert(inc, a, silence != "", now)
	tx.change.Groups[key] = inc.ID
	if err := t.inhibit(ctx, tx, inc, a); err != nil {
		return IngestResult{}, err
	}
	tx.change.Alert = &models.StoredAlert{Alert: a, IncidentID: inc.ID, SilencedBy: silence, ReceivedAt: now}
	for _, rule := range alertRules(a) {
		tx.change.Counters = append(tx.change.Counters, CounterAdd{Key: ruleDayKey(now), Field: rule + "|hits", By: 1})
	}
	return res, tx.commit(ctx, now)
}

// joins reports whether a belongs to inc: the incident is not resolved
// and the alert's event time is within the window of its alerts.
func (t *Triage) joins(inc *models.Incident, a models.Alert) bool {
	if inc.Status == models.StatusResolved {
		return false
	}
	return !a.EventTime.Before(inc.FirstSeen.Add(-t.cfg.Window)) && !a.EventTime.After(inc.LastSeen.Add(t.cfg.Window))
}

// inhibit links a campaign incident and the per-sender incidents it
// covers, as Alertmanager's inhibition does: while the campaign incident
// is unresolved, they are hidden from the queue, shown in its detail and
// resolved with it. A per-sender incident is covered when it holds the
// campaign's first message (its text id is the campaign id: the text had
// not reached a second number yet) or when its sender is one of the
// campaign's numbers.
func (t *Triage) inhibit(ctx context.Context, tx *txn, inc *models.Incident, a models.Alert) error {
	if a.Campaign != "" {
		keys := []string{textKey(a.Campaign)}
		if a.SenderHash != "" {
			tx.change.Groups[coveredKey(a.SenderHash)] = inc.ID
			keys = append(keys, senderKey(a.SenderHash))
		}
		for _, key := range keys {
			s, err := t.grouped(ctx, tx, key, inc.ID)
			if err != nil {
				return err
			}
			if s != nil && s.Status != models.StatusResolved && s.InhibitedBy == "" && s.Campaign == "" {
				cover(inc, s)
			}
		}
		return nil
	}
	var keys []string
	if a.TextID != "" {
		tx.change.Groups[textKey(a.TextID)] = inc.ID
		keys = append(keys, campaignKey(a.TextID))
	}
	if a.SenderHash != "" {
		keys = append(keys, coveredKey(a.SenderHash))
	}
	if inc.InhibitedBy != "" {
		return nil
	}
	for _, key := range keys {
		c, err := t.grouped(ctx, tx, key, inc.ID)
		if err != nil {
			return err
		}
		if c != nil && t.joins(c, a) {
			cover(c, inc)
			return nil
		}
	}
	return nil
}

// grouped loads into tx the incident a group key points at, unless it is
// self; nil when the key points nowhere or the incident has expired.
func (t *Triage) grouped(ctx context.Context, tx *txn, key, self string) (*models.Incident, error) {
	id, err := t.store.Group(ctx, key)
	if err != nil || id == "" || id == self {
		return nil, err
	}
	return tx.load(ctx, id)
}

// cover makes campaign incident c cover incident s.
func cover(c, s *models.Incident) {
	s.InhibitedBy = c.ID
	if !slices.Contains(c.Covers, s.ID) {
		c.Covers = append(c.Covers, s.ID)
	}
}

// groupKey is what an alert is grouped by.
func groupKey(a models.Alert) string {
	switch {
	case a.Campaign != "":
		return campaignKey(a.Campaign)
	case a.SenderHash != "":
		return senderKey(a.SenderHash)
	default:
		return "employee:" + a.Employee
	}
}

func campaignKey(id string) string  { return "campaign:" + id }
func senderKey(hash string) string  { return "sender:" + hash }
func coveredKey(hash string) string { return "covered:" + hash }
func textKey(id string) string      { return "text:" + id }

// ruleDayKey names the counter hash of the rule statistics of t's day.
func ruleDayKey(t time.Time) string { return "rules:" + t.UTC().Format(time.DateOnly) }

// newIncident starts an incident for a's group, after the group's
// previous incident prev ("" for the first). Its id derives from the
// group and prev, not from the alert: two instances starting the group's
// next incident at once make the same id, so one of them conflicts,
// reads again and joins it instead of starting a second incident.
func newIncident(key, prev string, a models.Alert, now time.Time) models.Incident {
	sum := sha256.Sum256([]byte("fraudwatch/incident/v2\x00" + key + "\x00" + prev))
	inc := models.Incident{
		ID:        "inc_" + hex.EncodeToString(sum[:12]),
		Group:     key,
		Status:    models.StatusOpen,
		FirstSeen: a.EventTime,
		LastSeen:  a.EventTime,
		CreatedAt: now,
	}
	if strings.HasPrefix(key, "campaign:") {
		inc.Campaign = a.Campaign
	}
	return inc
}

// maxSearch caps an incident's search text.
const maxSearch = 8 << 10

// addAlert counts a into inc.
func addAlert(inc *models.Incident, a models.Alert, silenced bool, now time.Time) {
	inc.AlertCount++
	if silenced {
		inc.SilencedCount++
	}
	inc.Severity = max(inc.Severity, a.Severity)
	for _, c := range a.Categories {
		if !slices.Contains(inc.Categories, c) {
			inc.Categories = append(inc.Categories, c)
		}
	}
	for _, r := range alertRules(a) {
		inc.Rules = insertSorted(inc.Rules, r)
	}
	if a.Employee != "" {
		inc.Employees = insertSorted(inc.Employees, a.Employee)
	}
	if a.SenderHash != "" && !slices.ContainsFunc(inc.Senders, func(s models.IncidentSender) bool { return s.Hash == a.SenderHash }) {
		inc.Senders = append(inc.Senders, models.IncidentSender{Hash: a.SenderHash, Masked: a.Sender, Name: a.SenderName})
	}
	if a.EventTime.Before(inc.FirstSeen) {
		inc.FirstSeen = a.EventTime
	}
	if a.EventTime.After(inc.LastSeen) {
		inc.LastSeen = a.EventTime
	}
	inc.UpdatedAt = now
	for _, s := range searchTerms(a) {
		if len(inc.Search)+len(s)+1 > maxSearch {
			break
		}
		if !strings.Contains(inc.Search, s) {
			inc.Search += s + "\n"
		}
	}
}

// searchTerms are the lower-cased texts free-text search looks in: the
// evidence (already masked by the detector), rule ids, the sender's
// display name and masked number, the campaign.
func searchTerms(a models.Alert) []string {
	var out []string
	add := func(s string) {
		if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
			out = append(out, s)
		}
	}
	for _, r := range a.Reasons {
		add(r.Evidence)
		add(r.Rule)
	}
	add(a.SenderName)
	add(a.Sender)
	add(a.Campaign)
	return out
}

// alertRules returns the distinct rule ids of a's counting reasons.
func alertRules(a models.Alert) []string {
	var out []string
	for _, r := range a.Reasons {
		if r.Rule != "" && !r.Shadow && !slices.Contains(out, r.Rule) {
			out = append(out, r.Rule)
		}
	}
	return out
}

func insertSorted(xs []string, x string) []string {
	i, found := slices.BinarySearch(xs, x)
	if found {
		return xs
	}
	return slices.Insert(xs, i, x)
}

func cmpTimeThenID(a, b time.Time, aid, bid string) int {
	if c := a.Compare(b); c != 0 {
		return c
	}
	return strings.Compare(aid, bid)
}

func (t *Triage) observeStored(silenced, duplicate bool) {
	if f := t.cfg.Observer.AlertStored; f != nil {
		f(silenced, duplicate)
	}
}

// txn collects the incidents one step reads and changes, and commits
// them with the versions they were read at.
type txn struct {
	store  Store
	incs   map[string]*models.Incident
	prev   map[string]int64
	order  []string
	change Change
	action string // overrides the audit action of the step, when set
}

func newTxn(s Store) *txn {
	return &txn{store: s, incs: map[string]*models.Incident{}, prev: map[string]int64{}, change: Change{Groups: map[string]string{}}}
}

// load reads an incident into the transaction (nil when it has expired).
func (tx *txn) load(ctx context.Context, id string) (*models.Incident, error) {
	if inc, ok := tx.incs[id]; ok {
		return inc, nil
	}
	inc, err := tx.store.Incident(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	tx.incs[id], tx.prev[id] = &inc, inc.Version
	tx.order = append(tx.order, id)
	return &inc, nil
}

// create adds a new incident to the transaction.
func (tx *txn) create(inc models.Incident) *models.Incident {
	tx.incs[inc.ID], tx.prev[inc.ID] = &inc, 0
	tx.order = append(tx.order, inc.ID)
	return &inc
}

// commit writes every incident the transaction holds (a read-only one
// too: its unchanged version still guards the decision made from it).
func (tx *txn) commit(ctx context.Context, now time.Time) error {
	for _, id := range tx.order {
		inc := *tx.incs[id]
		inc.Version = tx.prev[id] + 1
		if inc.UpdatedAt.IsZero() {
			inc.UpdatedAt = now
		}
		tx.change.Incidents = append(tx.change.Incidents, IncidentWrite{Incident: inc, PrevVersion: tx.prev[id]})
	}
	return tx.store.Commit(ctx, tx.change)
}
