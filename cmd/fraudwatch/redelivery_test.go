package main

import (
	"context"
	"encoding/json"
	"testing"

	"fraudwatch/detector"
	"fraudwatch/models"
)

// The two promises of the reputation path, shown with the real wiring and
// a real redis-server: a batch costs one Redis round trip, and a
// redelivered batch changes no counter and yields the same verdicts and
// alert ids.
func TestRedeliveredBatchOneRoundTripSameVerdicts(t *testing.T) {
	redisAddr := testRedis(t)
	ctx := context.Background()
	p, err := newPipeline(ctx, testSettings(redisAddr, uniqueName("fwredeliver:")+":"), true)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	counter, ok := p.rep.(interface{ RoundTrips() uint64 })
	if !ok {
		t.Fatalf("%T does not count round trips", p.rep)
	}
	lines := fixtureLines(t)
	recs := make([]detector.Record, len(lines))
	for i, l := range lines {
		recs[i] = detector.Record{Offset: int64(i), Value: l}
	}

	before := counter.RoundTrips()
	first, err := p.engine.HandleBatch(ctx, recs)
	if err != nil {
		t.Fatal(err)
	}
	if n := counter.RoundTrips() - before; n != 1 {
		t.Errorf("a batch of %d events took %d Redis round trips, want 1", len(recs), n)
	}

	before = counter.RoundTrips()
	again, err := p.engine.HandleBatch(ctx, recs)
	if err != nil {
		t.Fatal(err)
	}
	if n := counter.RoundTrips() - before; n != 1 {
		t.Errorf("the redelivered batch took %d round trips, want 1", n)
	}
	j1, _ := json.Marshal(first.Verdicts)
	j2, _ := json.Marshal(again.Verdicts)
	if string(j1) != string(j2) {
		t.Errorf("verdicts changed on redelivery")
	}
	if len(first.Alerts) == 0 || len(first.Alerts) != len(again.Alerts) {
		t.Fatalf("%d alerts, then %d", len(first.Alerts), len(again.Alerts))
	}
	for i := range first.Alerts {
		if first.Alerts[i].ID != again.Alerts[i].ID || first.Alerts[i].Score != again.Alerts[i].Score {
			t.Errorf("alert %d: %s/%v then %s/%v", i, first.Alerts[i].ID, first.Alerts[i].Score, again.Alerts[i].ID, again.Alerts[i].Score)
		}
	}

	// No counter moved: the next new event of the busiest fixture sender
	// is its (n+1)th, not its (2n+1)th.
	events := make(map[string]int) // E.164 → events in the fixtures
	var busiest string
	for _, l := range lines {
		ev, err := decodeLine(l, p.decode)
		if err != nil || ev.From == "" {
			continue
		}
		events[ev.From]++
		if events[ev.From] > events[busiest] {
			busiest = ev.From
		}
	}
	next := `{"id":"after-redelivery","kind":"message","ts":"2026-11-26T18:00:00Z","to":"emp-1042","from":"` + busiest + `","text":"ok"}`
	ev, err := decodeLine([]byte(next), p.decode)
	if err != nil {
		t.Fatal(err)
	}
	scored, err := p.engine.Score(ctx, []models.Event{ev})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := scored[0].Snapshot.Events, int64(events[busiest]+1); got != want {
		t.Errorf("sender with %d fixture events: next event counted as #%d, want #%d", events[busiest], got, want)
	}
}
