package models

import (
	"encoding/json"
	"fmt"
)

// Label is the ground truth of a corpus row.
type Label string

// The labels. Spam and scam are both positives for evaluation.
const (
	LabelHam  Label = "ham"
	LabelSpam Label = "spam"
	LabelScam Label = "scam"
)

// Positive reports whether the label is spam or scam.
func (l Label) Positive() bool { return l == LabelSpam || l == LabelScam }

// LabeledEvent is one row of a labelled corpus: an event plus its label.
// Public corpora carry only id, text and label; such rows are valid and
// are scored on content alone.
type LabeledEvent struct {
	Event
	Label      Label      `json:"label"`
	Categories []Category `json:"categories,omitempty"`
	Lang       string     `json:"lang,omitempty"`
	Source     string     `json:"source,omitempty"`
}

type wireLabels struct {
	Label      Label      `json:"label"`
	Categories []Category `json:"categories"`
	Lang       string     `json:"lang"`
	Source     string     `json:"source"`
}

// DecodeCorpusRow decodes a labelled row. The label is required and must
// be ham, spam or scam; categories must be known. The event part follows
// DecodeEvent's rules for the fields it has, but kind, ts and to may be
// absent (kind defaults to message, ts to the zero time, to to "").
func DecodeCorpusRow(raw []byte, opts DecodeOptions) (LabeledEvent, error) {
	var w wireEvent
	ev, err := decodeWire(raw, &w)
	if err != nil {
		return LabeledEvent{}, err
	}
	var l wireLabels
	if err := json.Unmarshal(raw, &l); err != nil {
		return LabeledEvent{}, &DecodeError{Reason: "labels: " + err.Error()}
	}
	switch l.Label {
	case LabelHam, LabelSpam, LabelScam:
	case "":
		return LabeledEvent{}, &DecodeError{Field: "label", Reason: "missing (required: ham, spam or scam)"}
	default:
		return LabeledEvent{}, &DecodeError{Field: "label", Reason: fmt.Sprintf("unknown label %q (want ham, spam or scam)", excerpt(string(l.Label), 32))}
	}
	for _, c := range l.Categories {
		if !c.Valid() {
			return LabeledEvent{}, &DecodeError{Field: "categories", Reason: fmt.Sprintf("unknown category %q", excerpt(string(c), 40))}
		}
	}
	if ev.ID, err = requiredString("id", w.ID, MaxIDBytes); err != nil {
		return LabeledEvent{}, err
	}
	ev.Kind = KindMessage
	if isPresent(w.Kind) {
		if ev.Kind, err = decodeKind(w.Kind); err != nil {
			return LabeledEvent{}, err
		}
	}
	if isPresent(w.TS) {
		if ev.TS, err = decodeTime(w.TS); err != nil {
			return LabeledEvent{}, err
		}
	}
	if isPresent(w.To) {
		if ev.To, err = requiredString("to", w.To, MaxIDBytes); err != nil {
			return LabeledEvent{}, err
		}
	}
	if err := decodeBody(&ev, &w, opts); err != nil {
		return LabeledEvent{}, err
	}
	return LabeledEvent{Event: ev, Label: l.Label, Categories: l.Categories, Lang: l.Lang, Source: l.Source}, nil
}
