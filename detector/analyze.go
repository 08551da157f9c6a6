package detector

import (
	"fmt"

	"fraudwatch/features"
	"fraudwatch/models"
)

// Analyzer is implemented by extractors that split Extract at the
// reputation round trip (features.Extractor): Analyze does the work that
// needs only the event and gives the campaign fingerprint, Complete adds
// the snapshot and returns exactly what Extract would. The engine then
// normalises each text once instead of once for the fingerprint and again
// for the features. Extractors without it are called through Extract and
// Fingerprinter.
type Analyzer interface {
	Analyze(ev *models.Event) *features.Analysis
	Complete(a *features.Analysis, rep models.Snapshot) features.Set
}

// analyzed is one event's analysis, or the internal error that stopped
// it (a bug, dead-lettered with the event as scoreOne does).
type analyzed struct {
	a   *features.Analysis
	err error
}

// analyzeAll analyses every event, on several goroutines for a large
// batch as scoreAll scores; out[i] is events[i]'s.
func (e *Engine) analyzeAll(events []models.Event, an Analyzer) []analyzed {
	out := make([]analyzed, len(events))
	inParallel(len(events), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = e.analyzeOne(&events[i], an)
		}
	})
	return out
}

func (e *Engine) analyzeOne(ev *models.Event, an Analyzer) (res analyzed) {
	defer func() {
		if r := recover(); r != nil {
			e.cfg.Logger.Error("internal error analysing event; dead-lettering it", "event_id", ev.ID, "panic", fmt.Sprint(r))
			res = analyzed{err: fmt.Errorf("internal error while scoring (please report): %v", r)}
		}
	}()
	return analyzed{a: an.Analyze(ev)}
}
