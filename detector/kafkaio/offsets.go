package kafkaio

import (
	"context"
	"fmt"

	"github.com/segmentio/kafka-go"
)

// GroupLag returns, for each partition of topic, how many records the
// consumer group has not committed yet: the partition's end offset minus
// the group's committed offset (minus the partition's first offset when
// the group has committed nothing there). A group whose lag is zero on
// every partition has handled, written the output of, and committed every
// record produced so far. It is for tests and tools; it joins no group.
func GroupLag(ctx context.Context, conn Connection, group, topic string) (map[int]int64, error) {
	if err := conn.validate(); err != nil {
		return nil, fmt.Errorf("kafkaio: lag of %q on %q: %w", group, topic, err)
	}
	partitions, err := topicPartitions(ctx, conn, topic)
	if err != nil {
		return nil, err
	}
	t := conn.transport()
	defer t.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(conn.Brokers...), Transport: t}

	reqs := make([]kafka.OffsetRequest, 0, 2*len(partitions))
	for _, p := range partitions {
		reqs = append(reqs, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	lo, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("kafkaio: offsets of %q: %w", topic, err)
	}
	first, end := map[int]int64{}, map[int]int64{}
	for _, po := range lo.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("kafkaio: offsets of %q partition %d: %w", topic, po.Partition, po.Error)
		}
		first[po.Partition], end[po.Partition] = po.FirstOffset, po.LastOffset
	}
	of, err := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: partitions}})
	if err != nil {
		return nil, fmt.Errorf("kafkaio: committed offsets of %q on %q: %w", group, topic, err)
	}
	if of.Error != nil {
		return nil, fmt.Errorf("kafkaio: committed offsets of %q on %q: %w", group, topic, of.Error)
	}
	lag := make(map[int]int64, len(partitions))
	for _, p := range partitions {
		lag[p] = end[p] - first[p]
	}
	for _, op := range of.Topics[topic] {
		if op.Error != nil {
			return nil, fmt.Errorf("kafkaio: committed offset of %q on %q partition %d: %w", group, topic, op.Partition, op.Error)
		}
		if op.CommittedOffset >= 0 {
			lag[op.Partition] = end[op.Partition] - op.CommittedOffset
		}
	}
	return lag, nil
}
