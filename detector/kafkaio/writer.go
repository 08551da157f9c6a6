package kafkaio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"fraudwatch/detector"
	"fraudwatch/models"
)

// Headers set on every dead letter, so the DLQ can be triaged and replayed
// without the original topic.
const (
	HeaderReason          = "fw-reason"           // why the record cannot be interpreted
	HeaderSourceTopic     = "fw-source-topic"     // where it was read
	HeaderSourcePartition = "fw-source-partition" // decimal
	HeaderSourceOffset    = "fw-source-offset"    // decimal
	HeaderTruncated       = "fw-truncated"        // "true" when the value was cut to fit
	HeaderOriginalSize    = "fw-original-size"    // decimal byte length of the original value, when truncated
)

// newKafkaWriter is the one producer setup every writer shares: synchronous,
// acknowledged by all in-sync replicas, hashed by key so one sender (or one
// employee) stays on one partition and in order, no topic auto-creation.
func newKafkaWriter(cfg WriterConfig) (*kafka.Writer, *kafka.Transport, bool) {
	t, owned := cfg.transport, false
	if t == nil {
		t, owned = cfg.Connection.transport(), true
	}
	w := &kafka.Writer{
		Addr:                   kafka.TCP(cfg.Brokers...),
		Topic:                  cfg.Topic,
		Balancer:               &kafka.Hash{},
		RequiredAcks:           kafka.RequireAll,
		BatchTimeout:           cfg.BatchTimeout,
		BatchSize:              1000,
		WriteTimeout:           cfg.WriteTimeout,
		AllowAutoTopicCreation: false,
		Transport:              t,
		Logger:                 slogPrintf(cfg.Logger, slog.LevelDebug-4), // below debug: kafka-go logs every batch
		ErrorLogger:            slogPrintf(cfg.Logger, slog.LevelWarn),
	}
	return w, t, owned
}

// kafkaWriter is the part AlertWriter, DeadLetterWriter and Producer share.
type kafkaWriter struct {
	w         *kafka.Writer
	transport *kafka.Transport
	owned     bool // transport created here, closed by Close
}

func makeKafkaWriter(cfg WriterConfig) kafkaWriter {
	w, t, owned := newKafkaWriter(cfg)
	return kafkaWriter{w: w, transport: t, owned: owned}
}

// write sends msgs in one WriteMessages call and returns when all are
// acknowledged or one failed. When kafka-go says which messages failed
// (some partitions were written, others not, as while a broker restarts)
// the error is a *partialWriteError naming them.
func (k *kafkaWriter) write(ctx context.Context, msgs []kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	err := k.w.WriteMessages(ctx, msgs...)
	var we kafka.WriteErrors
	if errors.As(err, &we) && len(we) == len(msgs) {
		failed := make([]bool, len(msgs))
		for i, e := range we {
			failed[i] = e != nil
		}
		return &partialWriteError{failed: failed, err: err}
	}
	return err
}

// partialWriteError is a write of which only the messages marked in
// failed went unacknowledged. Retrying just those keeps a broker restart
// from writing the acknowledged alerts again. (A failed message may still
// have been written when its acknowledgement was lost: that duplicate
// keeps its alert id.)
type partialWriteError struct {
	failed []bool
	err    error
}

func (e *partialWriteError) Error() string { return e.err.Error() }
func (e *partialWriteError) Unwrap() error { return e.err }

// splitWritten splits the items of a write into those the brokers
// acknowledged and those still to be written: all acknowledged when err is
// nil, those err marks as failed left, or all of them left when err does
// not say.
func splitWritten[T any](items []T, err error) (acked, left []T) {
	if err == nil {
		return items, nil
	}
	var pw *partialWriteError
	if !errors.As(err, &pw) || len(pw.failed) != len(items) {
		return nil, items
	}
	for i, failed := range pw.failed {
		if failed {
			left = append(left, items[i])
		} else {
			acked = append(acked, items[i])
		}
	}
	return acked, left
}

// Close flushes and releases the connections.
func (k *kafkaWriter) Close() error {
	err := k.w.Close()
	if k.owned {
		k.transport.CloseIdleConnections()
	}
	return err
}

// AlertWriter publishes alerts to the alerts topic, keyed by employee so an
// employee's alerts stay in order, as JSON. It implements detector.AlertSink:
// WriteAlerts returns nil only when every alert is acknowledged by all
// in-sync replicas (acks=all). On error some alerts may have been written
// anyway; the Consumer retries only those the error does not report as
// acknowledged, and consumers of the topic deduplicate by alert id. Safe
// for concurrent use.
type AlertWriter struct {
	kafkaWriter
}

var _ detector.AlertSink = (*AlertWriter)(nil)

// NewAlertWriter returns a writer for cfg.Topic. It does not contact the
// brokers; a missing topic shows as an error from WriteAlerts.
func NewAlertWriter(cfg WriterConfig) (*AlertWriter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &AlertWriter{makeKafkaWriter(cfg)}, nil
}

// WriteAlerts writes all alerts in one produce call. See AlertWriter.
func (a *AlertWriter) WriteAlerts(ctx context.Context, alerts []models.Alert) error {
	msgs := make([]kafka.Message, len(alerts))
	for i, al := range alerts {
		v, err := json.Marshal(al)
		if err != nil {
			return fmt.Errorf("kafkaio: encoding alert %q: %w", al.ID, err)
		}
		msgs[i] = kafka.Message{Key: []byte(al.Employee), Value: v}
	}
	if err := a.write(ctx, msgs); err != nil {
		return fmt.Errorf("kafkaio: writing %d alerts to %q: %w", len(msgs), a.w.Topic, err)
	}
	return nil
}

// Close flushes pending writes and releases connections. The writer must not
// be used afterwards.
func (a *AlertWriter) Close() error { return a.kafkaWriter.Close() }

// DeadLetterWriter publishes records that cannot be interpreted to the
// dead-letter topic: key and value as they arrived, with the reason and the
// source position in headers (HeaderReason ...). A value that would make
// key plus value exceed MaxMessageBytes is cut to fit and marked with
// HeaderTruncated and HeaderOriginalSize, so an oversized record can never
// block its partition. It implements detector.DeadLetterSink with the same
// acknowledgement contract as AlertWriter. Safe for concurrent use.
type DeadLetterWriter struct {
	kafkaWriter
	max int
}

var _ detector.DeadLetterSink = (*DeadLetterWriter)(nil)

// NewDeadLetterWriter returns a writer for cfg.Topic. It does not contact
// the brokers.
func NewDeadLetterWriter(cfg WriterConfig) (*DeadLetterWriter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &DeadLetterWriter{kafkaWriter: makeKafkaWriter(cfg), max: cfg.MaxMessageBytes}, nil
}

// WriteDeadLetters writes all dead letters in one produce call. See
// DeadLetterWriter.
func (d *DeadLetterWriter) WriteDeadLetters(ctx context.Context, dls []detector.DeadLetter) error {
	msgs := make([]kafka.Message, len(dls))
	for i, dl := range dls {
		msgs[i] = deadLetterMessage(dl, d.max)
	}
	if err := d.write(ctx, msgs); err != nil {
		return fmt.Errorf("kafkaio: writing %d dead letters to %q: %w", len(msgs), d.w.Topic, err)
	}
	return nil
}

// Close flushes pending writes and releases connections. The writer must not
// be used afterwards.
func (d *DeadLetterWriter) Close() error { return d.kafkaWriter.Close() }

func deadLetterMessage(dl detector.DeadLetter, max int) kafka.Message {
	r := dl.Record
	key, value := r.Key, r.Value
	hs := []kafka.Header{
		{Key: HeaderReason, Value: []byte(dl.Reason)},
		{Key: HeaderSourceTopic, Value: []byte(r.Topic)},
		{Key: HeaderSourcePartition, Value: []byte(strconv.Itoa(r.Partition))},
		{Key: HeaderSourceOffset, Value: []byte(strconv.FormatInt(r.Offset, 10))},
	}
	if len(key)+len(value) > max {
		if len(key) > max {
			key = key[:max] // a key this long is itself hostile input
		}
		value = value[:max-len(key)]
		hs = append(hs,
			kafka.Header{Key: HeaderTruncated, Value: []byte("true")},
			kafka.Header{Key: HeaderOriginalSize, Value: []byte(strconv.Itoa(len(r.Value)))},
		)
	}
	return kafka.Message{Key: key, Value: value, Headers: hs, Time: r.Time}
}

// Producer writes raw inbound events (one JSON object each) to the inbound
// topic, for the produce and demo commands and for tests. Each event is
// keyed by its "from" field, so one sender's events land on one partition
// and are scored in order; events without a usable "from" are spread round
// robin. Writes are acknowledged by all in-sync replicas. Safe for
// concurrent use.
type Producer struct {
	kafkaWriter
}

// NewProducer returns a producer for cfg.Topic. It does not contact the
// brokers.
func NewProducer(cfg WriterConfig) (*Producer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Producer{makeKafkaWriter(cfg)}, nil
}

// Produce writes events in one produce call and returns when all are
// acknowledged. Events need not be valid JSON (tests feed garbage on
// purpose); they are written byte for byte.
func (p *Producer) Produce(ctx context.Context, events ...[]byte) error {
	msgs := make([]kafka.Message, len(events))
	for i, e := range events {
		msgs[i] = kafka.Message{Key: senderKey(e), Value: e}
	}
	if err := p.write(ctx, msgs); err != nil {
		return fmt.Errorf("kafkaio: writing %d events to %q: %w", len(msgs), p.w.Topic, err)
	}
	return nil
}

// Close flushes pending writes and releases connections.
func (p *Producer) Close() error { return p.kafkaWriter.Close() }

// senderKey is the partition key of an inbound event: its "from" as
// written. Normalising it would be nicer (one sender, two spellings, two
// partitions), but the key only affects ordering, never correctness.
func senderKey(event []byte) []byte {
	var e struct {
		From string `json:"from"`
	}
	if json.Unmarshal(event, &e) != nil || e.From == "" {
		return nil
	}
	return []byte(e.From)
}

// EnsureTopics creates those of topics that do not exist, with the given
// partition count and replication factor, and waits until the brokers
// report all of them. Existing topics are left as they are. It is for
// demos, tests and first deployments; production topics are usually managed
// elsewhere.
func EnsureTopics(ctx context.Context, conn Connection, partitions, replication int, topics ...string) error {
	if err := conn.validate(); err != nil {
		return fmt.Errorf("kafkaio: ensuring topics: %w", err)
	}
	if partitions <= 0 || replication <= 0 {
		return fmt.Errorf("kafkaio: ensuring topics: partitions %d and replication %d must be positive", partitions, replication)
	}
	t := conn.transport()
	defer t.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(conn.Brokers...), Transport: t}

	req := &kafka.CreateTopicsRequest{}
	for _, name := range topics {
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: name, NumPartitions: partitions, ReplicationFactor: replication})
	}
	res, err := c.CreateTopics(ctx, req)
	if err != nil {
		// kafka-go reports a failed SASL or TLS handshake here as "Broker
		// Not Available"; a metadata request tells the real reason.
		if _, mdErr := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{}}); mdErr != nil {
			err = mdErr
		}
		return fmt.Errorf("kafkaio: creating topics %q: %w", topics, err)
	}
	for name, err := range res.Errors {
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("kafkaio: creating topic %q: %w", name, err)
		}
	}

	// Creation is asynchronous on a real cluster: wait for the metadata.
	for {
		md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
		if err == nil {
			ready := 0
			for _, tp := range md.Topics {
				if tp.Error == nil && len(tp.Partitions) > 0 {
					ready++
				}
			}
			if ready == len(topics) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafkaio: waiting for topics %q: %w", topics, context.Cause(ctx))
		case <-time.After(100 * time.Millisecond):
		}
	}
}
