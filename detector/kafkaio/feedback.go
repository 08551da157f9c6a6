package kafkaio

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/segmentio/kafka-go"

	"fraudwatch/detector/triage"
	"fraudwatch/models"
)

// FeedbackWriter publishes SOC verdicts to the feedback topic, which
// `run` consumes into reputation. Each record is keyed by its sender
// hash, so one sender's verdicts stay in order on one partition. It
// implements triage.FeedbackSink: WriteFeedback returns nil only when
// every record is acknowledged by all in-sync replicas (acks=all); on
// error it may be called again with the same records, which carry ids,
// so a record written twice is applied once. Safe for concurrent use.
type FeedbackWriter struct {
	kafkaWriter
}

var _ triage.FeedbackSink = (*FeedbackWriter)(nil)

// NewFeedbackWriter returns a writer for cfg.Topic. It does not contact
// the brokers; a missing topic shows as an error from WriteFeedback.
func NewFeedbackWriter(cfg WriterConfig) (*FeedbackWriter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &FeedbackWriter{makeKafkaWriter(cfg)}, nil
}

// WriteFeedback writes all records in one produce call. See FeedbackWriter.
func (f *FeedbackWriter) WriteFeedback(ctx context.Context, recs []models.FeedbackRecord) error {
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		v, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("kafkaio: encoding feedback record %q: %w", r.ID, err)
		}
		msgs[i] = kafka.Message{Key: []byte(r.SenderHash), Value: v}
	}
	if err := f.write(ctx, msgs); err != nil {
		return fmt.Errorf("kafkaio: writing %d feedback records to %q: %w", len(msgs), f.w.Topic, err)
	}
	return nil
}

// Close flushes pending writes and releases connections. The writer must
// not be used afterwards.
func (f *FeedbackWriter) Close() error { return f.kafkaWriter.Close() }
