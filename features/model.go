package features

import (
	"strings"

	"fraudwatch/features/textmodel"
)

// The text model sees the message the way the lexicons do: the tokens of
// the folded text (case, ё, invisible characters, homoglyphs, leetspeak)
// by their Snowball stems, numbers as "#", plus a mark for each kind of
// thing that was cut out of the text before tokenizing (links, phone
// numbers, card numbers), since those carry no words.
//
// Transliteration is not folded for the model: a Latin word is read as
// Russian written in Latin letters only when a lexicon phrase confirms it,
// and reading every English word that way ("win" → "вин") would make the
// English words of the training data collide with ordinary Russian ones.

// The marks the model sees (unigram features only).
const (
	markURL   = "_url"
	markPhone = "_phone"
	markCard  = "_card"
)

// modelEvidenceMin is the probability from which model_score gets an
// evidence excerpt (the stems that pushed it up): below it, no rule
// weighing the model would fire anyway, and explaining costs time.
const modelEvidenceMin = 0.3

// modelDoc fills d with the model's view of the text just processed by
// x.text into sc. The strings alias the stem cache, not sc.
func modelDoc(d *textmodel.Doc, sc *scratch) {
	d.Tokens = d.Tokens[:0]
	for i := range sc.toks {
		d.Tokens = append(d.Tokens, sc.toks[i].stem)
	}
	d.Marks = d.Marks[:0]
	if len(sc.links) > 0 {
		d.Marks = append(d.Marks, markURL)
	}
	if len(sc.phones) > 0 {
		d.Marks = append(d.Marks, markPhone)
	}
	if len(sc.cardSpans) > 0 {
		d.Marks = append(d.Marks, markCard)
	}
}

// modelScore sets s.ModelScore from the text just processed into sc.
func (x *Extractor) modelScore(s *Set, sc *scratch) {
	if x.model == nil {
		return
	}
	modelDoc(&sc.mdoc, sc)
	sc.mids = sc.mids[:0]
	for i := range sc.toks {
		t := &sc.toks[i]
		if t.ann { // the stem cache looked the stem up in x.model once
			sc.mids = append(sc.mids, t.model)
		} else {
			sc.mids = append(sc.mids, x.model.TokenIDOf(t.stem))
		}
	}
	var top []string
	s.ModelScore, top = x.model.Judge(sc.mdoc, sc.mids, modelEvidenceMin, 4)
	if s.ModelScore >= modelEvidenceMin {
		s.evidence("model_score", "model: "+strings.Join(top, ", "))
	}
}

// finishCaches numbers the final lexicon and makes the stem cache carry
// each word's lexicon phrases and numbers and its model ids from now on.
// NewExtractor calls it last.
func (x *Extractor) finishCaches() {
	x.lex.assignIDs()
	x.stems.setAnnotate(x.annotate)
}

// annotate adds to a word of the stem cache the lexicon phrases that
// begin with it, its lexicon numbers and its ids in the model (see
// wordInfo).
func (x *Extractor) annotate(w *wordInfo) {
	w.ann = true
	x.lex.wordIDs(w)
	w.first = x.lex.byFirst[w.stem]
	if w.alt != "" {
		w.firstLoose = x.lex.byLoose[w.alt]
	}
	w.model = textmodel.TokenID{Unigram: -1, Part: -1}
	if x.model != nil {
		w.model = x.model.TokenIDOf(w.stem)
	}
}

// ModelDoc returns what the text model sees of text: the same tokens and
// marks Extract scores. train and explain use it; the result is the
// caller's.
func (x *Extractor) ModelDoc(text string) textmodel.Doc {
	sc := x.pool.Get().(*scratch)
	defer x.pool.Put(sc)
	var s Set
	var d textmodel.Doc
	if text != "" {
		x.text(text, &s, sc)
		modelDoc(&d, sc)
	}
	return textmodel.Doc{Tokens: append([]string(nil), d.Tokens...), Marks: append([]string(nil), d.Marks...)}
}

// Model returns the text model in use, nil when there is none.
func (x *Extractor) Model() *textmodel.Model { return x.model }

// ModelVersion names the text model in use for alerts: its version id,
// or "none".
func (x *Extractor) ModelVersion() string {
	if x.model == nil {
		return "none"
	}
	return x.model.Version()
}
