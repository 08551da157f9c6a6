package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"fraudwatch/models"
)

// The SOC's series, scraped over HTTP: what the triage observer saw, the
// backlog read from the store at scrape time under a deadline, and the
// consumer's lag. The end-to-end tests check alerts and time to resolve
// through the real service; this checks every series by name and label.
func TestTriageMetricsExposeWhatTheServiceObserved(t *testing.T) {
	var hadDeadline bool
	open := func(ctx context.Context) (map[models.Severity]int, error) {
		_, hadDeadline = ctx.Deadline()
		return map[models.Severity]int{models.SeverityHigh: 2, models.SeverityCritical: 1}, nil
	}
	m := newTriageMetrics(open, func() (int64, bool) { return 7, true })
	obs := m.observer()
	obs.AlertStored(false, false)
	obs.AlertStored(false, false)
	obs.AlertStored(true, false)
	obs.AlertStored(true, true) // a redelivery counts as a duplicate only
	obs.Acknowledged(90 * time.Second)
	obs.Resolved(2*time.Hour, "fraud", map[string]int{"scam.credential_request": 3, "spam.unknown_link": 1})
	obs.Resolved(10*time.Minute, "legit", map[string]int{"spam.unknown_link": 2})
	obs.Notified("new")
	obs.Notified("new")
	obs.Notified("repeat")

	srv := httptest.NewServer(m.httpHandler())
	defer srv.Close()
	ctx := context.Background()
	want := map[string]float64{
		`fraudwatch_triage_open_incidents{severity="low"}`:                                 0,
		`fraudwatch_triage_open_incidents{severity="medium"}`:                              0,
		`fraudwatch_triage_open_incidents{severity="high"}`:                                2,
		`fraudwatch_triage_open_incidents{severity="critical"}`:                            1,
		`fraudwatch_triage_alerts_total{outcome="stored"}`:                                 2,
		`fraudwatch_triage_alerts_total{outcome="silenced"}`:                               1,
		`fraudwatch_triage_alerts_total{outcome="duplicate"}`:                              1,
		`fraudwatch_triage_time_to_acknowledge_seconds_count`:                              1,
		`fraudwatch_triage_time_to_acknowledge_seconds_sum`:                                90,
		`fraudwatch_triage_time_to_acknowledge_seconds_bucket{le="60"}`:                    0,
		`fraudwatch_triage_time_to_acknowledge_seconds_bucket{le="300"}`:                   1,
		`fraudwatch_triage_time_to_resolve_seconds_count`:                                  2,
		`fraudwatch_triage_time_to_resolve_seconds_bucket{le="900"}`:                       1,
		`fraudwatch_triage_time_to_resolve_seconds_bucket{le="7200"}`:                      2,
		`fraudwatch_triage_time_to_resolve_seconds_bucket{le="604800"}`:                    2,
		`fraudwatch_triage_verdicts_total{rule="scam.credential_request",verdict="fraud"}`: 3,
		`fraudwatch_triage_verdicts_total{rule="spam.unknown_link",verdict="fraud"}`:       1,
		`fraudwatch_triage_verdicts_total{rule="spam.unknown_link",verdict="legit"}`:       2,
		`fraudwatch_triage_notifications_total{reason="new"}`:                              2,
		`fraudwatch_triage_notifications_total{reason="repeat"}`:                           1,
		`fraudwatch_triage_consumer_lag`:                                                   7,
	}
	body := scrapeOK(t, srv.URL)
	for series, v := range want {
		if !strings.Contains(body, "\n"+series+" ") {
			t.Errorf("%s: missing from /metrics", series)
			continue
		}
		if got := metric(t, ctx, srv.URL, series); got != v {
			t.Errorf("%s = %v, want %v", series, got, v)
		}
	}
	if !hadDeadline {
		t.Error("the open-incident count was read without a deadline: a stuck store would hang the scrape")
	}
	if strings.Contains(body, `severity="none"`) {
		t.Error("open incidents are reported for severity none, which no incident has")
	}
}

// A store that cannot be read fails the scrape (Prometheus records the
// target as down) instead of reporting an empty queue.
func TestTriageMetricsFailTheScrapeRatherThanReportAnEmptyQueue(t *testing.T) {
	m := newTriageMetrics(func(context.Context) (map[models.Severity]int, error) {
		return nil, errors.New("redis: connection refused")
	}, func() (int64, bool) { return 0, false })
	srv := httptest.NewServer(m.httpHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatalf("scrape with an unreadable store: 200, want an error; body:\n%s", body)
	}
	if strings.Contains(string(body), `fraudwatch_triage_open_incidents{severity="critical"} 0`) {
		t.Fatal("an unreadable store reads as zero open critical incidents")
	}
}

// scrapeOK returns the body of a successful GET, led by a newline so that
// every series can be matched at a line start.
func scrapeOK(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", url, resp.StatusCode, body)
	}
	return "\n" + string(body)
}
