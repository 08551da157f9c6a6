package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/segmentio/kafka-go"
)

// Message is a record read back from a topic, for tools and tests that
// check what the detector wrote.
type Message struct {
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   map[string]string
}

// ReadTopic reads every partition of topic from the beginning, outside any
// consumer group (nothing is committed), until it has read n records or
// ctx ends. It returns the records read, ordered by partition and offset;
// with fewer than n it also returns ctx's error.
func ReadTopic(ctx context.Context, conn Connection, topic string, n int) ([]Message, error) {
	if err := conn.validate(); err != nil {
		return nil, fmt.Errorf("kafkaio: read %q: %w", topic, err)
	}
	if n <= 0 {
		return nil, nil
	}
	partitions, err := topicPartitions(ctx, conn, topic)
	if err != nil {
		return nil, err
	}
	type result struct {
		msgs []Message
		err  error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	found := make(chan Message)
	done := make(chan result, len(partitions))
	for _, p := range partitions {
		go func(p int) {
			r := kafka.NewReader(kafka.ReaderConfig{
				Brokers:   conn.Brokers,
				Topic:     topic,
				Partition: p,
				Dialer:    conn.dialer(),
				MaxWait:   100 * time.Millisecond,
			})
			defer r.Close()
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					done <- result{err: err}
					return
				}
				msg := Message{Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value, Headers: map[string]string{}}
				for _, h := range m.Headers {
					msg.Headers[h.Key] = string(h.Value)
				}
				select {
				case found <- msg:
				case <-ctx.Done():
					done <- result{err: ctx.Err()}
					return
				}
			}
		}(p)
	}
	var out []Message
	var readErr error
	for len(out) < n && readErr == nil {
		select {
		case m := <-found:
			out = append(out, m)
		case r := <-done:
			if !errors.Is(r.err, context.Canceled) {
				readErr = r.err
			}
		case <-ctx.Done():
			readErr = ctx.Err()
		}
	}
	cancel()
	for range partitions {
		<-done
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Partition != out[j].Partition {
			return out[i].Partition < out[j].Partition
		}
		return out[i].Offset < out[j].Offset
	})
	if readErr != nil {
		return out, fmt.Errorf("kafkaio: read %q: %d of %d records: %w", topic, len(out), n, readErr)
	}
	return out, nil
}

func topicPartitions(ctx context.Context, conn Connection, topic string) ([]int, error) {
	var lastErr error
	for _, b := range conn.Brokers {
		c, err := conn.dialer().DialContext(ctx, "tcp", b)
		if err != nil {
			lastErr = err
			continue
		}
		parts, err := c.ReadPartitions(topic)
		c.Close()
		if err != nil {
			return nil, fmt.Errorf("kafkaio: partitions of %q: %w", topic, err)
		}
		ids := make([]int, len(parts))
		for i, p := range parts {
			ids[i] = p.ID
		}
		return ids, nil
	}
	return nil, fmt.Errorf("kafkaio: no broker reachable: %w", lastErr)
}
