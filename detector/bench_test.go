package detector_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"fraudwatch/detector"
	"fraudwatch/fixtures"
)

// BenchmarkHandleBatch measures the scoring core on one goroutine: decode,
// in-memory reputation, features and rules for batches of 500 records
// built from the fixtures, with their ids and senders varied so that
// nothing is a replay. It reports events/s; no I/O is involved.
func BenchmarkHandleBatch(b *testing.B) {
	eng, _ := newFixtureEngine(b, time.Now())
	var lines [][]byte
	for _, l := range bytes.Split(fixtures.Events(), []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			lines = append(lines, l)
		}
	}
	const batch = 500
	recs := make([]detector.Record, batch)
	ts := time.Now().UTC().Format(time.RFC3339)
	seq := 0
	next := func() {
		for i := range recs {
			seq++
			l := lines[seq%len(lines)]
			// A fresh id and one of 5,000 senders per record: no replays.
			l = bytes.Replace(l, []byte(`"id": "`), []byte(fmt.Sprintf(`"id": "b%d-`, seq)), 1)
			l = bytes.Replace(l, []byte(`"ts": "2026-11-26T`), []byte(`"ts": "`+ts+`", "x": "`), 1)
			l = bytes.Replace(l, []byte(`"from": "+79`), []byte(fmt.Sprintf(`"from": "+7%03d`, 900+seq%90)), 1)
			recs[i] = detector.Record{Value: l}
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		next()
		b.StartTimer()
		if _, err := eng.HandleBatch(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
}
