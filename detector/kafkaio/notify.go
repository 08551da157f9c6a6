package kafkaio

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/segmentio/kafka-go"

	"fraudwatch/detector/triage"
	"fraudwatch/models"
)

// NotificationWriter publishes raised incidents to a topic, for a chat or
// pager integration to consume: one JSON object per incident,
// {"reason": "new"|"update"|"repeat", "incident": {…}}, keyed by incident
// id. It implements triage.Notifier; writes are acknowledged by all
// in-sync replicas. Safe for concurrent use.
type NotificationWriter struct {
	kafkaWriter
}

var _ triage.Notifier = (*NotificationWriter)(nil)

// NewNotificationWriter returns a writer for cfg.Topic. It does not
// contact the brokers.
func NewNotificationWriter(cfg WriterConfig) (*NotificationWriter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &NotificationWriter{makeKafkaWriter(cfg)}, nil
}

// notification is the wire form of triage.Notification.
type notification struct {
	Reason   string          `json:"reason"`
	Incident models.Incident `json:"incident"`
}

// Notify writes the notifications in one produce call.
func (n *NotificationWriter) Notify(ctx context.Context, ns []triage.Notification) error {
	msgs := make([]kafka.Message, len(ns))
	for i, x := range ns {
		v, err := json.Marshal(notification{Reason: x.Reason, Incident: x.Incident})
		if err != nil {
			return fmt.Errorf("kafkaio: encoding the notification of %q: %w", x.Incident.ID, err)
		}
		msgs[i] = kafka.Message{Key: []byte(x.Incident.ID), Value: v}
	}
	if err := n.write(ctx, msgs); err != nil {
		return fmt.Errorf("kafkaio: writing %d notifications to %q: %w", len(msgs), n.w.Topic, err)
	}
	return nil
}

// Close flushes pending writes and releases connections.
func (n *NotificationWriter) Close() error { return n.kafkaWriter.Close() }
