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
	// Replayed is true when the store returned a recorded snapshot for an
	// event it had seen before. It is not part of the recorded state.
	Replayed bool `json:"-"`
}
