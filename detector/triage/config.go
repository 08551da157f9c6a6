package triage

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"fraudwatch/models"
)

// FeedbackSink publishes SOC verdicts to the feedback topic, which the
// detector consumes. WriteFeedback returns nil only when every record is
// acknowledged; records carry ids, so writing one again changes nothing.
// detector/kafkaio implements it.
type FeedbackSink interface {
	WriteFeedback(ctx context.Context, recs []models.FeedbackRecord) error
}

// FeedbackSinkFunc adapts a function to FeedbackSink, for tests.
type FeedbackSinkFunc func(ctx context.Context, recs []models.FeedbackRecord) error

// WriteFeedback calls f.
func (f FeedbackSinkFunc) WriteFeedback(ctx context.Context, recs []models.FeedbackRecord) error {
	return f(ctx, recs)
}

// Notification is an incident raised to the SOC: new (after group_wait),
// updated with new alerts (after group_interval) or still open and
// unacknowledged (after repeat_interval).
type Notification struct {
	Incident models.Incident
	Reason   string // "new", "update" or "repeat"
}

// Notifier delivers raised incidents (a chat channel, a pager). Errors
// are logged; a notification is not retried (the next raise comes at the
// following interval).
type Notifier interface {
	Notify(ctx context.Context, ns []Notification) error
}

// NotifierFunc adapts a function to Notifier.
type NotifierFunc func(ctx context.Context, ns []Notification) error

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, ns []Notification) error { return f(ctx, ns) }

// Observer receives triage's measurements (metrics). Every field is
// optional.
type Observer struct {
	// AlertStored is called for each alert handled: stored (silenced or
	// not) or recognised as a redelivery.
	AlertStored func(silenced, duplicate bool)
	// Acknowledged is called when an incident is acknowledged, with the
	// time since it was created.
	Acknowledged func(after time.Duration)
	// Resolved is called when an incident is resolved, with the time
	// since it was created, the verdict and how many of its alerts each
	// rule fired on.
	Resolved func(after time.Duration, verdict string, rules map[string]int)
	// Notified is called per notification, with its reason.
	Notified func(reason string)
}

// Defaults of Config.
const (
	DefaultGroupWait          = 30 * time.Second
	DefaultGroupInterval      = 5 * time.Minute
	DefaultRepeatInterval     = 4 * time.Hour
	DefaultWindow             = 24 * time.Hour
	DefaultSecondAnalystAfter = 2
	DefaultMinTrust           = 0.75
	DefaultFlushEvery         = 5 * time.Second
)

// Config configures Triage. Zero fields take the defaults.
type Config struct {
	// GroupWait is how long a new incident collects alerts before it is
	// first raised, so that a burst is one notification. Default 30s.
	GroupWait time.Duration
	// GroupInterval is the least time between raises of an incident for
	// new alerts. Default 5m.
	GroupInterval time.Duration
	// RepeatInterval raises an open, unacknowledged incident again.
	// Default 4h.
	RepeatInterval time.Duration
	// Window: an alert joins the unresolved incident of its group when its
	// event time is within Window of the incident's first and last seen;
	// otherwise it opens a new incident. Default 24h.
	Window time.Duration
	// SecondAnalystAfter: a "legit" verdict on a sender that has at least
	// this many "fraud" verdicts needs a second analyst. Default 2.
	SecondAnalystAfter int
	// MinTrust: a "legit" verdict takes effect when the trust of the
	// analysts who gave it adds up to MinTrust; an analyst's trust is
	// 1 - contradicted/(verdicts+2). Default 0.75: one contradiction in an
	// analyst's first verdicts is enough to need a second analyst.
	MinTrust float64
	// FlushEvery is how often Run raises due incidents and retries
	// unpublished verdicts. Default 5s.
	FlushEvery time.Duration
	// Clock returns the wall-clock time; tests and replays inject one.
	// Default time.Now.
	Clock func() time.Time
	// Logger receives triage's logs (never message text). Default
	// slog.Default().
	Logger *slog.Logger
	// Notifier receives raised incidents, besides the log line each
	// gets. Optional.
	Notifier Notifier
	// Observer receives measurements. Optional.
	Observer Observer
}

// Validate fills defaults into zero fields and reports the first invalid
// setting.
func (c *Config) Validate() error {
	set := func(p *time.Duration, def time.Duration) {
		if *p == 0 {
			*p = def
		}
	}
	set(&c.GroupWait, DefaultGroupWait)
	set(&c.GroupInterval, DefaultGroupInterval)
	set(&c.RepeatInterval, DefaultRepeatInterval)
	set(&c.Window, DefaultWindow)
	set(&c.FlushEvery, DefaultFlushEvery)
	if c.SecondAnalystAfter == 0 {
		c.SecondAnalystAfter = DefaultSecondAnalystAfter
	}
	if c.MinTrust == 0 {
		c.MinTrust = DefaultMinTrust
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"group_wait", c.GroupWait}, {"group_interval", c.GroupInterval}, {"repeat_interval", c.RepeatInterval}, {"window", c.Window}, {"flush_every", c.FlushEvery}} {
		if d.v < 0 {
			return fmt.Errorf("triage: %s %v is negative", d.name, d.v)
		}
	}
	switch {
	case c.RepeatInterval < c.GroupInterval:
		return fmt.Errorf("triage: repeat_interval %v is shorter than group_interval %v", c.RepeatInterval, c.GroupInterval)
	case c.SecondAnalystAfter < 1:
		return fmt.Errorf("triage: second_analyst_after %d: want at least 1", c.SecondAnalystAfter)
	case c.MinTrust < 0 || c.MinTrust > 2:
		return fmt.Errorf("triage: min_trust %v: want between 0 and 2 (2: every legit verdict needs two fully trusted analysts)", c.MinTrust)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}
