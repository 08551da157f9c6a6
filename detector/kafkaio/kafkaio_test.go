package kafkaio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"fraudwatch/detector"
	"fraudwatch/models"
)

const partitions = 3

// topics are the unique names of one test's topics and group.
type topics struct{ in, alerts, dlq, group string }

func names(t *testing.T) topics {
	base := strings.NewReplacer("/", ".", " ", "_").Replace(t.Name())
	return topics{in: base + ".in", alerts: base + ".alerts", dlq: base + ".dlq", group: base + ".group"}
}

// newCluster starts an in-process Kafka speaking the wire protocol over TCP,
// with the test's topics seeded, and returns its addresses.
func newCluster(t *testing.T, seed ...string) []string {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100 * time.Millisecond)}
	if len(seed) > 0 {
		opts = append(opts, kfake.SeedTopics(partitions, seed...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// fastConfig shortens every group timing so joins and rebalances take
// milliseconds instead of seconds.
func fastConfig(brokers []string, tp topics) Config {
	return Config{
		Connection:        Connection{Brokers: brokers},
		GroupID:           tp.group,
		InboundTopic:      tp.in,
		AlertsTopic:       tp.alerts,
		DLQTopic:          tp.dlq,
		BatchSize:         7,
		BatchWait:         30 * time.Millisecond,
		RetryBackoffMin:   5 * time.Millisecond,
		RetryBackoffMax:   50 * time.Millisecond,
		ShutdownGrace:     5 * time.Second,
		SessionTimeout:    time.Second,
		HeartbeatInterval: 100 * time.Millisecond,
		RebalanceTimeout:  time.Second,
		JoinGroupBackoff:  50 * time.Millisecond,
		ReadBackoffMin:    10 * time.Millisecond,
		ReadBackoffMax:    50 * time.Millisecond,
		FetchMaxWait:      100 * time.Millisecond,
		Logger:            testLogger(),
	}
}

func event(i int) []byte {
	return fmt.Appendf(nil, `{"id":"ev-%d","kind":"message","ts":"2026-11-26T09:15:02Z","from":"+7916000%04d","to":"emp-%d","text":"вы выиграли приз %d"}`, i, i%5, i%4, i)
}

func garbage(i int) []byte { return fmt.Appendf(nil, "not json #%d", i) }

func produce(t *testing.T, brokers []string, topic string, events ...[]byte) {
	t.Helper()
	p, err := NewProducer(WriterConfig{Connection: Connection{Brokers: brokers}, Topic: topic, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Produce(ctx, events...); err != nil {
		t.Fatal(err)
	}
}

type pos struct {
	Partition int
	Offset    int64
}

// recorder is a fake detector: one alert per JSON record, a dead letter for
// anything else. It remembers every batch it was given.
type recorder struct {
	mu      sync.Mutex
	batches [][]detector.Record
	// before runs first on every call; a non-nil error fails the call.
	before func(ctx context.Context, call int, recs []detector.Record) error
}

func (r *recorder) HandleBatch(ctx context.Context, recs []detector.Record) (detector.Result, error) {
	r.mu.Lock()
	call := len(r.batches) + 1
	r.batches = append(r.batches, slices.Clone(recs))
	before := r.before
	r.mu.Unlock()
	if before != nil {
		if err := before(ctx, call, recs); err != nil {
			return detector.Result{}, err
		}
	}
	var res detector.Result
	for _, rec := range recs {
		var ev struct{ ID, To string }
		if err := json.Unmarshal(rec.Value, &ev); err != nil {
			res.DeadLetters = append(res.DeadLetters, detector.DeadLetter{Record: rec, Reason: "decoding event: " + err.Error()})
			res.Outcomes = append(res.Outcomes, detector.OutcomeDeadLetter)
			continue
		}
		res.Alerts = append(res.Alerts, models.Alert{ID: models.AlertID(ev.ID), EventID: ev.ID, Employee: ev.To, Severity: models.SeverityHigh})
		res.Outcomes = append(res.Outcomes, detector.OutcomeAlert)
	}
	return res, nil
}

func (r *recorder) calls() [][]detector.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.batches)
}

// seen counts how often each record value was handled, successful or not.
func (r *recorder) seen() map[string]int {
	m := map[string]int{}
	for _, b := range r.calls() {
		for _, rec := range b {
			m[string(rec.Value)]++
		}
	}
	return m
}

// running is a Consumer.Run in the background.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg Config, h detector.BatchHandler) (*Consumer, *running) {
	t.Helper()
	c, err := New(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
		c.Close()
	})
	return c, r
}

// stop cancels Run and requires it to return nil in time.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("Run returned %v after cancellation, want nil", err)
		}
		r.done <- nil // for the cleanup
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func client(brokers []string) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 5 * time.Second}
}

func endOffsets(t *testing.T, brokers []string, topic string) map[int]int64 {
	t.Helper()
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for p := range partitions {
		req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(p))
	}
	res, err := client(brokers).ListOffsets(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int64{}
	for _, po := range res.Topics[topic] {
		if po.Error != nil {
			t.Fatal(po.Error)
		}
		out[po.Partition] = po.LastOffset
	}
	return out
}

// committed returns the group's committed offset per partition (-1: none).
func committed(t *testing.T, brokers []string, group, topic string) map[int]int64 {
	t.Helper()
	out, err := committedOffsets(brokers, group, topic)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// committedOffsets is committed for goroutines other than the test's.
func committedOffsets(brokers []string, group, topic string) (map[int]int64, error) {
	res, err := client(brokers).OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{
		GroupID: group, Topics: map[string][]int{topic: {0, 1, 2}},
	})
	if err != nil {
		return nil, err
	}
	out := map[int]int64{}
	if errors.Is(res.Error, kafka.GroupIdNotFound) {
		// kfake answers so before the group's first join; Kafka answers -1.
		for p := range partitions {
			out[p] = -1
		}
		return out, nil
	}
	if res.Error != nil {
		return nil, res.Error
	}
	for _, p := range res.Topics[topic] {
		out[p.Partition] = p.CommittedOffset
	}
	return out, nil
}

// committedTo reports whether the group has committed every partition up to
// ends; an empty partition needs no commit.
func committedTo(t *testing.T, brokers []string, group, topic string, ends map[int]int64) bool {
	t.Helper()
	got := committed(t, brokers, group, topic)
	for p, end := range ends {
		if got[p] != end && !(end == 0 && got[p] < 0) {
			return false
		}
	}
	return true
}

// readTopic waits until topic holds want messages, then returns all of it.
func readTopic(t *testing.T, brokers []string, topic string, want int) []kafka.Message {
	t.Helper()
	var ends map[int]int64
	eventually(t, fmt.Sprintf("%d messages on %s", want, topic), func() bool {
		ends = endOffsets(t, brokers, topic)
		n := int64(0)
		for _, e := range ends {
			n += e
		}
		return n >= int64(want)
	})
	var out []kafka.Message
	for p, end := range ends {
		if end == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p, MaxWait: 50 * time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("reading %s/%d: %v", topic, p, err)
			}
			out = append(out, m)
			if m.Offset == end-1 {
				break
			}
		}
		cancel()
		r.Close()
	}
	return out
}

func header(m kafka.Message, key string) (string, bool) {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

func alertIDs(t *testing.T, msgs []kafka.Message) map[string]int {
	t.Helper()
	ids := map[string]int{}
	for _, m := range msgs {
		var a models.Alert
		if err := json.Unmarshal(m.Value, &a); err != nil {
			t.Fatalf("alert %q: %v", m.Value, err)
		}
		if string(m.Key) != a.Employee {
			t.Errorf("alert %s keyed %q, want employee %q", a.ID, m.Key, a.Employee)
		}
		ids[a.ID]++
	}
	return ids
}

func TestConsumerWritesAlertsAndDeadLettersThenCommits(t *testing.T) {
	tp := names(t)
	brokers := newCluster(t, tp.in, tp.alerts, tp.dlq)
	var events [][]byte
	wantIDs := map[string]bool{}
	for i := range 60 {
		if i%10 == 3 {
			events = append(events, garbage(i))
			continue
		}
		events = append(events, event(i))
		wantIDs[models.AlertID(fmt.Sprintf("ev-%d", i))] = true
	}
	produce(t, brokers, tp.in, events...)

	var obsMu sync.Mutex
	outcomes := map[detector.Outcome]int{}
	cfg := fastConfig(brokers, tp)
	cfg.Observer.Outcomes = func(o detector.Outcome, n int) {
		obsMu.Lock()
		outcomes[o] += n
		obsMu.Unlock()
	}
	rec := &recorder{}
	c, run := start(t, cfg, rec)
	eventually(t, "every record handled", func() bool { return len(rec.seen()) == len(events) })
	ends := endOffsets(t, brokers, tp.in)
	eventually(t, "offsets committed to the end", func() bool {
		return committedTo(t, brokers, tp.group, tp.in, ends)
	})
	if err := c.Ready(); err != nil {
		t.Errorf("Ready() = %v while consuming", err)
	}
	if err := c.Close(); err == nil || !strings.Contains(err.Error(), "while Run is running") {
		t.Errorf("Close() during Run = %v, want a refusal", err)
	}
	if err := c.Ready(); err != nil {
		t.Errorf("a refused Close changed the consumer: Ready() = %v", err)
	}
	run.stop(t)

	// Batches are bounded and in partition order, each record once.
	last := map[int]int64{}
	for _, b := range rec.calls() {
		if len(b) == 0 || len(b) > cfg.BatchSize {
			t.Errorf("batch of %d records, want 1..%d", len(b), cfg.BatchSize)
		}
		for _, r := range b {
			if prev, ok := last[r.Partition]; ok && r.Offset <= prev {
				t.Errorf("partition %d: offset %d handled after %d", r.Partition, r.Offset, prev)
			}
			last[r.Partition] = r.Offset
		}
	}
	for v, n := range rec.seen() {
		if n != 1 {
			t.Errorf("record %q handled %d times, want once", v, n)
		}
	}
	obsMu.Lock()
	if outcomes[detector.OutcomeAlert] != len(wantIDs) || outcomes[detector.OutcomeDeadLetter] != len(events)-len(wantIDs) {
		t.Errorf("observed outcomes %v", outcomes)
	}
	obsMu.Unlock()

	ids := alertIDs(t, readTopic(t, brokers, tp.alerts, len(wantIDs)))
	for id := range wantIDs {
		if ids[id] != 1 {
			t.Errorf("alert %s written %d times, want once", id, ids[id])
		}
	}
	if len(ids) != len(wantIDs) {
		t.Errorf("%d distinct alerts, want %d", len(ids), len(wantIDs))
	}

	dls := readTopic(t, brokers, tp.dlq, len(events)-len(wantIDs))
	if len(dls) != len(events)-len(wantIDs) {
		t.Fatalf("%d dead letters, want %d", len(dls), len(events)-len(wantIDs))
	}
	byValue := map[string]detector.Record{}
	for _, b := range rec.calls() {
		for _, r := range b {
			byValue[string(r.Value)] = r
		}
	}
	for _, m := range dls {
		src, ok := byValue[string(m.Value)]
		if !ok || !strings.HasPrefix(string(m.Value), "not json") {
			t.Errorf("dead letter %q is not an original garbage record", m.Value)
			continue
		}
		reason, _ := header(m, HeaderReason)
		topic, _ := header(m, HeaderSourceTopic)
		part, _ := header(m, HeaderSourcePartition)
		off, _ := header(m, HeaderSourceOffset)
		if !strings.HasPrefix(reason, "decoding event") || topic != tp.in ||
			part != strconv.Itoa(src.Partition) || off != strconv.FormatInt(src.Offset, 10) {
			t.Errorf("dead letter %q headers %v, want source %s/%d@%d", m.Value, m.Headers, tp.in, src.Partition, src.Offset)
		}
		if !slices.Equal(m.Key, src.Key) {
			t.Errorf("dead letter key %q, want %q", m.Key, src.Key)
		}
		if _, ok := header(m, HeaderTruncated); ok {
			t.Errorf("small dead letter %q marked truncated", m.Value)
		}
	}

	// A new member of the group gets only what came after the commit.
	fresh := [][]byte{event(1000), event(1001), event(1002)}
	produce(t, brokers, tp.in, fresh...)
	rec2 := &recorder{}
	_, run2 := start(t, cfg, rec2)
	eventually(t, "the new records", func() bool { return len(rec2.seen()) >= len(fresh) })
	run2.stop(t)
	for v := range rec2.seen() {
		if !slices.ContainsFunc(fresh, func(e []byte) bool { return string(e) == v }) {
			t.Errorf("old record %q delivered again after its commit", v)
		}
	}
}

func TestConsumerRetriesTheSameBatchWithoutCommitting(t *testing.T) {
	tp := names(t)
	brokers := newCluster(t, tp.in, tp.alerts, tp.dlq)
	var events [][]byte
	for i := range 20 {
		events = append(events, event(i))
	}
	produce(t, brokers, tp.in, events...)

	const failures = 3
	var consumer *Consumer
	var problems []string
	var mu sync.Mutex
	rec := &recorder{}
	rec.before = func(ctx context.Context, call int, recs []detector.Record) error {
		if call > failures {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		offs, err := committedOffsets(brokers, tp.group, tp.in)
		if err != nil {
			problems = append(problems, fmt.Sprintf("call %d: %v", call, err))
		}
		for p, off := range offs {
			if off >= 0 {
				problems = append(problems, fmt.Sprintf("call %d: partition %d committed at %d while the batch fails", call, p, off))
			}
		}
		if call == failures {
			if err := consumer.Ready(); err == nil {
				problems = append(problems, "Ready() = nil after repeated failures")
			}
		}
		return errors.New("reputation store unavailable")
	}
	var retries, handleErrs int
	cfg := fastConfig(brokers, tp)
	cfg.BatchSize = 50
	cfg.ReadyMaxFailures = failures - 1
	cfg.Observer.Retry = func(int, time.Duration) { retries++ }
	cfg.Observer.Error = func(stage string, err error) {
		if stage == StageHandle {
			handleErrs++
		}
	}
	c, run := start(t, cfg, rec)
	consumer = c
	eventually(t, "every record handled successfully", func() bool {
		calls := rec.calls()
		n := 0
		for _, b := range calls[min(failures, len(calls)):] {
			n += len(b)
		}
		return n == len(events)
	})
	ends := endOffsets(t, brokers, tp.in)
	eventually(t, "offsets committed to the end", func() bool {
		return committedTo(t, brokers, tp.group, tp.in, ends)
	})
	run.stop(t)

	mu.Lock()
	for _, p := range problems {
		t.Error(p)
	}
	mu.Unlock()
	calls := rec.calls()
	for i := 1; i <= failures; i++ {
		if !slices.EqualFunc(calls[0], calls[i], func(a, b detector.Record) bool {
			return a.Partition == b.Partition && a.Offset == b.Offset
		}) {
			t.Errorf("call %d got a different batch than the failed call 1", i+1)
		}
	}
	if retries != failures || handleErrs != failures {
		t.Errorf("observed %d retries and %d handler errors, want %d each", retries, handleErrs, failures)
	}
	// The failed attempts wrote nothing, so every alert is there exactly once.
	ids := alertIDs(t, readTopic(t, brokers, tp.alerts, len(events)))
	for i := range events {
		if id := models.AlertID(fmt.Sprintf("ev-%d", i)); ids[id] != 1 {
			t.Errorf("alert for ev-%d written %d times, want once", i, ids[id])
		}
	}
}

// flakySink fails its first n writes, then keeps what it is given.
type flakySink struct {
	mu     sync.Mutex
	fail   int
	calls  int
	alerts []models.Alert
	dls    []detector.DeadLetter
}

func (f *flakySink) WriteAlerts(_ context.Context, as []models.Alert) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls <= f.fail {
		return errors.New("broker not enough replicas")
	}
	f.alerts = append(f.alerts, as...)
	return nil
}

func (f *flakySink) WriteDeadLetters(_ context.Context, dls []detector.DeadLetter) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dls = append(f.dls, dls...)
	return nil
}

func TestConsumerRetriesAFailedWriteWithoutHandlingAgain(t *testing.T) {
	tp := names(t)
	brokers := newCluster(t, tp.in)
	events := [][]byte{event(1), garbage(2), event(3), event(4)}
	produce(t, brokers, tp.in, events...)

	sink := &flakySink{fail: 2}
	cfg := fastConfig(brokers, tp)
	cfg.Alerts, cfg.DeadLetters = sink, sink
	rec := &recorder{}
	_, run := start(t, cfg, rec)
	ends := endOffsets(t, brokers, tp.in)
	eventually(t, "offsets committed to the end", func() bool {
		return committedTo(t, brokers, tp.group, tp.in, ends)
	})
	run.stop(t)

	for v, n := range rec.seen() {
		if n != 1 {
			t.Errorf("record %q handled %d times; a failed write must not rerun the handler", v, n)
		}
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.alerts) != 3 || len(sink.dls) != 1 {
		t.Errorf("sink kept %d alerts and %d dead letters, want 3 and 1", len(sink.alerts), len(sink.dls))
	}
}

func TestConsumerStoppedMidBatchResumesInANewMember(t *testing.T) {
	for _, tc := range []struct {
		name string
		// finishes: the first batch completes within the grace.
		finishes bool
	}{
		{name: "slow handler finishes within the grace and its batch commits", finishes: true},
		{name: "handler outlasting the grace is abandoned and its batch redelivered", finishes: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp := names(t)
			brokers := newCluster(t, tp.in, tp.alerts, tp.dlq)
			var events [][]byte
			for i := range 30 {
				events = append(events, event(i))
			}
			produce(t, brokers, tp.in, events...)

			entered, release := make(chan struct{}), make(chan struct{})
			rec1 := &recorder{before: func(ctx context.Context, call int, _ []detector.Record) error {
				if call == 1 {
					close(entered)
				}
				if tc.finishes {
					<-release
					return nil
				}
				<-ctx.Done() // the grace context: ends ShutdownGrace after Run's
				return ctx.Err()
			}}
			cfg := fastConfig(brokers, tp)
			cfg.ShutdownGrace = 200 * time.Millisecond
			if tc.finishes {
				cfg.ShutdownGrace = 10 * time.Second
			}
			_, run1 := start(t, cfg, rec1)
			select {
			case <-entered:
			case <-time.After(15 * time.Second):
				t.Fatal("handler never called")
			}
			run1.cancel() // SIGTERM while the batch is in the handler
			close(release)
			run1.stop(t)

			first := rec1.calls()
			if len(first) != 1 {
				t.Fatalf("stopped member handled %d batches, want 1", len(first))
			}
			got := committed(t, brokers, tp.group, tp.in)
			for _, r := range first[0] {
				if tc.finishes && got[r.Partition] <= r.Offset {
					t.Errorf("partition %d committed at %d, want past %d", r.Partition, got[r.Partition], r.Offset)
				}
				if !tc.finishes && got[r.Partition] >= 0 {
					t.Errorf("partition %d committed at %d for an abandoned batch", r.Partition, got[r.Partition])
				}
			}

			rec2 := &recorder{}
			_, run2 := start(t, cfg, rec2)
			ends := endOffsets(t, brokers, tp.in)
			eventually(t, "the new member to commit to the end", func() bool {
				return committedTo(t, brokers, tp.group, tp.in, ends)
			})
			run2.stop(t)

			inFirst := map[string]bool{}
			for _, r := range first[0] {
				inFirst[string(r.Value)] = true
			}
			second := rec2.seen()
			for _, e := range events {
				n := second[string(e)]
				switch {
				case tc.finishes && inFirst[string(e)] && n != 0:
					t.Errorf("committed record %s redelivered %d times", e, n)
				case tc.finishes && !inFirst[string(e)] && n != 1:
					t.Errorf("record %s handled %d times by the new member, want once", e, n)
				case !tc.finishes && n != 1:
					t.Errorf("record %s handled %d times by the new member, want once", e, n)
				}
			}
			ids := alertIDs(t, readTopic(t, brokers, tp.alerts, len(events)))
			for i := range events {
				if id := models.AlertID(fmt.Sprintf("ev-%d", i)); ids[id] == 0 {
					t.Errorf("no alert for ev-%d", i)
				}
			}
		})
	}
}

func TestWritersRequireAllReplicas(t *testing.T) {
	cfg := WriterConfig{Connection: Connection{Brokers: []string{"127.0.0.1:1"}}, Topic: "t"}
	aw, err := NewAlertWriter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dw, err := NewDeadLetterWriter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fw, err := NewFeedbackWriter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Connection: cfg.Connection}, detector.BatchHandlerFunc(nil))
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range map[string]*kafka.Writer{
		"AlertWriter":           aw.w,
		"DeadLetterWriter":      dw.w,
		"Producer":              p.w,
		"FeedbackWriter":        fw.w,
		"Consumer's alerts":     c.alerts.(*AlertWriter).w,
		"Consumer's DLQ writer": c.dlq.(*DeadLetterWriter).w,
	} {
		if w.RequiredAcks != kafka.RequireAll {
			t.Errorf("%s: RequiredAcks = %v, want RequireAll", name, w.RequiredAcks)
		}
		if w.AllowAutoTopicCreation {
			t.Errorf("%s creates topics on write", name)
		}
		if _, ok := w.Balancer.(*kafka.Hash); !ok {
			t.Errorf("%s: balancer %T, want *kafka.Hash", name, w.Balancer)
		}
		if w.Async {
			t.Errorf("%s is asynchronous", name)
		}
	}
	for _, cl := range []io.Closer{aw, dw, p, c} {
		cl.Close()
	}
}

func TestDeadLetterWriterTruncatesOversizedRecords(t *testing.T) {
	tp := names(t)
	brokers := newCluster(t, tp.dlq)
	w, err := NewDeadLetterWriter(WriterConfig{Connection: Connection{Brokers: brokers}, Topic: tp.dlq, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	huge := make([]byte, 2<<20) // over the broker's 1 MiB message limit
	for i := range huge {
		huge[i] = 'a' + byte(i%26)
	}
	dls := []detector.DeadLetter{
		{Record: detector.Record{Topic: "in", Partition: 2, Offset: 41, Key: []byte("+79160000001"), Value: huge}, Reason: "event too large"},
		{Record: detector.Record{Topic: "in", Partition: 0, Offset: 7, Key: []byte("+79160000002"), Value: []byte("{")}, Reason: "decoding event"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.WriteDeadLetters(ctx, dls); err != nil {
		t.Fatal(err)
	}
	msgs := readTopic(t, brokers, tp.dlq, 2)
	var big *kafka.Message
	for i := range msgs {
		if string(msgs[i].Key) == "+79160000001" {
			big = &msgs[i]
		}
	}
	if big == nil {
		t.Fatal("oversized dead letter missing")
	}
	if n := len(big.Key) + len(big.Value); n != DefaultDLQMaxBytes {
		t.Errorf("truncated key+value is %d bytes, want %d", n, DefaultDLQMaxBytes)
	}
	if !slices.Equal(big.Value, huge[:len(big.Value)]) {
		t.Error("truncated value is not a prefix of the original")
	}
	if v, _ := header(*big, HeaderTruncated); v != "true" {
		t.Errorf("%s = %q, want true", HeaderTruncated, v)
	}
	if v, _ := header(*big, HeaderOriginalSize); v != strconv.Itoa(len(huge)) {
		t.Errorf("%s = %q, want %d", HeaderOriginalSize, v, len(huge))
	}
	if v, _ := header(*big, HeaderSourceOffset); v != "41" {
		t.Errorf("%s = %q, want 41", HeaderSourceOffset, v)
	}

	// A key longer than the whole budget is cut too.
	m := deadLetterMessage(detector.DeadLetter{Record: detector.Record{Key: make([]byte, 50), Value: make([]byte, 50)}}, 10)
	if len(m.Key) != 10 || len(m.Value) != 0 {
		t.Errorf("key %d + value %d bytes, want 10 + 0", len(m.Key), len(m.Value))
	}
}

func TestWriterRejectsMissingTopic(t *testing.T) {
	brokers := newCluster(t)
	w, err := NewAlertWriter(WriterConfig{Connection: Connection{Brokers: brokers}, Topic: "no.such.topic", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err = w.WriteAlerts(ctx, []models.Alert{{ID: "a", Employee: "emp-1"}})
	if err == nil || !strings.Contains(err.Error(), `writing 1 alerts to "no.such.topic"`) {
		t.Errorf("WriteAlerts to a missing topic = %v, want a wrapped error", err)
	}
	if testing.Verbose() {
		t.Log(err)
	}
}

func TestEnsureTopicsCreatesOnlyMissingTopics(t *testing.T) {
	brokers := newCluster(t)
	conn := Connection{Brokers: brokers}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := EnsureTopics(ctx, conn, partitions, 1, "a.in", "a.alerts"); err != nil {
		t.Fatal(err)
	}
	if err := EnsureTopics(ctx, conn, partitions, 1, "a.in", "a.dlq"); err != nil {
		t.Fatalf("second call with an existing topic: %v", err)
	}
	if got := endOffsets(t, brokers, "a.dlq"); len(got) != partitions {
		t.Errorf("a.dlq has partitions %v, want %d", got, partitions)
	}
}

func TestReadyProbesTheBrokers(t *testing.T) {
	tp := names(t)
	brokers := newCluster(t, tp.in)
	cfg := fastConfig(brokers, tp)
	c, err := New(cfg, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Ready(); err != nil {
		t.Errorf("Ready() = %v with the broker up", err)
	}

	cfg.InboundTopic = "missing"
	c2, err := New(cfg, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Ready(); err == nil {
		t.Error("Ready() = nil without the inbound topic")
	}

	cfg = fastConfig([]string{"127.0.0.1:1"}, tp)
	cfg.ReadyTimeout = 200 * time.Millisecond
	c3, err := New(cfg, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c3.Ready(); err == nil {
		t.Error("Ready() = nil with no broker listening")
	}
	c3.Close()
	if err := c3.Ready(); err == nil {
		t.Error("Ready() = nil after Close")
	}
}

func TestConfigValidate(t *testing.T) {
	h := detector.BatchHandlerFunc(func(context.Context, []detector.Record) (detector.Result, error) {
		return detector.Result{}, nil
	})
	b := Connection{Brokers: []string{"localhost:9092"}}
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"defaults fill an almost empty config", Config{Connection: b}, ""},
		{"no brokers is an error", Config{}, "no brokers"},
		{"an inbound topic that is also the alerts topic is an error", Config{Connection: b, InboundTopic: "x", AlertsTopic: "x"}, "also an output topic"},
		{"a negative batch size is an error", Config{Connection: b, BatchSize: -1}, "batch size -1 is negative"},
		{"a negative grace is an error", Config{Connection: b, ShutdownGrace: -time.Second}, "shutdown grace -1s is negative"},
		{"a backoff max below min is an error", Config{Connection: b, RetryBackoffMin: time.Second, RetryBackoffMax: time.Millisecond}, "retry backoff max"},
		{"a heartbeat slower than the session is an error", Config{Connection: b, SessionTimeout: time.Second, HeartbeatInterval: 2 * time.Second}, "heartbeat interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.cfg, h)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				want := Config{GroupID: DefaultGroupID, InboundTopic: DefaultInboundTopic, AlertsTopic: DefaultAlertsTopic,
					DLQTopic: DefaultDLQTopic, BatchSize: DefaultBatchSize, BatchWait: DefaultBatchWait, ShutdownGrace: DefaultShutdownGrace}
				got := c.cfg
				if got.GroupID != want.GroupID || got.InboundTopic != want.InboundTopic || got.AlertsTopic != want.AlertsTopic ||
					got.DLQTopic != want.DLQTopic || got.BatchSize != want.BatchSize || got.BatchWait != want.BatchWait ||
					got.ShutdownGrace != want.ShutdownGrace || got.RetryBackoffMin != DefaultRetryBackoffMin ||
					got.RetryBackoffMax != DefaultRetryBackoffMax || got.DLQMaxBytes != DefaultDLQMaxBytes {
					t.Errorf("defaults not applied: %+v", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("New() error = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
	if _, err := New(Config{Connection: b}, nil); err == nil {
		t.Error("New with a nil handler succeeded")
	}
}

func TestBackoffGrowsAndStaysWithinBounds(t *testing.T) {
	c := &Consumer{cfg: Config{RetryBackoffMin: 100 * time.Millisecond, RetryBackoffMax: 10 * time.Second}}
	for n := 1; n <= 20; n++ {
		ceil := min(100*time.Millisecond<<(n-1), 10*time.Second)
		for range 50 {
			if d := c.backoff(n); d < max(ceil/2, 100*time.Millisecond) || d > ceil {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", n, d, ceil/2, ceil)
			}
		}
	}
}

func TestSASLPlainAuthenticatesEveryConnection(t *testing.T) {
	tp := names(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "fraudwatch", "s3cret"), kfake.SeedTopics(partitions, tp.in, tp.alerts))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn := Connection{Brokers: c.ListenAddrs(), SASLMechanism: "PLAIN", SASLUsername: "fraudwatch", SASLPassword: "s3cret"}

	cfg := fastConfig(conn.Brokers, tp)
	cfg.Connection = conn
	cons, err := New(cfg, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	if err := cons.Ready(); err != nil {
		t.Errorf("Ready() = %v with the right password", err)
	}
	w, err := NewAlertWriter(WriterConfig{Connection: conn, Topic: tp.alerts, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.WriteAlerts(ctx, []models.Alert{{ID: "a", Employee: "emp-1"}}); err != nil {
		t.Errorf("WriteAlerts over SASL: %v", err)
	}

	cfg.Connection.SASLPassword = "wrong"
	cfg.Connection.SASL = nil
	cfg.ReadyTimeout = time.Second
	bad, err := New(cfg, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if err := bad.Ready(); err == nil {
		t.Error("Ready() = nil with a wrong password")
	}

	if _, err := New(Config{Connection: Connection{Brokers: conn.Brokers, SASLMechanism: "GSSAPI", SASLUsername: "u"}}, &recorder{}); err == nil {
		t.Error("an unsupported SASL mechanism was accepted")
	}
}
