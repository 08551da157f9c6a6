package triage_test

import (
	"context"
	"fmt"
	"testing"

	"fraudwatch/detector/triage"
)

// BenchmarkIngest measures filing alerts into incidents over redis-server:
// one alert per iteration, from 200 senders, a fifth of them in campaigns.
// Triage carries alerts, not events: a few hundred a second is a busy SOC.
func BenchmarkIngest(b *testing.B) {
	e := newEnvTB(b, triage.Config{})
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		campaign := ""
		if i%5 == 0 {
			campaign = fmt.Sprintf("camp_%d", i%7)
		}
		a := alert(fmt.Sprintf("b%d", i), fmt.Sprintf("+7916200%04d", i%200), campaign, fmt.Sprintf("emp-%d", i%500), i%1000)
		if _, err := e.tr.Ingest(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
}
