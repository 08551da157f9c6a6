package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"fraudwatch/detector"
)

// Fault tests: the real `fraudwatch run` binary against Apache Kafka and
// redis-server, each fault injected in the middle of a stream. Each ends
// with faultRig.check: every record sent has exactly one outcome (alert,
// scored, dead letter) and it is the one offline scoring gives, nothing is
// lost or left uncommitted, and every alert for an event carries the id
// derived from it. They need FW_TEST_KAFKA_BROKERS (scripts/test).

// A detector killed with SIGKILL while it works through a backlog, then
// started again: the batch it was in is redelivered, so its alerts may be
// written twice, but with the same ids, and nothing is lost.
func TestFaultDetectorKilledMidBatch(t *testing.T) {
	t.Parallel() // mostly waiting out a session timeout: overlaps the broker restart
	redisAddr := testRedis(t)
	brokers := testKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r := newFaultRig(t, ctx, brokers, redisAddr)
	r.produce(faultRecords(t, 1500)...)

	a := r.start("a")
	for ctx.Err() == nil && a.metric("fraudwatch_events_total") < 400 {
		time.Sleep(5 * time.Millisecond)
	}
	handled := a.metric("fraudwatch_events_total")
	a.kill(t)
	lag := r.lag()
	t.Logf("killed after %v events handled; uncommitted then: %v", handled, lag)
	var left int64
	for _, l := range lag {
		left += l
	}
	if left == 0 {
		t.Fatal("the detector finished before it was killed; the test needs a bigger backlog")
	}

	b := r.start("b") // waits out the dead member's session (30s) before it gets partitions
	r.committedAll()
	b.stop(t)
	rep := r.check()
	t.Logf("SIGKILL: %d distinct alert ids, %d raw duplicates (alerts of the batch in flight, written again)", rep.DistinctAlertIDs, rep.Duplicates)
}

// Redis stopped for several seconds mid-stream: batches fail and are
// retried with backoff, nothing is committed meanwhile, /readyz says not
// ready; once Redis is back, everything resumes and nothing repeats.
func TestFaultRedisStoppedMidStream(t *testing.T) {
	testRedis(t) // the same gate as the other Redis tests; this one runs its own server
	brokers := testKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	redis := startPrivateRedis(t)
	r := newFaultRig(t, ctx, brokers, redis.addr())
	recs := faultRecords(t, 900)
	d := r.start("a")
	waitHTTP(t, ctx, "http://"+d.http+"/readyz", 200)
	r.produce(recs[:300]...)
	r.committedAll()

	redis.stop()
	time.Sleep(500 * time.Millisecond) // a batch already past Redis may still commit
	before := r.lag()
	r.produce(recs[300:600]...)
	notReady := ""
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if code, body := d.ready(); code != 200 && notReady == "" {
			notReady = body
		}
	}
	during := r.lag()
	retries := d.metric("fraudwatch_batch_retries_total")
	for p, l := range during {
		if l < before[p] {
			t.Errorf("partition %d: lag went from %d to %d while Redis was down: something was committed", p, before[p], l)
		}
	}
	if notReady == "" {
		t.Error("/readyz answered 200 throughout the Redis outage")
	} else if !strings.Contains(strings.ToLower(notReady), "redis") && !strings.Contains(notReady, redis.addr()) {
		t.Errorf("/readyz not ready, but does not name Redis: %s", notReady)
	}
	if retries == 0 {
		t.Error("no batch retried while Redis was down")
	}
	t.Logf("Redis down 4.5s: lag %v → %v, %v batch retries, readyz: %.200s", before, during, retries, notReady)

	redis.start()
	r.produce(recs[600:]...)
	r.committedAll()
	waitHTTP(t, ctx, "http://"+d.http+"/readyz", 200)
	d.stop(t)
	rep := r.check()
	if rep.Duplicates != 0 {
		t.Errorf("%d duplicate alerts or dead letters after a Redis outage; want none", rep.Duplicates)
	}
}

// The Kafka broker restarted mid-stream (stopped, down for a few seconds,
// started on the same ports and data): the detector reconnects, rejoins
// its group and carries on; nothing is lost, and nothing repeats but the
// one write whose acknowledgement the broker took down with it.
func TestFaultKafkaBrokerRestarted(t *testing.T) {
	t.Parallel() // mostly waiting for the group to recover: overlaps the SIGKILL test
	redisAddr := testRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	broker := startPrivateKafka(t)
	r := newFaultRig(t, ctx, []string{broker.addr}, redisAddr)
	recs := faultRecords(t, 900)
	d := r.start("a")
	r.produce(recs[:450]...)
	for ctx.Err() == nil && d.metric("fraudwatch_events_total") < 150 {
		time.Sleep(5 * time.Millisecond)
	}
	t0 := time.Now()
	broker.stop()
	time.Sleep(3 * time.Second)
	broker.start()
	t.Logf("broker down for %v (stop, 3s, start)", time.Since(t0).Round(100*time.Millisecond))
	r.produce(recs[450:]...)
	r.committedAll()
	d.stop(t)
	rep := r.check() // every record has its one outcome; repeats keep their ids
	// A produce the broker applied just before it stopped, whose
	// acknowledgement was lost with it, is written again on retry: kafka-go
	// has no idempotent producer. That repeats at most the one batch being
	// written (50 records), with the same alert ids, which consumers
	// deduplicate (triage does). Without a failed write there is no excuse.
	log, _ := os.ReadFile(d.logPath)
	lostAck := bytes.Contains(log, []byte("error writing messages"))
	switch {
	case rep.Duplicates > 0 && !lostAck:
		t.Errorf("%d duplicate alerts or dead letters after a broker restart, with no failed write to explain them; want none", rep.Duplicates)
	case rep.Duplicates > 50:
		t.Errorf("%d duplicate alerts or dead letters after a broker restart; at most one batch (50) may repeat", rep.Duplicates)
	case rep.Duplicates > 0:
		t.Logf("%d same-id repeats of a write whose acknowledgement was lost with the broker", rep.Duplicates)
	}
}

// Two detectors in one group share the partitions; one is stopped
// (SIGTERM) mid-stream, the other takes its partitions over: everything is
// still handled exactly once. The stop leaves no window: the stopping
// detector finishes and commits its batch before it leaves the group. The
// join before it can (kafka-go tells a member nothing when its partitions
// are revoked, so a batch in flight may commit after the new owner read the
// offsets): the test joins both on a trickle of warm-up records, whose
// repeats it reports but allows.
func TestFaultRebalanceWhenOneOfTwoStops(t *testing.T) {
	redisAddr := testRedis(t)
	brokers := testKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r := newFaultRig(t, ctx, brokers, redisAddr)
	recs := faultRecords(t, 1500)
	a, b := r.start("a"), r.start("b")
	// Warm-up: one record at a time until both have partitions (b's join
	// makes a rejoin, which a notices at its next heartbeat).
	warm := 0
	for ctx.Err() == nil && warm < 300 && (a.metric("fraudwatch_events_total") == 0 || b.metric("fraudwatch_events_total") == 0) {
		r.produce(recs[warm])
		warm++
		time.Sleep(100 * time.Millisecond)
	}
	r.committedAll()
	r.produce(recs[warm : warm+700]...)
	for ctx.Err() == nil && a.metric("fraudwatch_events_total")+b.metric("fraudwatch_events_total") < float64(warm+300) {
		time.Sleep(5 * time.Millisecond)
	}
	handledA, handledB := a.metric("fraudwatch_events_total"), b.metric("fraudwatch_events_total")
	a.stop(t)
	r.produce(recs[warm+700:]...)
	r.committedAll()
	b.stop(t)
	t.Logf("%d warm-up records; when a stopped it had handled %v, b %v", warm, handledA, handledB)
	if handledA <= 1 || handledB <= 1 {
		t.Errorf("the two detectors did not share the work (a %v, b %v)", handledA, handledB)
	}
	rep := r.check()
	warmRepeats, repeats := 0, 0
	for i, n := range rep.Repeated {
		if i < warm {
			warmRepeats += n
		} else {
			repeats += n
		}
	}
	t.Logf("repeated outputs: %d of warm-up records (the join), %d after (the stop)", warmRepeats, repeats)
	if repeats != 0 {
		t.Errorf("%d duplicate alerts or dead letters after the stop-triggered rebalance; want none", repeats)
	}
}

// malformedKinds are the broken records of TestFaultMalformedAmongGood,
// each built from a unique number that appears in its first bytes. dlq
// says where it must end: in the dead-letter topic (the integration sent
// something no one can interpret) or scored (a sender controls the oddity;
// it is repaired and judged, never dropped).
var malformedKinds = []struct {
	name  string
	dlq   bool
	build func(n int) string
}{
	{"invalid JSON", true, func(n int) string {
		return fmt.Sprintf(`{"id":"bad-json-%06d","kind":"message","ts":"2026-11-26T09:00:00Z","to":"emp-1042","text":"unterminated`, n)
	}},
	{"not an object", true, func(n int) string { return fmt.Sprintf(`["array-%06d", 1, 2]`, n) }},
	{"invalid UTF-8 in the text", false, func(n int) string {
		return fmt.Sprintf(`{"id":"bad-utf8-%06d","kind":"message","ts":"2026-11-26T09:00:00Z","from":"+79161230000","to":"emp-1042","text":"Здравствуйте, `, n) +
			"\xff\xfe\xfd это банк \xc3\x28 код\"}"
	}},
	{"a lone surrogate escaped in the name", false, func(n int) string {
		return fmt.Sprintf(`{"id":"surrogate-%06d","kind":"message","ts":"2026-11-26T09:00:00Z","from":"+79161230004","from_name":"Банк \ud800","to":"emp-1042","text":"ok"}`, n)
	}},
	{"invalid UTF-8 outside strings", true, func(n int) string {
		return fmt.Sprintf("{\"id\":\"bad-raw-%06d\",\xff\"kind\":\"message\"}", n)
	}},
	{"missing to", true, func(n int) string {
		return fmt.Sprintf(`{"id":"no-to-%06d","kind":"message","ts":"2026-11-26T09:00:00Z","text":"hi"}`, n)
	}},
	{"missing id", true, func(n int) string {
		return fmt.Sprintf(`{"x":"no-id-%06d","kind":"message","ts":"2026-11-26T09:00:00Z","to":"emp-1042"}`, n)
	}},
	{"id of the wrong type", true, func(n int) string {
		return fmt.Sprintf(`{"id":9%06d,"kind":"message","ts":"2026-11-26T09:00:00Z","to":"emp-1042"}`, n)
	}},
	{"text of the wrong type", true, func(n int) string {
		return fmt.Sprintf(`{"id":"text-num-%06d","kind":"message","ts":"2026-11-26T09:00:00Z","to":"emp-1042","text":12345}`, n)
	}},
	{"unknown kind", true, func(n int) string {
		return fmt.Sprintf(`{"id":"kind-sms-%06d","kind":"sms","ts":"2026-11-26T09:00:00Z","to":"emp-1042"}`, n)
	}},
	{"time not RFC 3339", true, func(n int) string {
		return fmt.Sprintf(`{"id":"bad-ts-%06d","kind":"message","ts":"yesterday","to":"emp-1042"}`, n)
	}},
	{"invalid phone number", false, func(n int) string {
		return fmt.Sprintf(`{"id":"bad-from-%06d","kind":"message","ts":"2026-11-26T09:00:00Z","from":"+7 (916) не-номер ☎","to":"emp-1042","text":"Переведите деньги на безопасный счёт"}`, n)
	}},
	{"a number no decoder holds", false, func(n int) string {
		return fmt.Sprintf(`{"id":"bad-num-%06d","kind":"message","ts":"2026-11-26T09:00:00Z","from":"+79161230001","to":"emp-1042","text":"ok","extra":1e999999}`, n)
	}},
	{"oversized text", false, func(n int) string {
		return fmt.Sprintf(`{"id":"big-text-%06d","kind":"message","ts":"2026-11-26T09:00:00Z","from":"+79161230002","to":"emp-1042","text":"%s"}`, n, strings.Repeat("код из СМС ", 7000))
	}},
}

// Thousands of malformed records among good ones, and two near the
// broker's 1 MiB message limit: what cannot be interpreted goes to the
// dead-letter topic with a reason (cut to fit, and marked, when too big),
// what a sender controls is scored, every good event is judged as offline,
// and the detector's memory stays flat.
func TestFaultMalformedAmongGood(t *testing.T) {
	redisAddr := testRedis(t)
	brokers := testKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r := newFaultRig(t, ctx, brokers, redisAddr)
	good := faultRecords(t, 1200)
	d := r.start("a")
	r.produce(good[:400]...)
	r.committedAll()
	rssBefore := d.rssKiB(t)

	var mixed [][]byte
	kindOf := map[int]int{} // index in r.sent → malformedKinds index
	base := len(r.sent)
	for i, n := 0, 0; i < 3000; i++ {
		if i%4 == 0 && n < 800 {
			mixed = append(mixed, good[400+n])
			n++
		}
		k := i % len(malformedKinds)
		kindOf[base+len(mixed)] = k
		mixed = append(mixed, []byte(malformedKinds[k].build(i)))
	}
	nearMax := 1000 * 1000 // kafka-go's writer and the broker take up to 1 MiB
	bigEvent := fmt.Sprintf(`{"id":"near-max-event","kind":"message","ts":"2026-11-26T09:00:00Z","from":"+79161230003","to":"emp-1042","text":"%s"}`, strings.Repeat("a", nearMax-150))
	bigGarbage := "near-max-garbage " + strings.Repeat("Z", nearMax-20)
	bigEventAt, bigGarbageAt := base+len(mixed), base+len(mixed)+1
	mixed = append(mixed, []byte(bigEvent), []byte(bigGarbage))
	r.produce(mixed...)
	r.committedAll()
	rssAfter := d.rssKiB(t)
	d.stop(t)

	rep := r.check()
	if rep.Duplicates != 0 {
		t.Errorf("%d duplicate alerts or dead letters; want none", rep.Duplicates)
	}
	perKind := make([]map[detector.Outcome]int, len(malformedKinds))
	for i := range perKind {
		perKind[i] = map[detector.Outcome]int{}
	}
	for i, k := range kindOf {
		perKind[k][rep.Outcomes[i]]++
	}
	for k, mk := range malformedKinds {
		dead := perKind[k][detector.OutcomeDeadLetter]
		total := dead + perKind[k][detector.OutcomeScored] + perKind[k][detector.OutcomeAlert]
		switch {
		case mk.dlq && dead != total:
			t.Errorf("%s: %d of %d in the dead-letter topic, want all", mk.name, dead, total)
		case !mk.dlq && dead != 0:
			t.Errorf("%s: %d of %d in the dead-letter topic, want all scored: a sender controls it", mk.name, dead, total)
		}
		t.Logf("%-28s %v", mk.name, perKind[k])
	}
	if o := rep.Outcomes[bigEventAt]; o == detector.OutcomeDeadLetter {
		t.Errorf("the near-limit event (1 MB of text) went to the dead-letter topic; want it scored")
	}
	if o := rep.Outcomes[bigGarbageAt]; o != detector.OutcomeDeadLetter {
		t.Errorf("the near-limit garbage record: %s, want a dead letter", o)
	}
	t.Logf("detector RSS: %d MiB after %d good records, %d MiB after %d more (%d malformed, two near 1 MB)",
		rssBefore/1024, 400, rssAfter/1024, len(mixed), len(kindOf)+1)
	if rssAfter > rssBefore+256*1024 {
		t.Errorf("detector RSS grew from %d to %d MiB over the malformed stream", rssBefore/1024, rssAfter/1024)
	}
}
