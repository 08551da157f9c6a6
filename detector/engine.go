package detector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"fraudwatch/detector/rules"
	"fraudwatch/features"
	"fraudwatch/models"
)

// Extractor computes the features of one event. features.Extractor is the
// implementation; the interface keeps the engine testable.
type Extractor interface {
	Extract(ev *models.Event, rep models.Snapshot) features.Set
}

// Fingerprinter computes the campaign fingerprint of a message text before
// reputation is observed. features.Extractor implements it; an extractor
// that does not leaves campaigns out.
type Fingerprinter interface {
	Fingerprint(text string) models.Fingerprint
}

// EngineConfig configures an Engine. Zero fields take the defaults below.
type EngineConfig struct {
	// MinSeverity is the lowest severity that makes an alert. Default medium.
	MinSeverity models.Severity
	// MaxFuture and MaxPast clamp event times before they feed reputation
	// windows, so a wrong clock cannot poison them. Defaults 5 minutes and
	// 7 days (the default inbound retention: older events cannot arrive).
	MaxFuture time.Duration
	MaxPast   time.Duration
	// OfficialLines are named in every alert's advice. Required.
	OfficialLines []string
	// ShortCall is the longest answered call that still counts as a
	// "short call" (with missed calls) for call patterns: a ring to make
	// the employee call back or expect a message. Default 10 seconds.
	ShortCall time.Duration
	// StaleAfter is the event age past which an alert goes to the SOC but
	// not to the employee: a warning after they replied is noise. Default
	// 15 minutes.
	StaleAfter time.Duration
	// ModelVersion names the text model in alerts. Empty: the extractor's
	// own (see ModelVersioner), else "none".
	ModelVersion string
	// Now is the wall clock; injectable for replays and tests.
	Now func() time.Time
	// Logger receives rule errors and batch summaries. Default slog.Default().
	Logger *slog.Logger
}

func (c *EngineConfig) setDefaults() {
	if c.MinSeverity == models.SeverityNone {
		c.MinSeverity = models.SeverityMedium
	}
	if c.MaxFuture == 0 {
		c.MaxFuture = 5 * time.Minute
	}
	if c.MaxPast == 0 {
		c.MaxPast = 7 * 24 * time.Hour
	}
	if c.ShortCall == 0 {
		c.ShortCall = 10 * time.Second
	}
	if c.StaleAfter == 0 {
		c.StaleAfter = 15 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports what is wrong with the config.
func (c *EngineConfig) Validate() error {
	var errs []error
	if len(c.OfficialLines) == 0 {
		errs = append(errs, errors.New("official lines: none configured; alerts must tell employees which number to call back"))
	}
	if c.MinSeverity < models.SeverityLow || c.MinSeverity > models.SeverityCritical {
		errs = append(errs, fmt.Errorf("min severity %v: want low, medium, high or critical", c.MinSeverity))
	}
	if c.MaxFuture < 0 || c.MaxPast < 0 {
		errs = append(errs, errors.New("clock skew bounds must not be negative"))
	}
	if c.ShortCall < 0 || c.StaleAfter < 0 {
		errs = append(errs, fmt.Errorf("short call %v and stale-after %v must not be negative", c.ShortCall, c.StaleAfter))
	}
	return errors.Join(errs...)
}

// Engine scores batches of events: decode, observe reputation, extract
// features, evaluate rules, build alerts. It holds no per-batch state and
// is safe for concurrent use. The rule set can be swapped while running.
type Engine struct {
	cfg     EngineConfig
	decode  models.DecodeOptions
	rep     Reputation
	hasher  *SenderHasher
	current atomic.Pointer[Scoring] // rules and extractor, swapped together (reload.go)
	lines   string
}

var _ BatchHandler = (*Engine)(nil)

// NewEngine builds an engine. All arguments are required.
func NewEngine(cfg EngineConfig, decode models.DecodeOptions, x Extractor, rep Reputation, h *SenderHasher, rs *rules.Ruleset) (*Engine, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("detector config: %w", err)
	}
	if x == nil || rep == nil || h == nil || rs == nil {
		return nil, errors.New("detector: extractor, reputation, hasher and rules are all required")
	}
	e := &Engine{cfg: cfg, decode: decode, rep: rep, hasher: h, lines: strings.Join(cfg.OfficialLines, ", ")}
	e.current.Store(&Scoring{Rules: rs, Extractor: x})
	return e, nil
}

// SetRules swaps the rule set; batches already running finish with the
// old one.
func (e *Engine) SetRules(rs *rules.Ruleset) {
	cur := *e.current.Load()
	cur.Rules = rs
	e.current.Store(&cur)
}

// Rules returns the rule set in use.
func (e *Engine) Rules() *rules.Ruleset { return e.current.Load().Rules }

// Scored is one event's full result, for offline tools.
type Scored struct {
	Event    models.Event
	Snapshot models.Snapshot
	Features features.Set
	Verdict  models.Verdict
	Alert    *models.Alert // nil when not flagged
	// Err is set when scoring this event hit an internal error (a bug,
	// such as a panic in extraction). The event is then dead-lettered with
	// the error instead of stalling its partition or crashing the process.
	Err error
}

// HandleBatch implements BatchHandler: records that cannot be decoded
// become dead letters, the rest are scored in one reputation round trip,
// and flagged events become alerts. An error (reputation unavailable) is
// retryable and means nothing of the batch may be committed.
func (e *Engine) HandleBatch(ctx context.Context, recs []Record) (Result, error) {
	res := Result{Outcomes: make([]Outcome, len(recs))}
	events := make([]models.Event, 0, len(recs))
	index := make([]int, 0, len(recs)) // events[i] came from recs[index[i]]
	decoded, decodeErrs := e.decodeAll(recs)
	for i, rec := range recs {
		ev, err := decoded[i], decodeErrs[i]
		if err != nil {
			res.DeadLetters = append(res.DeadLetters, DeadLetter{Record: rec, Reason: err.Error()})
			res.Outcomes[i] = OutcomeDeadLetter
			continue
		}
		events = append(events, ev)
		index = append(index, i)
	}
	scored, err := e.Score(ctx, events)
	if err != nil {
		return Result{}, err
	}
	res.Verdicts = make([]models.Verdict, 0, len(scored))
	alerts := 0
	for j := range scored {
		if scored[j].Alert != nil && scored[j].Err == nil {
			alerts++
		}
	}
	if alerts > 0 {
		res.Alerts = make([]models.Alert, 0, alerts)
	}
	for j := range scored {
		s := &scored[j]
		if s.Err != nil {
			res.DeadLetters = append(res.DeadLetters, DeadLetter{Record: recs[index[j]], Reason: s.Err.Error()})
			res.Outcomes[index[j]] = OutcomeDeadLetter
			continue
		}
		res.Verdicts = append(res.Verdicts, s.Verdict)
		if s.Alert != nil {
			res.Alerts = append(res.Alerts, *s.Alert)
			res.Outcomes[index[j]] = OutcomeAlert
		} else {
			res.Outcomes[index[j]] = OutcomeScored
		}
	}
	return res, nil
}

// decodeRecord decodes one record; a panic in decoding (a bug: decoding
// is fuzzed, but a sender-supplied normaliser or a library may still
// fail) becomes that record's dead-letter reason instead of a crash loop
// on redelivery.
func (e *Engine) decodeRecord(rec Record) (ev models.Event, err error) {
	defer func() {
		if r := recover(); r != nil {
			e.cfg.Logger.Error("internal error decoding record; dead-lettering it", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "panic", fmt.Sprint(r))
			ev, err = models.Event{}, fmt.Errorf("internal error while decoding (please report): %v", r)
		}
	}()
	return models.DecodeEvent(rec.Value, e.decode)
}

// Score scores decoded events with one reputation round trip.
func (e *Engine) Score(ctx context.Context, events []models.Event) ([]Scored, error) {
	now := e.cfg.Now()
	cur := e.current.Load() // one rule set and model for the whole batch
	obs := make([]models.Observation, len(events))
	hashes := make([]string, len(events))
	var pre []analyzed // analyze.go: the text analysed once, before the round trip
	if an, ok := cur.Extractor.(Analyzer); ok {
		pre = e.analyzeAll(events, an)
	}
	for i := range events {
		ev := &events[i]
		hashes[i] = e.hasher.Hash(ev.From)
		obs[i] = models.Observation{
			EventID:    ev.ID,
			SenderHash: hashes[i],
			Employee:   ev.To,
			Kind:       ev.Kind,
			TS:         e.clamp(ev.TS, now),
		}
		if ev.Call != nil && ev.Kind == models.KindCall {
			obs[i].Missed = ev.Call.Missed
			obs[i].DurationS = ev.Call.DurationS
			obs[i].ShortCall = ev.Call.Missed || ev.Call.DurationS <= e.cfg.ShortCall.Seconds()
		}
		if pre != nil {
			if pre[i].a != nil && ev.Kind == models.KindMessage {
				obs[i].Fingerprint = pre[i].a.Fingerprint()
			}
		} else if fp, ok := cur.Extractor.(Fingerprinter); ok && ev.Kind == models.KindMessage {
			obs[i].Fingerprint = fp.Fingerprint(ev.Text)
		}
	}
	snaps, err := e.rep.Observe(ctx, obs)
	if err != nil {
		return nil, fmt.Errorf("observing reputation for %d events: %w", len(events), err)
	}
	if len(snaps) != len(events) {
		return nil, fmt.Errorf("reputation returned %d snapshots for %d events", len(snaps), len(events))
	}
	out := make([]Scored, len(events))
	e.scoreAll(out, events, snaps, hashes, pre, cur, now)
	return out, nil
}

// scoreOne fills sc with the score of one event: it extracts features
// (completing pre, its analysis, when the extractor is an Analyzer) and
// evaluates the rules. A
// panic here is a bug in fraudwatch, not in the input; it is contained to
// the event so that one record cannot take the consumer down.
func (e *Engine) scoreOne(sc *Scored, ev *models.Event, snap models.Snapshot, senderHash string, pre *analyzed, cur *Scoring, now time.Time) {
	defer func() {
		if r := recover(); r != nil {
			e.cfg.Logger.Error("internal error scoring event; dead-lettering it", "event_id", ev.ID, "panic", fmt.Sprint(r))
			*sc = Scored{Event: *ev, Snapshot: snap, Err: fmt.Errorf("internal error while scoring (please report): %v", r)}
		}
	}()
	// The features are computed and judged in place: a Set on the stack
	// would move to the heap once the rules see it, and then be copied.
	*sc = Scored{Event: *ev, Snapshot: snap}
	switch {
	case pre == nil:
		sc.Features = cur.Extractor.Extract(ev, snap)
	case pre.err != nil:
		sc.Err = pre.err
		return
	default:
		sc.Features = cur.Extractor.(Analyzer).Complete(pre.a, snap)
	}
	eval, err := cur.Rules.Evaluate(&sc.Features)
	if err != nil {
		e.cfg.Logger.Warn("rule evaluation failed", "event_id", ev.ID, "err", err)
	}
	v := models.Verdict{
		EventID:    ev.ID,
		Score:      eval.Score,
		Severity:   eval.Severity,
		Flagged:    eval.Severity >= e.cfg.MinSeverity,
		Categories: eval.Categories,
		Reasons:    maskReasons(eval.Reasons),
	}
	sc.Verdict = v
	if v.Flagged {
		a := e.alert(ev, senderHash, snap, v, cur, now)
		sc.Alert = &a
	}
}

func (e *Engine) clamp(ts, now time.Time) time.Time {
	if hi := now.Add(e.cfg.MaxFuture); ts.After(hi) {
		return hi
	}
	if lo := now.Add(-e.cfg.MaxPast); ts.Before(lo) {
		return lo
	}
	return ts
}

// maxEvidenceRunes bounds each excerpt: evidence explains, it does not
// copy the message.
const maxEvidenceRunes = 160

func maskReasons(rs []models.Reason) []models.Reason {
	for i := range rs {
		ev, cut := models.TruncateRunes(models.MaskSensitive(rs[i].Evidence), maxEvidenceRunes)
		if cut {
			ev += "…"
		}
		rs[i].Evidence = ev
	}
	return rs
}

// campaignOf names the campaign on an alert once the text has reached
// more than one sender or employee: a text seen once is not (yet) a
// campaign, and naming it would split the SOC's grouping by sender.
func campaignOf(snap models.Snapshot) string {
	if snap.CampaignSenders > 1 || snap.CampaignEmployees > 1 {
		return snap.Campaign
	}
	return ""
}

func (e *Engine) alert(ev *models.Event, senderHash string, snap models.Snapshot, v models.Verdict, cur *Scoring, now time.Time) models.Alert {
	age := now.Sub(ev.TS).Seconds()
	if age < 0 {
		age = 0
	}
	// The display name is what the employee saw; a number in it is masked too.
	name, _ := models.TruncateRunes(models.MaskSensitive(ev.FromName), 64)
	stale := age > e.cfg.StaleAfter.Seconds()
	return models.Alert{
		ID:             models.AlertID(ev.ID),
		EventID:        ev.ID,
		EventKind:      ev.Kind,
		EventTime:      ev.TS,
		AgeSeconds:     float64(int64(age*1000)) / 1000,
		Employee:       ev.To,
		Sender:         models.MaskNumber(ev.From),
		SenderName:     name,
		SenderHash:     senderHash,
		Severity:       v.Severity,
		Score:          v.Score,
		Categories:     v.Categories,
		Reasons:        v.Reasons,
		Advice:         cur.Rules.Advice(v.Categories, e.lines),
		Campaign:       campaignOf(snap),
		TextID:         snap.Campaign,
		FirstContact:   senderHash != "" && snap.PairEvents == 1,
		Stale:          stale,
		NotifyEmployee: !stale,
		RulesVersion:   cur.Rules.Version(),
		ModelVersion:   e.modelVersion(cur.Extractor),
		CreatedAt:      now.UTC(),
	}
}

// ModelVersioner is implemented by extractors that score with a text
// model (features.Extractor): alerts name the model that judged them.
type ModelVersioner interface {
	ModelVersion() string
}

// modelVersion is the configured model version, else the extractor's,
// else "none". It is asked per alert, so a model swapped with the
// extractor is named correctly.
func (e *Engine) modelVersion(x Extractor) string {
	if e.cfg.ModelVersion != "" {
		return e.cfg.ModelVersion
	}
	if mv, ok := x.(ModelVersioner); ok {
		return mv.ModelVersion()
	}
	return "none"
}
