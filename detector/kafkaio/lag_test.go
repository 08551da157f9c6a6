package kafkaio

import (
	"context"
	"fmt"
	"testing"

	"fraudwatch/detector"
)

// Lag is what a metrics gauge reads: unknown before Run, behind while a
// handler holds the consumer back, and nothing once everything is read.
func TestLagShowsRecordsNotYetReadAndNoneAfterwards(t *testing.T) {
	tp := names(t)
	brokers := newCluster(t, tp.in, tp.alerts, tp.dlq)
	// One sender, so one partition holds them all and its lag is the backlog.
	events := make([][]byte, 30)
	for i := range events {
		events[i] = fmt.Appendf(nil, `{"id":"lag-%d","kind":"message","ts":"2026-11-26T09:15:02Z","from":"+79160000001","to":"emp-1","text":"x"}`, i)
	}
	produce(t, brokers, tp.in, events...)

	cfg := fastConfig(brokers, tp)
	cfg.BatchSize = 1
	release := make(chan struct{})
	h := detector.BatchHandlerFunc(func(ctx context.Context, recs []detector.Record) (detector.Result, error) {
		select {
		case <-release:
		case <-ctx.Done():
			return detector.Result{}, ctx.Err()
		}
		return detector.Result{Outcomes: make([]detector.Outcome, len(recs))}, nil
	})
	c, err := New(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Lag(); ok {
		t.Error("Lag is known before Run")
	}
	c.Close()

	c, r := start(t, cfg, h)
	eventually(t, "a lag while the handler holds the first batch", func() bool {
		lag, ok := c.Lag()
		return ok && lag > 0
	})
	close(release)
	eventually(t, "no lag once every record is read", func() bool {
		lag, ok := c.Lag()
		return ok && lag == 0
	})
	r.stop(t)
	if _, ok := c.Lag(); ok {
		t.Error("Lag is still known after Run returned")
	}
}
