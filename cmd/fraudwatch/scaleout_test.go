package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
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

// scaleOutKafka returns brokers with the three topics, inbound with the
// given partitions: the real Apache Kafka of FW_TEST_KAFKA_BROKERS when
// set, else an in-process kfake. real says which.
func scaleOutKafka(t *testing.T, partitions int, in, alerts, dlq string) (brokers []string, real bool) {
	t.Helper()
	if v := os.Getenv("FW_TEST_KAFKA_BROKERS"); v != "" {
		brokers = strings.Split(v, ",")
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := kafkaio.EnsureTopics(ctx, kafkaio.Connection{Brokers: brokers}, partitions, 1, in, alerts, dlq); err != nil {
			t.Fatal(err)
		}
		return brokers, true
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(int32(partitions), in, alerts, dlq), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs(), false
}

// scaleOutRedis is the test Redis Cluster when scripts/test started one,
// else the single test redis-server.
func scaleOutRedis(t *testing.T) []string {
	t.Helper()
	if v := os.Getenv("FW_TEST_REDIS_CLUSTER_ADDRS"); v != "" {
		return strings.Split(v, ",")
	}
	return []string{testRedis(t)}
}

// wave returns the fixture events again with ids made unique to wave w,
// so that each wave is new traffic from the same senders.
func wave(t *testing.T, lines [][]byte, w int) [][]byte {
	t.Helper()
	out := make([][]byte, 0, len(lines))
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatal(err)
		}
		m["id"] = fmt.Sprintf("%v~w%d", m["id"], w)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// Three detector instances in one consumer group share the six partitions
// of the inbound topic (each with its own Redis client, on the Redis
// Cluster when there is one). Waves of fixture traffic, keyed by sender,
// are produced until every instance has handled records of its own
// partitions; then every produced event has exactly one outcome, the
// alerts topic holds one distinct alert id per alerted event, derived
// from its id, and each instance owned some partitions.
func TestThreeInstancesInOneGroupShareThePartitions(t *testing.T) {
	redisAddrs := scaleOutRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const partitions, instances = 6, 3
	in, alertsTopic, dlqTopic, group := uniqueName("in-"), uniqueName("alerts-"), uniqueName("dlq-"), uniqueName("group-")
	brokers, real := scaleOutKafka(t, partitions, in, alertsTopic, dlqTopic)
	t.Logf("Kafka: real Apache Kafka %v: %v; Redis: %v", real, brokers, redisAddrs)

	s := testSettings("", uniqueName("fwscale:")+":")
	s.redis.Addrs = redisAddrs
	log := &outcomeLog{byRec: map[string]detector.Outcome{}, alerts: map[string]models.Alert{}}
	var mu sync.Mutex
	owned := make([]map[int]int, instances) // instance → partition → records handled

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, instances)
	for i := range instances {
		owned[i] = map[int]int{}
		p, err := newPipeline(ctx, s, true)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		inner := log.wrap(p.engine)
		h := detector.BatchHandlerFunc(func(hctx context.Context, recs []detector.Record) (detector.Result, error) {
			res, err := inner.HandleBatch(hctx, recs)
			if err == nil {
				mu.Lock()
				for _, r := range recs {
					owned[i][r.Partition]++
				}
				mu.Unlock()
			}
			return res, err
		})
		cfg := consumerConfig(brokers, group, in, alertsTopic, dlqTopic)
		if real {
			// Apache Kafka's group.min.session.timeout.ms is 6s by default.
			cfg.SessionTimeout, cfg.HeartbeatInterval, cfg.RebalanceTimeout = 10*time.Second, time.Second, 10*time.Second
		}
		c, err := kafkaio.New(cfg, h)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		go func() { done <- c.Run(runCtx) }()
	}

	producer, err := kafkaio.NewProducer(kafkaio.WriterConfig{Connection: kafkaio.Connection{Brokers: brokers}, Topic: in})
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	lines := fixtureLines(t)
	produced := 0
	allBusy := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range owned {
			if len(m) == 0 {
				return false
			}
		}
		return true
	}
	for w := 0; !allBusy(); w++ {
		if w == 30 {
			t.Fatalf("after %d waves some instance never got a partition: %v", w, owned)
		}
		if err := producer.Produce(ctx, wave(t, lines, w)...); err != nil {
			t.Fatal(err)
		}
		produced += len(lines)
		for log.count() < produced {
			select {
			case <-ctx.Done():
				t.Fatalf("only %d of %d records got an outcome", log.count(), produced)
			case err := <-done:
				t.Fatalf("an instance stopped: %v", err)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	stop()
	for range instances {
		if err := <-done; err != nil {
			t.Fatalf("instance: %v", err)
		}
	}

	if len(log.flips) > 0 {
		t.Errorf("records handled by two instances were judged differently:\n%s", strings.Join(log.flips, "\n"))
	}
	counts := map[detector.Outcome]int{}
	for _, o := range log.byRec {
		counts[o]++
	}
	if len(log.byRec) != produced || counts[detector.OutcomeAlert]+counts[detector.OutcomeScored]+counts[detector.OutcomeDeadLetter] != produced {
		t.Errorf("outcomes %v for %d produced records", counts, produced)
	}
	if counts[detector.OutcomeAlert] == 0 {
		t.Fatal("no alerts: the fixtures should raise some")
	}
	all := map[int]bool{}
	for i, m := range owned {
		var ps []int
		for p := range m {
			ps = append(ps, p)
			all[p] = true
		}
		sort.Ints(ps)
		t.Logf("instance %d handled partitions %v (records per partition %v)", i, ps, m)
	}
	if len(all) != partitions {
		t.Errorf("records of %d partitions were handled, want all %d", len(all), partitions)
	}

	// The alerts topic: one distinct id per alerted event. A rebalance can
	// redeliver a batch whose commit it interrupted, so raw duplicates are
	// possible and reported; they carry the same id.
	alertConn := kafkaio.Connection{Brokers: brokers}
	want := counts[detector.OutcomeAlert]
	distinct := map[string]string{}
	var records int
	for n := want; len(distinct) < want && n <= 2*want; n = records + (want - len(distinct)) {
		msgs, err := kafkaio.ReadTopic(ctx, alertConn, alertsTopic, n)
		if err != nil {
			t.Fatalf("reading %d alerts: %v", n, err)
		}
		records = len(msgs)
		for _, m := range msgs {
			var a models.Alert
			if err := json.Unmarshal(m.Value, &a); err != nil {
				t.Fatal(err)
			}
			if a.ID != models.AlertID(a.EventID) {
				t.Errorf("alert %s not derived from event %s", a.ID, a.EventID)
			}
			distinct[a.EventID] = a.ID
		}
	}
	t.Logf("%d events: %v; %d alert records, %d distinct alert ids, %d raw duplicates", produced, counts, records, len(distinct), records-len(distinct))
	if len(distinct) != want {
		t.Errorf("%d distinct alerts on the topic, want %d", len(distinct), want)
	}
	for ev := range distinct {
		if _, ok := log.alerts[ev]; !ok {
			t.Errorf("alert for %s on the topic, but no instance alerted it", ev)
		}
	}
}

// BenchmarkHandleBatchOnRedis is the detector's whole batch path on real
// Redis (the cluster when FW_TEST_REDIS_CLUSTER_ADDRS is set, else
// FW_TEST_REDIS_ADDR): decode, one pipelined reputation round trip per
// batch (per node on a cluster), features, rules, alerts. Batches of 500
// fixture events with fresh ids and 90 senders. It reports events/s and
// Redis round trips per batch: the inputs of the README's sizing.
func BenchmarkHandleBatchOnRedis(b *testing.B) {
	var addrs []string
	if v := os.Getenv("FW_TEST_REDIS_CLUSTER_ADDRS"); v != "" && os.Getenv("FW_BENCH_SINGLE_REDIS") == "" {
		addrs = strings.Split(v, ",")
	} else if v := os.Getenv("FW_TEST_REDIS_ADDR"); v != "" {
		addrs = []string{v}
	} else {
		b.Skip("no FW_TEST_REDIS_ADDR or FW_TEST_REDIS_CLUSTER_ADDRS")
	}
	s := testSettings("", uniqueName("fwbench:")+":")
	s.redis.Addrs = addrs
	p, err := newPipeline(context.Background(), s, true)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	trips, ok := p.rep.(interface{ RoundTrips() uint64 })
	if !ok {
		b.Fatal("the Redis store does not count round trips")
	}
	lines := fixtureLinesTB(b)
	const batch = 500
	recs := make([]detector.Record, batch)
	seq := 0
	ctx := context.Background()
	b.ReportAllocs()
	start := trips.RoundTrips()
	for b.Loop() {
		b.StopTimer()
		for i := range recs {
			seq++
			var m map[string]any
			_ = json.Unmarshal(lines[seq%len(lines)], &m)
			m["id"] = fmt.Sprintf("bench-%d", seq)
			if _, ok := m["from"]; ok {
				m["from"] = fmt.Sprintf("+7916%07d", seq%90)
			}
			v, _ := json.Marshal(m)
			recs[i] = detector.Record{Value: v}
		}
		b.StartTimer()
		if _, err := p.engine.HandleBatch(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(trips.RoundTrips()-start)/float64(b.N), "roundtrips/batch")
}

func fixtureLinesTB(tb testing.TB) [][]byte {
	var out [][]byte
	for _, l := range strings.Split(string(fixtures.Events()), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, []byte(l))
		}
	}
	return out
}
