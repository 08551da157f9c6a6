// Package triage turns the alert stream into the SOC's incidents: it
// groups alerts (by campaign, else by sender), applies silences and
// inhibition, raises incidents on Alertmanager's group_wait /
// group_interval / repeat_interval schedule, and records the SOC's
// actions and verdicts. Verdicts go back to the detector as feedback
// records; every change is written to an append-only audit log.
//
// State lives in a Store (features/redisrep implements it over Redis);
// the alerts topic stays the durable log, and every stored key expires.
package triage

import (
	"context"
	"errors"
	"time"

	"fraudwatch/models"
)

// ErrConflict is returned by Store.Commit when an incident changed since
// it was read (its version differs): the caller reads again and retries.
var ErrConflict = errors.New("triage: incident changed concurrently")

// ErrDuplicateAlert is returned by Store.Commit when the change's alert is
// already stored: a redelivery, which changes nothing.
var ErrDuplicateAlert = errors.New("triage: alert already stored")

// ErrNotFound is returned by reads of an incident, alert or silence that
// does not exist (or has expired).
var ErrNotFound = errors.New("triage: not found")

// IncidentWrite is one incident to write, expected at PrevVersion (0: the
// incident must not exist yet). Incident.Version is the new version
// (PrevVersion+1); the store does not change it.
type IncidentWrite struct {
	Incident    models.Incident
	PrevVersion int64
}

// CounterAdd adds By to one field of a named counter hash. Counter hashes
// hold per-day rule statistics ("rules:2026-11-26"), analysts' verdict
// records ("analyst:<name>") and per-sender verdict history
// ("sender:<hash>").
type CounterAdd struct {
	Key   string
	Field string
	By    int64
}

// Change is everything one triage step writes. Store.Commit applies it
// atomically: all of it, or (on any error) none of it.
type Change struct {
	Incidents []IncidentWrite
	// Alert, when set, is stored only if no alert with its id is stored:
	// otherwise Commit returns ErrDuplicateAlert and writes nothing. It is
	// added to its incident's alert list, ordered by event time.
	Alert *models.StoredAlert
	// Groups point group keys ("campaign:<id>", "sender:<hash>",
	// "covered:<sender hash>") at incident ids.
	Groups map[string]string
	// Silences are created or replaced by id.
	Silences []models.Silence
	Counters []CounterAdd
	// Audit entries are appended (the store assigns their ids when empty).
	Audit []models.AuditEntry
}

// Store persists triage state. Every record expires after the retention
// the store was configured with, counted from its last write; the audit
// log and counters too. Implementations are safe for concurrent use by
// several triage instances: Commit is the only write, and it is atomic and
// checks incident versions.
type Store interface {
	// Commit applies c atomically. It returns ErrConflict when an
	// incident's stored version is not its PrevVersion, ErrDuplicateAlert
	// when c.Alert is already stored, and other (retryable) errors when
	// the store is unavailable.
	Commit(ctx context.Context, c Change) error

	// Incident returns the incident with id, or ErrNotFound.
	Incident(ctx context.Context, id string) (models.Incident, error)
	// Group returns the incident id a group key points at ("" when none).
	Group(ctx context.Context, key string) (string, error)
	// Incidents returns the incidents whose LastSeen is in [from, to),
	// most recent first. Zero times leave that end open.
	Incidents(ctx context.Context, from, to time.Time) ([]models.Incident, error)
	// Alert returns the stored alert with id, or ErrNotFound.
	Alert(ctx context.Context, id string) (models.StoredAlert, error)
	// IncidentAlerts returns an incident's alerts in event-time order.
	IncidentAlerts(ctx context.Context, incidentID string) ([]models.StoredAlert, error)
	// Silences returns every stored silence (active, pending and ended
	// ones not yet expired), in no particular order.
	Silences(ctx context.Context) ([]models.Silence, error)
	// Counters returns the fields of a counter hash (empty when none).
	Counters(ctx context.Context, key string) (map[string]int64, error)
	// Audit returns audit entries at or after since, oldest first, at
	// most limit (0: no limit).
	Audit(ctx context.Context, since time.Time, limit int) ([]models.AuditEntry, error)
}
