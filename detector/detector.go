// Package detector turns batches of raw inbound records into verdicts,
// alerts and dead letters. It declares the small interfaces it needs
// (Reputation, BatchHandler's sinks) and leaves Kafka and Redis to the
// adapter packages that implement them.
package detector

import (
	"context"
	"time"

	"fraudwatch/models"
)

// Reputation records observations and returns each event's snapshot.
// Implementations must be idempotent per event id: observing an event
// again returns the snapshot recorded the first time and changes no
// counter. Snapshots are returned in the order of obs. An observation with
// an empty SenderHash gets the zero Snapshot and touches no state. Errors
// are retryable: the caller retries the whole batch.
type Reputation interface {
	Observe(ctx context.Context, obs []models.Observation) ([]models.Snapshot, error)
}

// ReputationFunc adapts a function to Reputation, for tests.
type ReputationFunc func(ctx context.Context, obs []models.Observation) ([]models.Snapshot, error)

// Observe calls f.
func (f ReputationFunc) Observe(ctx context.Context, obs []models.Observation) ([]models.Snapshot, error) {
	return f(ctx, obs)
}

// Record is one raw inbound record as the transport delivered it.
type Record struct {
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
	Time      time.Time // broker timestamp
}

// DeadLetter is a record that cannot be interpreted, with the reason.
type DeadLetter struct {
	Record Record
	Reason string
}

// Outcome says what became of one record.
type Outcome string

// The outcomes. Every record of a batch gets exactly one.
const (
	OutcomeAlert      Outcome = "alert"       // flagged: an alert was made
	OutcomeScored     Outcome = "scored"      // scored, below the alert minimum
	OutcomeDeadLetter Outcome = "dead_letter" // cannot be interpreted
)

// Result is what a batch produced. Outcomes has one entry per input record,
// in input order.
type Result struct {
	Alerts      []models.Alert
	DeadLetters []DeadLetter
	Verdicts    []models.Verdict
	Outcomes    []Outcome
}

// BatchHandler processes one batch of records. It must be safe to call
// again with the same records after an error or a crash (reputation is
// idempotent, alert ids are derived from event ids). An error means
// nothing may be committed; it is always retryable, because records that
// can never be processed are returned as DeadLetters instead.
type BatchHandler interface {
	HandleBatch(ctx context.Context, recs []Record) (Result, error)
}

// BatchHandlerFunc adapts a function to BatchHandler, for tests.
type BatchHandlerFunc func(ctx context.Context, recs []Record) (Result, error)

// HandleBatch calls f.
func (f BatchHandlerFunc) HandleBatch(ctx context.Context, recs []Record) (Result, error) {
	return f(ctx, recs)
}

// AlertSink publishes alerts. WriteAlerts returns only when every alert
// is acknowledged by the destination; on error none may be assumed written.
type AlertSink interface {
	WriteAlerts(ctx context.Context, alerts []models.Alert) error
}

// DeadLetterSink publishes dead letters, with the same acknowledgement
// contract as AlertSink.
type DeadLetterSink interface {
	WriteDeadLetters(ctx context.Context, dls []DeadLetter) error
}
