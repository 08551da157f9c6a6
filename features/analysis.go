package features

import (
	"sync"

	"fraudwatch/models"
)

// Extract does two kinds of work: the text, sender and event features,
// which depend on the event alone and are nearly all of its cost, and
// the reputation and cross-event features, which copy the sender's
// snapshot. The detector needs the campaign fingerprint of the text
// before it can ask for that snapshot, and the fingerprint normalises the
// text as the text features do. Analyze and Complete split Extract at
// that seam so that the text is normalised once per event:
//
//	a := x.Analyze(ev)          // text, sender, event features; fingerprint
//	fp := a.Fingerprint()       // → the reputation round trip → snap
//	set := x.Complete(a, snap)  // == x.Extract(ev, snap)

// Analysis is the reputation-independent part of an event's features,
// from Analyze, waiting for Complete. It is pooled: it belongs to the
// caller from Analyze until it is passed to Complete, and must not be
// used after that.
type Analysis struct {
	ev  *models.Event
	set Set
	fp  models.Fingerprint
}

// Fingerprint is Fingerprint(ev.Text) of the analysed event: bit for bit
// the same value, computed from the normalisation Analyze did anyway. The
// slice is the caller's to keep.
func (a *Analysis) Fingerprint() models.Fingerprint { return a.fp }

var analysisPool = sync.Pool{New: func() any { return new(Analysis) }}

// Analyze computes everything of ev's feature set that does not depend on
// its sender's reputation, and the campaign fingerprint of its text. ev
// must not change until the Analysis is passed to Complete. Like Extract,
// it never fails and never panics on odd input; ev must not be nil.
func (x *Extractor) Analyze(ev *models.Event) *Analysis {
	a := analysisPool.Get().(*Analysis)
	a.ev = ev
	a.fp = x.analyze(ev, &a.set, true)
	return a
}

// Complete adds the features derived from rep, the reputation snapshot of
// a's event, and returns the set: exactly what Extract(ev, rep) returns.
// a goes back to the pool and must not be used again.
func (x *Extractor) Complete(a *Analysis, rep models.Snapshot) Set {
	s := a.set
	x.complete(a.ev, rep, &s)
	*a = Analysis{}
	analysisPool.Put(a)
	return s
}

// analyze fills s with the text, sender and event features of ev and,
// when fingerprint is set, returns Fingerprint(ev.Text).
func (x *Extractor) analyze(ev *models.Event, s *Set, fingerprint bool) models.Fingerprint {
	sc := x.pool.Get().(*scratch)
	defer x.pool.Put(sc)
	x.text(ev.Text, s, sc)
	var fp models.Fingerprint
	if fingerprint && ev.Text != "" {
		// x.text left pass1 of the text in sc.low and its pass2 with the
		// links, phones and cards blanked in sc.fold. The fingerprint
		// reads the pass2 without blanks: the same bytes when nothing
		// was blanked, else one more pass2 (pass1 is not repeated).
		fold := sc.fold.s
		if len(sc.blank) > 0 {
			_, _, _, sc.word = pass2(&sc.fpFold, &sc.low, nil, sc.word)
			fold = sc.fpFold.s
		}
		fp = fingerprintOf(fold)
	}
	x.sender(ev, s, sc)
	x.event(ev, s)
	return fp
}

// complete adds the snapshot-derived features to s, the result of analyze.
func (x *Extractor) complete(ev *models.Event, rep models.Snapshot, s *Set) {
	x.reputation(ev, rep, s)
	x.crossEvent(ev, rep, s)
}
