package detector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"fraudwatch/models"
)

// FeedbackStore applies SOC verdicts to sender reputation. Implementations
// apply each feedback ID once (redelivery changes nothing); errors are
// retryable. features/memrep and features/redisrep implement it.
type FeedbackStore interface {
	ApplyFeedback(ctx context.Context, fbs []models.Feedback) error
}

// FeedbackStoreFunc adapts a function to FeedbackStore, for tests.
type FeedbackStoreFunc func(ctx context.Context, fbs []models.Feedback) error

// ApplyFeedback calls f.
func (f FeedbackStoreFunc) ApplyFeedback(ctx context.Context, fbs []models.Feedback) error {
	return f(ctx, fbs)
}

// DefaultAllowFor is how long a "legit" verdict allowlists a sender.
const DefaultAllowFor = 30 * 24 * time.Hour

// FeedbackConfig configures a FeedbackHandler. Zero fields take defaults.
type FeedbackConfig struct {
	// AllowFor is how long a "legit" verdict allowlists the sender.
	// Default DefaultAllowFor; at most a year.
	AllowFor time.Duration
	// Logger receives a summary per batch. Default slog.Default().
	Logger *slog.Logger
}

// Validate reports what is wrong with c.
func (c FeedbackConfig) Validate() error {
	if c.AllowFor < 0 || c.AllowFor > 366*24*time.Hour {
		return fmt.Errorf("feedback: allowlist duration %v: want between 0 (default %v) and a year", c.AllowFor, DefaultAllowFor)
	}
	return nil
}

// FeedbackHandler consumes the feedback topic: each record is a SOC
// verdict on an alert (models.FeedbackRecord) that updates the sender's
// fraud and false-positive counters and allowlist. It implements
// BatchHandler, so the same consumer loop commits feedback only after it
// is applied. A record that cannot be read becomes a dead letter; a valid
// verdict without a sender hash, or "unsure", changes nothing.
type FeedbackHandler struct {
	store    FeedbackStore
	allowFor time.Duration
	log      *slog.Logger
}

var _ BatchHandler = (*FeedbackHandler)(nil)

// NewFeedbackHandler returns a handler applying verdicts to store.
func NewFeedbackHandler(store FeedbackStore, cfg FeedbackConfig) (*FeedbackHandler, error) {
	if store == nil {
		return nil, errors.New("feedback: a store is required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.AllowFor == 0 {
		cfg.AllowFor = DefaultAllowFor
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &FeedbackHandler{store: store, allowFor: cfg.AllowFor, log: cfg.Logger}, nil
}

// HandleBatch applies the batch's verdicts in one store call. An error
// (the store is unavailable) is retryable: nothing may be committed, and
// applying the batch again changes nothing twice.
func (h *FeedbackHandler) HandleBatch(ctx context.Context, recs []Record) (Result, error) {
	res := Result{Outcomes: make([]Outcome, len(recs))}
	fbs := make([]models.Feedback, 0, len(recs))
	ignored := 0
	for i, rec := range recs {
		r, err := models.DecodeFeedback(rec.Value)
		if err != nil {
			res.DeadLetters = append(res.DeadLetters, DeadLetter{Record: rec, Reason: "feedback: " + err.Error()})
			res.Outcomes[i] = OutcomeDeadLetter
			continue
		}
		res.Outcomes[i] = OutcomeScored
		if r.SenderHash == "" || r.Verdict == models.FeedbackUnsure {
			ignored++
			continue
		}
		fbs = append(fbs, models.Feedback{ID: r.Key(), SenderHash: r.SenderHash, Verdict: r.Verdict, AllowFor: h.allowFor})
	}
	if err := h.store.ApplyFeedback(ctx, fbs); err != nil {
		return Result{}, fmt.Errorf("applying %d verdicts: %w", len(fbs), err)
	}
	h.log.Debug("feedback applied", "verdicts", len(fbs), "without_effect", ignored, "dead_letters", len(res.DeadLetters))
	return res, nil
}
