package models

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// FeedbackUnsure is a verdict that changes no counter: the analyst could
// not tell. It is accepted so that triage tools can send every verdict.
const FeedbackUnsure = "unsure"

// FeedbackRecord is one SOC verdict on one alert, as it travels on the
// feedback topic (one JSON object per record):
//
//	{"id": "fb-7f31", "alert_id": "fa_…", "sender_hash": "v1:…",
//	 "verdict": "fraud", "analyst": "soc-anna", "ts": "2026-11-26T10:02:00Z"}
//
// alert_id and verdict are required. sender_hash is the alert's; without
// it (an alert on an event without a valid number) the verdict has no
// sender to update. id makes a verdict idempotent; without it, the alert
// id and verdict do.
type FeedbackRecord struct {
	ID         string    `json:"id,omitempty"`
	AlertID    string    `json:"alert_id"`
	SenderHash string    `json:"sender_hash,omitempty"`
	Verdict    string    `json:"verdict"`
	Analyst    string    `json:"analyst,omitempty"`
	TS         time.Time `json:"ts,omitzero"`
	Comment    string    `json:"comment,omitempty"`
}

// senderHashPattern is the form of detector.SenderHasher's output.
var senderHashPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}:[0-9a-f]{32}$`)

// maxFeedbackField bounds the identifying fields of a feedback record.
const maxFeedbackField = 256

// Key is the verdict's idempotency key.
func (r FeedbackRecord) Key() string {
	if r.ID != "" {
		return "id:" + r.ID
	}
	// The time is part of the key: fraud, then legit, then fraud again on
	// one alert are three verdicts, while a redelivery keeps its time.
	return "alert:" + r.AlertID + "/" + r.Verdict + "/" + r.TS.UTC().Format(time.RFC3339Nano)
}

// DecodeFeedback parses and validates one feedback record. Errors are
// *DecodeError naming the field: such a record goes to the dead-letter
// topic with the reason.
func DecodeFeedback(data []byte) (FeedbackRecord, error) {
	var r FeedbackRecord
	if !utf8.Valid(data) {
		return r, &DecodeError{Reason: "not valid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&r); err != nil {
		return FeedbackRecord{}, &DecodeError{Reason: "not a JSON feedback object: " + err.Error()}
	}
	r.AlertID = strings.TrimSpace(r.AlertID)
	r.Verdict = strings.ToLower(strings.TrimSpace(r.Verdict))
	switch {
	case r.AlertID == "":
		return FeedbackRecord{}, &DecodeError{Field: "alert_id", Reason: "missing (required)"}
	case r.Verdict != FeedbackFraud && r.Verdict != FeedbackLegit && r.Verdict != FeedbackUnsure:
		return FeedbackRecord{}, &DecodeError{Field: "verdict", Reason: fmt.Sprintf("%q: want fraud, legit or unsure", r.Verdict)}
	}
	if r.SenderHash != "" && !senderHashPattern.MatchString(r.SenderHash) {
		// Only the detector's keyed hash may reach Redis keys: a raw
		// number pasted here would be stored in clear.
		return FeedbackRecord{}, &DecodeError{Field: "sender_hash", Reason: "not a sender hash from an alert (<key version>:<32 hex digits>)"}
	}
	for _, f := range []struct{ name, v string }{{"id", r.ID}, {"alert_id", r.AlertID}, {"sender_hash", r.SenderHash}} {
		if len(f.v) > maxFeedbackField {
			return FeedbackRecord{}, &DecodeError{Field: f.name, Reason: fmt.Sprintf("longer than %d bytes", maxFeedbackField)}
		}
	}
	return r, nil
}
