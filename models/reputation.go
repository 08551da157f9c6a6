package models

import "time"

// Observation is what the reputation store learns from one event. It holds
// the sender's keyed hash, never the number: the store cannot leak what it
// never sees.
type Observation struct {
	EventID    string
	SenderHash string // "" when the event has no valid sender: nothing is counted
	Employee   string
	Kind       Kind
	TS         time.Time // event time, already clamped to now ± skew
	Missed     bool      // a missed call
	DurationS  float64   // call duration in seconds
	// ShortCall marks a missed or very short call: the detector decides
	// what "short" is, the store remembers it per employee (call then
	// message) and counts the employees it reached (wangiri).
	ShortCall bool
	// Fingerprint is the campaign fingerprint of the message text, nil
	// when the text is too short to tell a campaign from a greeting. It
	// needs no sender: a campaign rotating numbers is still one campaign.
	Fingerprint Fingerprint
}

// Fingerprint is a MinHash signature of a text's normalised words.
// Two texts whose signatures agree in at least FingerprintMatch of
// FingerprintLen places have an estimated word overlap (Jaccard) of at
// least FingerprintMatch/FingerprintLen: the same campaign with small
// edits. Stores find candidates by bands of FingerprintBand places.
type Fingerprint []uint32

// The fingerprint's shape. Changing it starts new campaigns.
const (
	FingerprintLen   = 16
	FingerprintBand  = 2
	FingerprintMatch = 10
)

// Matches reports whether f and g are the same campaign.
func (f Fingerprint) Matches(g Fingerprint) bool {
	if len(f) != FingerprintLen || len(g) != FingerprintLen {
		return false
	}
	same := 0
	for i := range f {
		if f[i] == g[i] {
			same++
		}
	}
	return same >= FingerprintMatch
}

// Snapshot is a sender's reputation as of one event, that event included.
// Stores record it with the event id and return the same snapshot when the
// event is observed again, so redelivery neither counts twice nor changes
// the verdict. The zero Snapshot means "no sender".
type Snapshot struct {
	Events       int64     `json:"events"`        // events from this sender, this one included
	Calls        int64     `json:"calls"`         // calls among them
	MissedCalls  int64     `json:"missed_calls"`  // missed calls among them
	FirstSeen    time.Time `json:"first_seen"`    // earliest event time seen
	LastSeen     time.Time `json:"last_seen"`     // latest event time seen
	Employees1h  int64     `json:"employees_1h"`  // distinct employees contacted in the hour up to this event
	Employees24h int64     `json:"employees_24h"` // the same over 24 hours

	// PairEvents counts this sender's events to this employee, this one
	// included: 1 is a first contact.
	PairEvents int64 `json:"pair_events"`
	// ShortCallAgo is the event time from the sender's latest missed or
	// short call to this employee until this event, when there was one at
	// or before it; ShortCallSeen says whether there was.
	ShortCallAgo  time.Duration `json:"short_call_ago"`
	ShortCallSeen bool          `json:"short_call_seen"`
	// ShortCallEmployees24h counts the distinct employees this sender
	// reached with missed or short calls in the 24 hours up to this event.
	ShortCallEmployees24h int64 `json:"short_call_employees_24h"`

	// FraudReports and FalsePositives count SOC verdicts on the sender's
	// alerts; Allowlisted is true while a "legit" verdict's allowlist
	// entry lives.
	FraudReports   int64 `json:"fraud_reports"`
	FalsePositives int64 `json:"false_positives"`
	Allowlisted    bool  `json:"allowlisted"`

	// Campaign is the id of the campaign the text belongs to ("" without
	// a fingerprint). CampaignSenders, CampaignEmployees and
	// CampaignEvents count it within 24 hours either side of this event
	// (its messages arrive out of order, from many partitions), this
	// event included.
	Campaign          string `json:"campaign,omitempty"`
	CampaignSenders   int64  `json:"campaign_senders"`
	CampaignEmployees int64  `json:"campaign_employees"`
	CampaignEvents    int64  `json:"campaign_events"`

	// Replayed is true when the store returned a recorded snapshot for an
	// event it had seen before. It is not part of the recorded state.
	Replayed bool `json:"-"`
}

// Verdict labels an analyst gives an alert.
const (
	FeedbackFraud = "fraud"
	FeedbackLegit = "legit"
)

// Feedback is one SOC verdict on one alert, as the reputation store
// applies it: a fraud verdict counts a fraud report and ends any
// allowlisting of the sender; a legit verdict counts a false positive and
// allowlists the sender until AllowFor has passed (wall clock). Stores
// apply each ID once.
type Feedback struct {
	ID         string // idempotency key of the verdict
	SenderHash string
	Verdict    string // FeedbackFraud or FeedbackLegit
	AllowFor   time.Duration
}
