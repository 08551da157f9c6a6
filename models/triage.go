package models

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// IncidentStatus is where an incident is in the SOC's workflow.
type IncidentStatus string

// The statuses. An incident opens with its first alert, is acknowledged
// when an analyst takes it, and is resolved with a verdict. A resolved
// incident takes no more alerts: the next alert of its group opens a new
// incident.
const (
	StatusOpen         IncidentStatus = "open"
	StatusAcknowledged IncidentStatus = "acknowledged"
	StatusResolved     IncidentStatus = "resolved"
)

// Valid reports whether s is one of the statuses.
func (s IncidentStatus) Valid() bool {
	return s == StatusOpen || s == StatusAcknowledged || s == StatusResolved
}

// Incident groups the alerts the SOC judges together: one campaign (many
// numbers, one text), or one sender when there is no campaign. It holds
// no message text beyond the masked evidence of its alerts' reasons.
type Incident struct {
	ID string `json:"id"`
	// Group is what the incident groups by: "campaign:<id>" or
	// "sender:<sender hash>" ("sender:" alone for alerts without a
	// valid number, grouped by employee instead: "employee:<id>").
	Group    string         `json:"group"`
	Campaign string         `json:"campaign,omitempty"`
	Status   IncidentStatus `json:"status"`
	Owner    string         `json:"owner,omitempty"`
	// Severity is the highest of its alerts' severities (silenced alerts
	// included: a silence hides, it does not change what happened).
	Severity   Severity   `json:"severity"`
	Categories []Category `json:"categories"`
	// Rules are the rule ids that fired on its alerts, sorted.
	Rules []string `json:"rules"`
	// FirstSeen and LastSeen are the earliest and latest event times of
	// its alerts.
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// CreatedAt and UpdatedAt are wall-clock times in triage.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Employees are the employees its alerts went to, sorted.
	Employees []string `json:"employees"`
	// Senders are the masked numbers and their keyed hashes, in order of
	// first appearance; never a raw number.
	Senders []IncidentSender `json:"senders"`
	// AlertCount counts every stored alert, SilencedCount those that a
	// silence kept from being raised.
	AlertCount    int `json:"alert_count"`
	SilencedCount int `json:"silenced_count"`
	// InhibitedBy is the campaign incident that covers this per-sender
	// incident; Covers lists the per-sender incidents a campaign incident
	// inhibits. An inhibited incident is hidden from the queue and is
	// resolved with the campaign incident.
	InhibitedBy string   `json:"inhibited_by,omitempty"`
	Covers      []string `json:"covers,omitempty"`
	// Notification state (Alertmanager's group_wait, group_interval and
	// repeat_interval): NotifiedAt is when the incident was last raised,
	// NotifiedAlerts how many raisable alerts it had then.
	NotifiedAt     time.Time `json:"notified_at,omitzero"`
	NotifiedAlerts int       `json:"notified_alerts,omitempty"`
	// Workflow times, for time to acknowledge and to resolve.
	AcknowledgedAt time.Time   `json:"acknowledged_at,omitzero"`
	ResolvedAt     time.Time   `json:"resolved_at,omitzero"`
	Resolution     *Resolution `json:"resolution,omitempty"`
	// PendingVerdict is a verdict waiting for a second analyst's
	// approval (a "legit" on a sender the SOC judged fraud before, or from
	// an analyst whose verdicts were contradicted).
	PendingVerdict *Resolution `json:"pending_verdict,omitempty"`
	// Resolutions counts the times the incident was resolved; feedback
	// ids derive from it, so a repeated resolve request keeps its ids.
	Resolutions int `json:"resolutions,omitempty"`
	// FeedbackPending is set while the verdict's feedback records are not
	// yet acknowledged by the feedback topic; triage retries until they are.
	FeedbackPending bool   `json:"feedback_pending,omitempty"`
	Notes           []Note `json:"notes,omitempty"`
	// Search is the lower-cased evidence, sender names and rule ids of
	// its alerts, capped in size, for free-text search.
	Search string `json:"search,omitempty"`
	// Version increases with every change; stores use it to reject a
	// write based on a stale read.
	Version int64 `json:"version"`
}

// IncidentSender is one number seen in an incident, masked.
type IncidentSender struct {
	Hash   string `json:"hash"`
	Masked string `json:"masked"`
	Name   string `json:"name,omitempty"`
}

// Resolution is a verdict on an incident.
type Resolution struct {
	Verdict string    `json:"verdict"` // FeedbackFraud, FeedbackLegit or FeedbackUnsure
	Analyst string    `json:"analyst"`
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
	// ApprovedBy lists the analysts whose approval completed a verdict
	// that needed a second analyst.
	ApprovedBy []string `json:"approved_by,omitempty"`
}

// Note is an analyst's comment on an incident.
type Note struct {
	Author string    `json:"author"`
	Text   string    `json:"text"`
	At     time.Time `json:"at"`
}

// StoredAlert is an alert as triage keeps it: the alert, the incident it
// joined, and the silence that kept it from being raised, if any.
type StoredAlert struct {
	Alert      Alert     `json:"alert"`
	IncidentID string    `json:"incident_id"`
	SilencedBy string    `json:"silenced_by,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
}

// MatcherName is what a silence matcher compares.
type MatcherName string

// The matcher names.
const (
	MatchSenderHash MatcherName = "sender_hash"
	MatchCampaign   MatcherName = "campaign"
	MatchRule       MatcherName = "rule"
	MatchCategory   MatcherName = "category"
	MatchEmployee   MatcherName = "employee"
)

// Matcher is one condition of a silence: an exact match of Value against
// the alert's field (for rule and category: any of the alert's).
type Matcher struct {
	Name  MatcherName `json:"name"`
	Value string      `json:"value"`
}

// Matches reports whether a satisfies m.
func (m Matcher) Matches(a Alert) bool {
	switch m.Name {
	case MatchSenderHash:
		return a.SenderHash != "" && a.SenderHash == m.Value
	case MatchCampaign:
		return a.Campaign != "" && a.Campaign == m.Value
	case MatchEmployee:
		return a.Employee == m.Value
	case MatchCategory:
		return slices.Contains(a.Categories, Category(m.Value))
	case MatchRule:
		for _, r := range a.Reasons {
			if r.Rule == m.Value {
				return true
			}
		}
	}
	return false
}

// Silence keeps matching alerts from being raised between StartsAt and
// EndsAt. Silenced alerts are still stored and counted.
type Silence struct {
	ID        string    `json:"id"`
	Matchers  []Matcher `json:"matchers"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	CreatedBy string    `json:"created_by"`
	Comment   string    `json:"comment"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiredBy is set when the silence was ended early (EndsAt then
	// holds the time it was ended).
	ExpiredBy string `json:"expired_by,omitempty"`
}

// Validate reports what is wrong with s: it needs at least one matcher,
// each with a known name and a value, and an end after its start.
func (s Silence) Validate() error {
	if len(s.Matchers) == 0 {
		return fmt.Errorf("silence: at least one matcher is required")
	}
	for i, m := range s.Matchers {
		switch m.Name {
		case MatchSenderHash, MatchCampaign, MatchRule, MatchCategory, MatchEmployee:
		default:
			return fmt.Errorf("silence: matcher %d: unknown name %q (want sender_hash, campaign, rule, category or employee)", i, m.Name)
		}
		if m.Value == "" {
			return fmt.Errorf("silence: matcher %d (%s): empty value", i, m.Name)
		}
	}
	if !s.EndsAt.After(s.StartsAt) {
		return fmt.Errorf("silence: ends_at %v is not after starts_at %v", s.EndsAt, s.StartsAt)
	}
	return nil
}

// Active reports whether the silence applies at t.
func (s Silence) Active(t time.Time) bool {
	return !t.Before(s.StartsAt) && t.Before(s.EndsAt)
}

// Matches reports whether every matcher of s matches a.
func (s Silence) Matches(a Alert) bool {
	for _, m := range s.Matchers {
		if !m.Matches(a) {
			return false
		}
	}
	return len(s.Matchers) > 0
}

// AuditEntry records one state change made through triage: who, what,
// when, and the object before and after (JSON). Entries are appended
// only; nothing edits or deletes them before they expire.
type AuditEntry struct {
	ID     string          `json:"id"`
	At     time.Time       `json:"at"`
	Actor  string          `json:"actor"`
	Role   string          `json:"role"`
	Action string          `json:"action"` // e.g. "incident.acknowledge", "silence.create"
	Target string          `json:"target"` // the incident or silence id
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
}
