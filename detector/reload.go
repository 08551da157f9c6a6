package detector

import (
	"errors"

	"fraudwatch/detector/rules"
)

// Scoring is one consistent set of what judges events: the rule set and
// the extractor, whose lexicons and text model feed the features the
// rules read. The engine holds it behind one atomic pointer and reads it
// once per batch, so a batch is scored by one rule set and one model even
// while a reload swaps them; alerts carry the versions of the set that
// judged them.
type Scoring struct {
	Rules     *rules.Ruleset
	Extractor Extractor
}

func (s Scoring) validate() error {
	if s.Rules == nil || s.Extractor == nil {
		return errors.New("detector: scoring needs both rules and an extractor")
	}
	return nil
}

// Swap replaces the rules and extractor in one step. Batches already
// running finish with the old set; the next batch uses the new one.
func (e *Engine) Swap(s Scoring) error {
	if err := s.validate(); err != nil {
		return err
	}
	e.current.Store(&s)
	return nil
}

// Scoring returns the set in use.
func (e *Engine) Scoring() Scoring { return *e.current.Load() }
