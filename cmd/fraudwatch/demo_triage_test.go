package main

import (
	"context"
	"regexp"
	"testing"
	"time"

	"fraudwatch/detector/triage"
)

// The fixture replay through demo + triage: `demo --triage`
// replays the fixtures on its in-process Kafka and Redis, then serves the
// console; the fan-out and each campaign are one incident there, and the
// tokens it prints sign in.
func TestDemoServesTheFixturesAsIncidents(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- dispatch(ctx, []string{"demo", "--triage", addr}, nil, stdout, stderr) }()

	s := &triageStack{ctx: ctx, triageURL: "http://" + addr, tokens: map[triage.Role]string{}}
	analyst := regexp.MustCompile(`sign in as demo-analyst\s+\(analyst\): (\S+)`)
	alerts := regexp.MustCompile(`(?m)^\s+alert\s+(\d+)$`)
	var want float64
	s.waitFor(t, "the demo to print its tokens", func() bool {
		m := analyst.FindStringSubmatch(stdout.String())
		if m == nil {
			return false
		}
		s.tokens[triage.RoleViewer], s.tokens[triage.RoleAnalyst] = m[1], m[1]
		n := alerts.FindStringSubmatch(stdout.String())
		if n == nil {
			t.Fatalf("no alert count in the demo's summary:\n%s", stdout)
		}
		want = metricValue(n[1])
		return true
	})
	waitHTTP(t, ctx, s.triageURL+"/readyz", 200)
	s.waitFor(t, "triage to store the demo's alerts", func() bool {
		return metric(t, ctx, s.triageURL+"/metrics", `fraudwatch_triage_alerts_total{outcome="stored"}`) >= want
	})
	oneIncidentPerFixtureGroup(t, s)

	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("demo exited %d:\n%s", code, stderr)
	}
}
