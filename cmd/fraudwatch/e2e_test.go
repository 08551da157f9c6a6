package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"fraudwatch/detector"
	"fraudwatch/detector/kafkaio"
	"fraudwatch/fixtures"
	"fraudwatch/models"
)

// testRedis returns the address of the redis-server scripts/test started.
func testRedis(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("FW_TEST_REDIS_ADDR")
	if addr == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("FW_TEST_REDIS_ADDR is not set: run the suite through scripts/test")
		}
		t.Skip("FW_TEST_REDIS_ADDR is not set; scripts/test starts a redis-server and sets it")
	}
	return addr
}

func uniqueName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// replayNow is the clock of these tests: just after the last fixture, so
// the fixtures replay as if live, whatever day the tests run.
var replayNow = time.Date(2026, 11, 26, 18, 5, 0, 0, time.UTC)

func testSettings(redisAddr, prefix string) settings {
	return settings{
		region:        "RU",
		directoryName: "fixtures/directory.yaml",
		directory:     fixtures.Directory(),
		minSeverity:   models.SeverityMedium,
		hmacVersion:   "v1",
		hmacSecret:    "e2e-test-secret-0123456789",
		redis:         RedisConfig{Addrs: []string{redisAddr}, Prefix: prefix, IDRetention: 7 * 24 * time.Hour},
		now:           func() time.Time { return replayNow },
	}
}

// outcomeLog records what the detector decided for each record, by
// partition and offset, across every delivery of that record.
type outcomeLog struct {
	mu     sync.Mutex
	byRec  map[string]detector.Outcome
	flips  []string
	alerts map[string]models.Alert // by event id
	n      int
}

func (l *outcomeLog) wrap(h detector.BatchHandler) detector.BatchHandler {
	return detector.BatchHandlerFunc(func(ctx context.Context, recs []detector.Record) (detector.Result, error) {
		res, err := h.HandleBatch(ctx, recs)
		if err != nil {
			return res, err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		for i, r := range recs {
			key := fmt.Sprintf("%d/%d", r.Partition, r.Offset)
			if old, ok := l.byRec[key]; ok && old != res.Outcomes[i] {
				l.flips = append(l.flips, fmt.Sprintf("%s: %s then %s", key, old, res.Outcomes[i]))
			}
			l.byRec[key] = res.Outcomes[i]
		}
		for _, a := range res.Alerts {
			if old, ok := l.alerts[a.EventID]; ok && (old.ID != a.ID || old.Score != a.Score) {
				l.flips = append(l.flips, fmt.Sprintf("alert for %s changed on redelivery: %s/%v then %s/%v", a.EventID, old.ID, old.Score, a.ID, a.Score))
			}
			l.alerts[a.EventID] = a
		}
		return res, nil
	})
}

func (l *outcomeLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byRec)
}

func consumerConfig(brokers []string, group, in, alerts, dlq string) kafkaio.Config {
	return kafkaio.Config{
		Connection:        kafkaio.Connection{Brokers: brokers},
		GroupID:           group,
		InboundTopic:      in,
		AlertsTopic:       alerts,
		DLQTopic:          dlq,
		BatchSize:         25,
		BatchWait:         20 * time.Millisecond,
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
	}
}

func fixtureLines(t *testing.T) [][]byte {
	t.Helper()
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(fixtures.Events()))
	sc.Buffer(nil, maxLineBytes)
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			out = append(out, append([]byte(nil), l...))
		}
	}
	return out
}

// The whole Kafka path over TCP: fixture events and broken records into
// the inbound topic; a detector stopped in the middle of a batch; a second
// one that takes over. Every record gets exactly one outcome, the alerts
// topic holds exactly the alerts offline scoring predicts (one distinct id
// per flagged event, derived from its id), the broken records are in the
// dead-letter topic with their reasons, and everything is committed.
//
// It runs on the in-process kfake broker (fast, always) and, as
// TestKafkaPathEndToEndRealKafka, on Apache Kafka (FW_TEST_KAFKA_BROKERS).
func TestKafkaPathEndToEnd(t *testing.T) {
	redisAddr := testRedis(t)
	in, alertsTopic, dlqTopic, group := uniqueName("in-"), uniqueName("alerts-"), uniqueName("dlq-"), uniqueName("group-")
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, in, alertsTopic, dlqTopic), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	kafkaPathEndToEnd(t, redisAddr, cluster.ListenAddrs(), in, alertsTopic, dlqTopic, group)
}

// TestKafkaPathEndToEndRealKafka is TestKafkaPathEndToEnd against the
// Apache Kafka broker scripts/test starts.
func TestKafkaPathEndToEndRealKafka(t *testing.T) {
	redisAddr := testRedis(t)
	brokers := testKafka(t)
	in, alertsTopic, dlqTopic, group := uniqueName("in-"), uniqueName("alerts-"), uniqueName("dlq-"), uniqueName("group-")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kafkaio.EnsureTopics(ctx, kafkaio.Connection{Brokers: brokers}, 3, 1, in, alertsTopic, dlqTopic); err != nil {
		t.Fatal(err)
	}
	kafkaPathEndToEnd(t, redisAddr, brokers, in, alertsTopic, dlqTopic, group)
}

func kafkaPathEndToEnd(t *testing.T, redisAddr string, brokers []string, in, alertsTopic, dlqTopic, group string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	s := testSettings(redisAddr, uniqueName("fwtest:")+":")
	live, err := newPipeline(ctx, s, true)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	offline, err := newPipeline(ctx, s, false)
	if err != nil {
		t.Fatal(err)
	}
	defer offline.Close()

	// What offline scoring says, event by event.
	lines := fixtureLines(t)
	var events []models.Event
	for i, l := range lines {
		ev, err := decodeLine(l, offline.decode)
		if err != nil {
			t.Fatalf("fixture %d: %v", i+1, err)
		}
		events = append(events, ev)
	}
	scored, err := offline.engine.Score(ctx, events)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{} // event id → alert id
	for _, sc := range scored {
		if sc.Alert != nil {
			want[sc.Event.ID] = sc.Alert.ID
		}
	}
	if len(want) < 50 {
		t.Fatalf("offline scoring flags only %d fixtures; the test needs a realistic mix", len(want))
	}
	broken := map[string]string{
		`{"id":"bad-1","kind":"sms","ts":"2026-11-26T09:00:00Z","to":"emp-1042"}`:    `unknown kind "sms"`,
		`{"id":"bad-2","kind":"message","ts":"yesterday","to":"emp-1042"}`:           `not an RFC 3339 time`,
		`{"id":"bad-3","kind":"message","ts":"2026-11-26T09:00:00Z","text":"no to"}`: `field "to": missing`,
		"not json at all": "not a JSON object",
	}
	raws := append([][]byte(nil), lines...)
	for b := range broken {
		raws = append(raws, []byte(b))
	}

	producer, err := kafkaio.NewProducer(kafkaio.WriterConfig{Connection: kafkaio.Connection{Brokers: brokers}, Topic: in})
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	half := len(raws) / 2
	if err := producer.Produce(ctx, raws[:half]...); err != nil {
		t.Fatal(err)
	}

	log := &outcomeLog{byRec: map[string]detector.Outcome{}, alerts: map[string]models.Alert{}}

	// Detector A: stopped while its third batch is in flight, which it
	// never finishes (the grace runs out), so that batch is not committed.
	{
		cfg := consumerConfig(brokers, group, in, alertsTopic, dlqTopic)
		cfg.ShutdownGrace = 200 * time.Millisecond
		runCtx, stop := context.WithCancel(ctx)
		calls := 0
		inner := log.wrap(live.engine)
		h := detector.BatchHandlerFunc(func(hctx context.Context, recs []detector.Record) (detector.Result, error) {
			calls++
			if calls == 3 {
				stop()
				<-hctx.Done() // the grace context ends 200ms later
				return detector.Result{}, hctx.Err()
			}
			return inner.HandleBatch(hctx, recs)
		})
		a, err := kafkaio.New(cfg, h)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Run(runCtx); err != nil {
			t.Fatalf("detector A: %v", err)
		}
		a.Close()
		stop()
		if calls < 3 {
			t.Fatalf("detector A stopped after %d batches", calls)
		}
	}
	if err := producer.Produce(ctx, raws[half:]...); err != nil {
		t.Fatal(err)
	}

	// Detector B: same group, takes over and drains everything.
	runCtx, stop := context.WithCancel(ctx)
	b, err := kafkaio.New(consumerConfig(brokers, group, in, alertsTopic, dlqTopic), log.wrap(live.engine))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.Run(runCtx) }()
	for log.count() < len(raws) {
		select {
		case <-ctx.Done():
			t.Fatalf("only %d of %d records got an outcome", log.count(), len(raws))
		case err := <-done:
			t.Fatalf("detector B stopped: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}

	if len(log.flips) > 0 {
		t.Errorf("redelivered records were judged differently:\n%s", strings.Join(log.flips, "\n"))
	}
	counts := map[detector.Outcome]int{}
	for _, o := range log.byRec {
		counts[o]++
	}
	if counts[detector.OutcomeAlert] != len(want) || counts[detector.OutcomeDeadLetter] != len(broken) ||
		counts[detector.OutcomeAlert]+counts[detector.OutcomeScored]+counts[detector.OutcomeDeadLetter] != len(raws) {
		t.Errorf("outcomes %v for %d records (%d alerts and %d dead letters expected)", counts, len(raws), len(want), len(broken))
	}

	msgs, err := kafkaio.ReadTopic(ctx, kafkaio.Connection{Brokers: brokers}, alertsTopic, counts[detector.OutcomeAlert])
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	dups := 0
	for _, m := range msgs {
		var a models.Alert
		if err := json.Unmarshal(m.Value, &a); err != nil {
			t.Fatalf("alert is not JSON: %v", err)
		}
		if string(m.Key) != a.Employee {
			t.Errorf("alert %s keyed %q, want the employee %q", a.ID, m.Key, a.Employee)
		}
		if a.ID != models.AlertID(a.EventID) {
			t.Errorf("alert id %s is not derived from event %s", a.ID, a.EventID)
		}
		if _, seen := got[a.EventID]; seen {
			dups++
		}
		got[a.EventID] = a.ID
	}
	t.Logf("%d alert records, %d distinct, %d duplicates (only the abandoned batch may repeat)", len(msgs), len(got), dups)
	for ev, id := range want {
		if got[ev] != id {
			t.Errorf("event %s: alert %q on the topic, offline scoring expects %q", ev, got[ev], id)
		}
	}
	for ev := range got {
		if _, ok := want[ev]; !ok {
			t.Errorf("event %s alerted live but not offline", ev)
		}
	}

	dl, err := kafkaio.ReadTopic(ctx, kafkaio.Connection{Brokers: brokers}, dlqTopic, len(broken))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range dl {
		wantReason, ok := broken[string(m.Value)]
		if !ok {
			t.Errorf("unexpected dead letter %q", m.Value)
			continue
		}
		if !strings.Contains(m.Headers[kafkaio.HeaderReason], wantReason) {
			t.Errorf("dead letter %q has reason %q, want %q", m.Value, m.Headers[kafkaio.HeaderReason], wantReason)
		}
	}

	// Everything is committed: after one more record, the group sees only it.
	stop()
	if err := <-done; err != nil {
		t.Fatalf("detector B: %v", err)
	}
	b.Close()
	sentinel := `{"id":"sentinel","kind":"message","ts":"2026-11-26T18:00:00Z","to":"emp-1042","text":"ok"}`
	if err := producer.Produce(ctx, []byte(sentinel)); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	cCtx, cStop := context.WithCancel(ctx)
	c, err := kafkaio.New(consumerConfig(brokers, group, in, alertsTopic, dlqTopic), detector.BatchHandlerFunc(func(ctx context.Context, recs []detector.Record) (detector.Result, error) {
		mu.Lock()
		for _, r := range recs {
			seen = append(seen, string(r.Value))
		}
		mu.Unlock()
		if len(recs) > 0 && strings.Contains(string(recs[len(recs)-1].Value), "sentinel") {
			defer cStop()
		}
		return detector.Result{Outcomes: make([]detector.Outcome, len(recs))}, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(cCtx); err != nil {
		t.Fatal(err)
	}
	c.Close()
	cStop()
	if len(seen) != 1 || seen[0] != sentinel {
		t.Errorf("after the run, the group was handed %d records (want only the sentinel): %.200q", len(seen), seen)
	}
}
