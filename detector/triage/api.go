package triage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"fraudwatch/models"
)

// Role is what a triage user may do. Roles are ordered: each may do what
// the one before it may.
type Role string

// The roles.
const (
	// RoleViewer reads incidents, silences and statistics.
	RoleViewer Role = "viewer"
	// RoleAnalyst also acknowledges, assigns, notes and resolves
	// incidents, and creates and expires silences.
	RoleAnalyst Role = "analyst"
	// RoleAdmin also reads the audit log.
	RoleAdmin Role = "admin"
)

// Allows reports whether r may do what need requires.
func (r Role) Allows(need Role) bool { return r.rank() >= need.rank() && need.rank() > 0 }

func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleAnalyst:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// Actor is who asks for a change: written to the audit log and to the
// incident.
type Actor struct {
	Name string
	Role Role
}

// ErrForbidden is a change asked for by a role that may not make it:
// HTTP 403. The API checks roles first; the service checks again.
var ErrForbidden = errors.New("triage: not allowed for this role")

// InputError is a request that can never succeed as made (an unknown
// verdict, an empty note, an invalid silence): HTTP 400.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return "triage: " + e.Msg }

// StateError is a request that conflicts with the incident's state (it is
// resolved already; a verdict needs a different second analyst): HTTP 409.
type StateError struct{ Msg string }

func (e *StateError) Error() string { return "triage: " + e.Msg }

// IsInput reports whether err is an *InputError.
func IsInput(err error) bool { var e *InputError; return errors.As(err, &e) }

// IsState reports whether err is a *StateError.
func IsState(err error) bool { var e *StateError; return errors.As(err, &e) }

func inputErrorf(format string, args ...any) error {
	return &InputError{Msg: fmt.Sprintf(format, args...)}
}

func stateErrorf(format string, args ...any) error {
	return &StateError{Msg: fmt.Sprintf(format, args...)}
}

// Filter selects incidents for the queue. Zero fields do not filter.
type Filter struct {
	Status     []models.IncidentStatus
	Severity   []models.Severity // any of these
	Category   models.Category   // the incident has it
	Employee   string            // the incident reached this employee
	SenderHash string            // the incident holds this sender
	Campaign   string
	From, To   time.Time // LastSeen in [From, To)
	// Text matches, case-insensitively, the evidence, sender names and
	// rule ids of the incident's alerts.
	Text string
	// Inhibited and Silenced include incidents that a campaign incident
	// covers and incidents made only of silenced alerts; the queue hides
	// both by default.
	Inhibited bool
	Silenced  bool
	// Offset and Limit page the result; Limit 0 means DefaultPageLimit,
	// and at most MaxPageLimit.
	Offset, Limit int
}

// Paging limits.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 500
)

// Page is one page of incidents, most recently seen first, with the
// number of incidents matching the filter.
type Page struct {
	Incidents []models.Incident `json:"incidents"`
	Total     int               `json:"total"`
	Offset    int               `json:"offset"`
	Limit     int               `json:"limit"`
}

// Detail is an incident with its timeline: its alerts, and for a
// campaign incident the per-sender incidents it covers and their alerts,
// in event-time order.
type Detail struct {
	Incident models.Incident      `json:"incident"`
	Alerts   []models.StoredAlert `json:"alerts"`
	Covered  []models.Incident    `json:"covered"`
}

// ResolveResult says what a resolve request did: resolved the incident
// (Pending false; Feedback records written), or recorded a verdict that
// waits for a second analyst (Pending true, with the reason).
type ResolveResult struct {
	Incident models.Incident `json:"incident"`
	Pending  bool            `json:"pending"`
	Reason   string          `json:"reason,omitempty"`
	Feedback int             `json:"feedback"`
}

// RuleStat is the live record of one rule: alerts it fired on, and the
// verdicts those alerts received. Precision is Fraud / (Fraud + Legit), or
// -1 before any such verdict.
type RuleStat struct {
	Rule      string  `json:"rule"`
	Hits      int64   `json:"hits"`
	Fraud     int64   `json:"fraud"`
	Legit     int64   `json:"legit"`
	Unsure    int64   `json:"unsure"`
	Precision float64 `json:"precision"`
}

// AnalystStat is an analyst's verdict record and the trust derived from it.
type AnalystStat struct {
	Analyst      string  `json:"analyst"`
	Verdicts     int64   `json:"verdicts"`
	Contradicted int64   `json:"contradicted"`
	Trust        float64 `json:"trust"`
}

// Service is what the HTTP API and the console need from triage. *Triage
// implements it; the API is tested against the real implementation.
type Service interface {
	List(ctx context.Context, f Filter) (Page, error)
	Detail(ctx context.Context, id string) (Detail, error)
	Acknowledge(ctx context.Context, by Actor, id string) (models.Incident, error)
	Assign(ctx context.Context, by Actor, id, owner string) (models.Incident, error)
	AddNote(ctx context.Context, by Actor, id, text string) (models.Incident, error)
	Resolve(ctx context.Context, by Actor, id, verdict, comment string) (ResolveResult, error)
	CreateSilence(ctx context.Context, by Actor, s models.Silence) (models.Silence, error)
	// Silences returns the silences, newest first; ended ones only when
	// withEnded.
	Silences(ctx context.Context, withEnded bool) ([]models.Silence, error)
	ExpireSilence(ctx context.Context, by Actor, id string) (models.Silence, error)
	RuleStats(ctx context.Context, from, to time.Time) ([]RuleStat, error)
	Analyst(ctx context.Context, name string) (AnalystStat, error)
	Audit(ctx context.Context, since time.Time, limit int) ([]models.AuditEntry, error)
}
