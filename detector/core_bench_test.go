package detector_test

import (
	"bytes"
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"fraudwatch/detector"
	"fraudwatch/detector/rules"
	"fraudwatch/features"
	"fraudwatch/fixtures"
	"fraudwatch/models"
)

// coreRecords returns n records built from the fixtures, each with its own
// id and one of many senders, timed at now, in the same byte form as the
// inbound topic carries them.
func coreRecords(tb testing.TB, n int, now time.Time) []detector.Record {
	tb.Helper()
	var lines [][]byte
	for _, l := range bytes.Split(fixtures.Events(), []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			lines = append(lines, l)
		}
	}
	ts := now.UTC().Format(time.RFC3339)
	recs := make([]detector.Record, n)
	for i := range recs {
		l := lines[i%len(lines)]
		l = bytes.Replace(l, []byte(`"id": "`), []byte(fmt.Sprintf(`"id": "c%d-`, i)), 1)
		l = bytes.Replace(l, []byte(`"ts": "2026-11-26T`), []byte(`"ts": "`+ts+`", "x": "`), 1)
		l = bytes.Replace(l, []byte(`"from": "+79`), []byte(fmt.Sprintf(`"from": "+7%03d`, 900+i%90)), 1)
		recs[i] = detector.Record{Value: l}
	}
	return recs
}

// BenchmarkScoringCore measures the scoring core alone on one goroutine:
// decode, features, rules, model and alert building for batches of 500
// records from the fixtures, with reputation answered in memory by a
// fixed snapshot so that no store (not even memrep) is measured. Run it
// with GOMAXPROCS=1; events/s is the figure the 40k/s/core target
// refers to.
func BenchmarkScoringCore(b *testing.B) {
	eng := newCoreEngine(b)
	const batch = 500
	// Enough distinct records that the CPU caches do not hold them all.
	recs := coreRecords(b, 20*batch, benchNow)
	ctx := context.Background()
	b.ReportAllocs()
	cpu0 := processCPU()
	i := 0
	for b.Loop() {
		off := (i * batch) % len(recs)
		if _, err := eng.HandleBatch(ctx, recs[off:off+batch]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(i*batch)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i*batch), "ns/event")
	// The machine is shared: CPU time per event does not count the time
	// other processes held the core.
	b.ReportMetric(float64(i*batch)/(processCPU()-cpu0).Seconds(), "events/cpu-s")
}

// processCPU is the user and system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchNow is the clock of the core benchmarks: just after the fixtures.
var benchNow = time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)

// newCoreEngine is newFixtureEngine with a reputation that does no work:
// every sender has been seen three times over the last day.
func newCoreEngine(tb testing.TB) *detector.Engine {
	tb.Helper()
	dir, err := features.ParseDirectory(fixtures.Directory())
	if err != nil {
		tb.Fatal(err)
	}
	x, err := features.NewExtractor(features.Config{DefaultRegion: "RU", Directory: dir})
	if err != nil {
		tb.Fatal(err)
	}
	rs, err := rules.Default()
	if err != nil {
		tb.Fatal(err)
	}
	h, err := detector.NewSenderHasher("v1", []byte("fixture-test-secret-0123"))
	if err != nil {
		tb.Fatal(err)
	}
	snap := models.Snapshot{Events: 3, FirstSeen: benchNow.Add(-24 * time.Hour)}
	rep := detector.ReputationFunc(func(_ context.Context, obs []models.Observation) ([]models.Snapshot, error) {
		out := make([]models.Snapshot, len(obs))
		for i := range out {
			out[i] = snap
		}
		return out, nil
	})
	opts := models.DecodeOptions{NormalizeSender: features.NewNumberNormalizer("RU").Normalize}
	eng, err := detector.NewEngine(detector.EngineConfig{OfficialLines: officialNumbers(dir), Now: func() time.Time { return benchNow }},
		opts, x, rep, h, rs)
	if err != nil {
		tb.Fatal(err)
	}
	return eng
}
