package triage

import (
	"context"
	"encoding/json"
	"fmt"

	"fraudwatch/detector"
	"fraudwatch/models"
)

// AlertHandler consumes the alerts topic into triage. It implements
// detector.BatchHandler, so the consumer loop commits a batch only after
// every alert in it is stored: a crash redelivers, and redelivered alerts
// are recognised by id and change nothing. A record that is not an alert
// becomes a dead letter with the reason.
type AlertHandler struct {
	t *Triage
}

var _ detector.BatchHandler = (*AlertHandler)(nil)

// NewAlertHandler returns a handler storing alerts in t.
func NewAlertHandler(t *Triage) *AlertHandler { return &AlertHandler{t: t} }

// HandleBatch stores the batch's alerts in order. An error (the store is
// unavailable) is retryable: nothing may be committed.
func (h *AlertHandler) HandleBatch(ctx context.Context, recs []detector.Record) (detector.Result, error) {
	res := detector.Result{Outcomes: make([]detector.Outcome, len(recs))}
	for i, rec := range recs {
		a, err := decodeAlert(rec.Value)
		if err != nil {
			res.DeadLetters = append(res.DeadLetters, detector.DeadLetter{Record: rec, Reason: "triage: " + err.Error()})
			res.Outcomes[i] = detector.OutcomeDeadLetter
			continue
		}
		if _, err := h.t.Ingest(ctx, a); err != nil {
			return detector.Result{}, fmt.Errorf("storing alert %q: %w", a.ID, err)
		}
		res.Outcomes[i] = detector.OutcomeScored
	}
	return res, nil
}

// decodeAlert reads one alert and checks the fields triage groups by.
func decodeAlert(data []byte) (models.Alert, error) {
	var a models.Alert
	if err := json.Unmarshal(data, &a); err != nil {
		return a, fmt.Errorf("not a JSON alert: %w", err)
	}
	switch {
	case a.ID == "":
		return a, fmt.Errorf("alert without id")
	case len(a.ID) > 256:
		return a, fmt.Errorf("alert id longer than 256 bytes")
	case a.EventTime.IsZero():
		return a, fmt.Errorf("alert %q without event_time", a.ID)
	case a.Employee == "" && a.SenderHash == "" && a.Campaign == "":
		return a, fmt.Errorf("alert %q has nothing to group by (no employee, sender_hash or campaign)", a.ID)
	}
	return a, nil
}
