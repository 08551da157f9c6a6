// Package memrep keeps number-reputation counters in memory. It behaves
// like features/redisrep (same windows, same idempotency, same expiry) and
// serves offline scoring and tests, where a Redis server is not wanted.
//
// State is per sender hash, in three parts that expire independently by
// the wall clock, as the three Redis keys of a sender do: the counters
// (events, calls, missed calls, first and last seen), the employee window
// (each employee's latest contact time) and one record per event id (the
// snapshot returned on redelivery). Expired state is dropped lazily when a
// sender is touched and by a sweep that runs after as many observations
// as there were entries at the previous sweep, so memory stays bounded by
// what was written within the TTLs and the sweep costs O(1) amortised.
package memrep

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"fraudwatch/models"
)

// Window lengths on event time, the same as redisrep's.
const (
	window1h  = time.Hour
	window24h = 24 * time.Hour
)

// Defaults applied by Config.withDefaults, the same as redisrep's.
const (
	DefaultCounterTTL  = 30 * 24 * time.Hour // counters, first and last seen
	DefaultWindowTTL   = 25 * time.Hour      // the employee window: 24h plus slack for late events
	DefaultIDRetention = 7 * 24 * time.Hour  // recorded snapshots per event id
	minIDRetention     = time.Hour
	minSweepEvery      = 1024
)

// Config configures a Store. Zero fields take the defaults.
type Config struct {
	// CounterTTL is how long a sender's counters live after its last
	// counted event (wall clock). Default DefaultCounterTTL.
	CounterTTL time.Duration
	// WindowTTL is how long a sender's employee window lives after its
	// last counted event (wall clock). It must cover the 24h window.
	// Default DefaultWindowTTL.
	WindowTTL time.Duration
	// IDRetention is how long the snapshot recorded for an event id is
	// kept, and so how long a redelivery is recognised. Set it to at least
	// the inbound topic's retention. At least 1h; default DefaultIDRetention.
	IDRetention time.Duration
	// Now is the wall clock used for expiry (not for windows, which use
	// event time). Default time.Now; tests inject a fake.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.CounterTTL == 0 {
		c.CounterTTL = DefaultCounterTTL
	}
	if c.WindowTTL == 0 {
		c.WindowTTL = DefaultWindowTTL
	}
	if c.IDRetention == 0 {
		c.IDRetention = DefaultIDRetention
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports what is wrong with c after defaults are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.CounterTTL < time.Millisecond {
		errs = append(errs, fmt.Errorf("memrep: CounterTTL %v must be positive (at least 1ms)", c.CounterTTL))
	}
	if c.WindowTTL < window24h {
		errs = append(errs, fmt.Errorf("memrep: WindowTTL %v must be at least the 24h window it holds", c.WindowTTL))
	}
	if c.IDRetention < minIDRetention {
		errs = append(errs, fmt.Errorf("memrep: IDRetention %v must be at least %v; set it to the inbound topic's retention", c.IDRetention, minIDRetention))
	}
	return errors.Join(errs...)
}

type counters struct {
	events, calls, missed int64
	first, last           int64 // event time, unix ms; set by the first event
	fraud, falsePos       int64 // SOC verdicts
	expires               time.Time
}

// pairs is what a sender did to each employee: events, and the latest
// missed or short call. Like redisrep's pair hash, it lives CounterTTL.
type pairs struct {
	events    map[string]int64
	shortCall map[string]int64 // unix ms
	expires   time.Time
}

type window struct {
	latest  map[string]int64 // employee → latest contact, unix ms
	expires time.Time
}

type idKey struct {
	sender string
	id     [16]byte // sha256 of the event id, truncated as in redisrep
}

type record struct {
	snap    models.Snapshot
	expires time.Time
}

// Store is an in-memory reputation store. It is safe for concurrent use;
// each Observe call is applied atomically. The zero value is not usable:
// call New.
type Store struct {
	cfg Config

	mu         sync.Mutex
	counters   map[string]*counters
	windows    map[string]*window
	records    map[idKey]record
	pairs      map[string]*pairs
	shortCalls map[string]*window   // employees reached by short calls
	allowed    map[string]time.Time // sender → allowlisted until
	feedback   map[string]time.Time // feedback id → remembered until
	campaigns  *campaigns
	sinceSweep int
	sweepEvery int
}

// New returns an empty Store, or the error of cfg.Validate.
func New(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Store{
		cfg:        cfg.withDefaults(),
		counters:   make(map[string]*counters),
		windows:    make(map[string]*window),
		records:    make(map[idKey]record),
		pairs:      make(map[string]*pairs),
		shortCalls: make(map[string]*window),
		allowed:    make(map[string]time.Time),
		feedback:   make(map[string]time.Time),
		campaigns:  newCampaigns(),
		sweepEvery: minSweepEvery,
	}, nil
}

// Observe counts each observation in order and returns its snapshot, the
// observation included, in the order of obs. An observation whose event
// id was recorded for its sender within IDRetention gets the recorded
// snapshot with Replayed set and changes nothing; a second observation of
// an event within one batch is such a replay. An empty SenderHash gets the
// zero Snapshot. The only error is the context's, returned before any
// state changes.
func (s *Store) Observe(ctx context.Context, obs []models.Observation) ([]models.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memrep: observe batch of %d: %w", len(obs), err)
	}
	out := make([]models.Snapshot, len(obs))
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	for i := range obs {
		o := &obs[i]
		if o.SenderHash != "" {
			out[i] = s.observe(now, o)
			s.sinceSweep++
		}
		if o.Fingerprint != nil {
			c, replayed := s.campaigns.observe(now, o, s.cfg.WindowTTL, s.cfg.IDRetention)
			out[i].Campaign, out[i].CampaignSenders, out[i].CampaignEmployees, out[i].CampaignEvents = c.Campaign, c.CampaignSenders, c.CampaignEmployees, c.CampaignEvents
			if o.SenderHash == "" {
				out[i].Replayed = replayed
			}
			s.sinceSweep++
		}
	}
	if s.sinceSweep >= s.sweepEvery {
		s.sweep(now)
	}
	return out, nil
}

func (s *Store) observe(now time.Time, o *models.Observation) models.Snapshot {
	key := idKey{sender: o.SenderHash, id: eventIDHash(o.EventID)}
	if r, ok := s.records[key]; ok && now.Before(r.expires) {
		snap := r.snap
		snap.Replayed = true
		return snap
	}
	ts := o.TS.UnixMilli()

	c := s.liveCounters(now, o.SenderHash)
	if c.events == 0 {
		c.first, c.last = ts, ts
	}
	c.events++
	if o.Kind == models.KindCall {
		c.calls++
	}
	if o.Missed {
		c.missed++
	}
	c.first = min(c.first, ts)
	c.last = max(c.last, ts)
	c.expires = now.Add(s.cfg.CounterTTL)

	w := s.windows[o.SenderHash]
	if w == nil || !now.Before(w.expires) {
		w = &window{latest: make(map[string]int64)}
		s.windows[o.SenderHash] = w
	}
	if prev, ok := w.latest[o.Employee]; !ok || ts > prev {
		w.latest[o.Employee] = ts
	}
	// Trim what no window of the latest event can reach, as redisrep's
	// ZREMRANGEBYSCORE does, then count. The event's own employee is
	// always in both windows: it was contacted at ts, even if its kept
	// time is later (an out-of-order event) or was just trimmed.
	trim := c.last - window24h.Milliseconds()
	from1h, from24h := ts-window1h.Milliseconds(), ts-window24h.Milliseconds()
	var n1h, n24h int64 = 1, 1
	for emp, t := range w.latest {
		switch {
		case t <= trim:
			delete(w.latest, emp)
		case emp == o.Employee:
		case t > ts:
		default:
			if t > from1h {
				n1h++
			}
			if t > from24h {
				n24h++
			}
		}
	}
	w.expires = now.Add(s.cfg.WindowTTL)

	snap := models.Snapshot{
		Events:         c.events,
		Calls:          c.calls,
		MissedCalls:    c.missed,
		FirstSeen:      time.UnixMilli(c.first).UTC(),
		LastSeen:       time.UnixMilli(c.last).UTC(),
		Employees1h:    n1h,
		Employees24h:   n24h,
		FraudReports:   c.fraud,
		FalsePositives: c.falsePos,
	}
	if until, ok := s.allowed[o.SenderHash]; ok && now.Before(until) {
		snap.Allowlisted = true
	}
	s.observePair(now, o, ts, c.last, &snap)
	s.records[key] = record{snap: snap, expires: now.Add(s.cfg.IDRetention)}
	return snap
}

// liveCounters returns the sender's counters, new ones if they expired.
func (s *Store) liveCounters(now time.Time, sender string) *counters {
	c := s.counters[sender]
	if c == nil || !now.Before(c.expires) {
		c = &counters{}
		s.counters[sender] = c
	}
	c.expires = now.Add(s.cfg.CounterTTL)
	return c
}

// observePair counts the event for its employee and keeps the short-call
// state, as redisrep's script does with the pair hash and the short-call
// window. last is the sender's latest event time, for trimming.
func (s *Store) observePair(now time.Time, o *models.Observation, ts, last int64, snap *models.Snapshot) {
	p := s.pairs[o.SenderHash]
	if p == nil || !now.Before(p.expires) {
		p = &pairs{events: make(map[string]int64), shortCall: make(map[string]int64)}
		s.pairs[o.SenderHash] = p
	}
	p.expires = now.Add(s.cfg.CounterTTL)
	p.events[o.Employee]++
	snap.PairEvents = p.events[o.Employee]
	if o.ShortCall {
		if prev, ok := p.shortCall[o.Employee]; !ok || ts > prev {
			p.shortCall[o.Employee] = ts
		}
	}
	if t, ok := p.shortCall[o.Employee]; ok && t <= ts {
		snap.ShortCallSeen, snap.ShortCallAgo = true, time.Duration(ts-t)*time.Millisecond
	}

	w := s.shortCalls[o.SenderHash]
	if w == nil || !now.Before(w.expires) {
		w = &window{latest: make(map[string]int64)}
		s.shortCalls[o.SenderHash] = w
	}
	if o.ShortCall {
		if prev, ok := w.latest[o.Employee]; !ok || ts > prev {
			w.latest[o.Employee] = ts
		}
	}
	trim, from := last-window24h.Milliseconds(), ts-window24h.Milliseconds()
	var n int64
	for emp, t := range w.latest {
		own := o.ShortCall && emp == o.Employee
		if t <= trim {
			delete(w.latest, emp)
		}
		// The call's own employee was reached by this very call, whatever
		// its kept time, even when a call more than a day late is trimmed
		// at once (redisrep counts it the same way).
		if own || t > trim && t > from && t <= ts {
			n++
		}
	}
	if len(w.latest) > 0 {
		w.expires = now.Add(s.cfg.WindowTTL)
	}
	snap.ShortCallEmployees24h = n
}

// ApplyFeedback applies SOC verdicts: a fraud verdict counts a fraud
// report for the sender and ends its allowlisting, a legit verdict counts
// a false positive and allowlists the sender for AllowFor. Each feedback
// ID is applied once within IDRetention; feedback without a sender hash
// or with an unknown verdict is ignored (the caller validates). The only
// error is the context's.
func (s *Store) ApplyFeedback(ctx context.Context, fbs []models.Feedback) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memrep: feedback batch of %d: %w", len(fbs), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	for _, f := range fbs {
		if f.SenderHash == "" || (f.Verdict != models.FeedbackFraud && f.Verdict != models.FeedbackLegit) {
			continue
		}
		key := f.SenderHash + "\x00" + f.ID
		if until, ok := s.feedback[key]; ok && now.Before(until) {
			continue
		}
		s.feedback[key] = now.Add(s.cfg.IDRetention)
		c := s.liveCounters(now, f.SenderHash)
		if f.Verdict == models.FeedbackFraud {
			c.fraud++
			delete(s.allowed, f.SenderHash)
		} else {
			c.falsePos++
			s.allowed[f.SenderHash] = now.Add(f.AllowFor)
		}
		s.sinceSweep++
	}
	return nil
}

// sweep drops every expired entry. Sweeping after as many observations as
// there were live entries keeps the garbage at most proportional to the
// live state.
func (s *Store) sweep(now time.Time) {
	for k, c := range s.counters {
		if !now.Before(c.expires) {
			delete(s.counters, k)
		}
	}
	for k, w := range s.windows {
		if !now.Before(w.expires) {
			delete(s.windows, k)
		}
	}
	for k, r := range s.records {
		if !now.Before(r.expires) {
			delete(s.records, k)
		}
	}
	for k, p := range s.pairs {
		if !now.Before(p.expires) {
			delete(s.pairs, k)
		}
	}
	for k, w := range s.shortCalls {
		if !now.Before(w.expires) {
			delete(s.shortCalls, k)
		}
	}
	for _, m := range []map[string]time.Time{s.allowed, s.feedback} {
		for k, until := range m {
			if !now.Before(until) {
				delete(m, k)
			}
		}
	}
	live := s.campaigns.sweep(now)
	s.sinceSweep = 0
	s.sweepEvery = max(minSweepEvery, len(s.counters)+len(s.windows)+len(s.records)+len(s.pairs)+len(s.shortCalls)+len(s.allowed)+len(s.feedback)+live)
}

// eventIDHash is the digest under which an event's snapshot is recorded:
// the first 16 bytes of SHA-256 of the event id. It bounds the size of
// the record key whatever the id's length; collisions need 2^64 events.
func eventIDHash(eventID string) [16]byte {
	sum := sha256.Sum256([]byte(eventID))
	return [16]byte(sum[:16])
}
