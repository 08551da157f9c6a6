package main

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"fraudwatch/detector"
	"fraudwatch/detector/ingest"
	"fraudwatch/detector/kafkaio"
	"fraudwatch/models"
)

// This file is the only one that imports the Prometheus client. Each
// command builds its own registry (no global state), so tests can run
// several commands in one process.

// runMetrics are the series of `fraudwatch run`.
type runMetrics struct {
	reg         *prometheus.Registry
	events      *prometheus.CounterVec
	alerts      *prometheus.CounterVec
	deadLetters prometheus.Counter
	batch       prometheus.Histogram
	redisErrors prometheus.Counter
	kafkaErrors *prometheus.CounterVec
	shadowHits  *prometheus.CounterVec
	retries     prometheus.Counter
	abandoned   prometheus.Counter
}

func newRunMetrics(lag func() (int64, bool)) *runMetrics {
	m := &runMetrics{
		reg: prometheus.NewRegistry(),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fraudwatch_events_total",
			Help: "Inbound records committed, by outcome (alert, scored, dead_letter).",
		}, []string{"outcome"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fraudwatch_alerts_total",
			Help: "Alerts made, by main category (the alert's first) and severity. Counted when the batch is handled; a redelivered batch counts again.",
		}, []string{"category", "severity"}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fraudwatch_dead_letters_total",
			Help: "Records written to the dead-letter topic (committed).",
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "fraudwatch_batch_duration_seconds",
			Help:    "Time from fetching a batch to committing it, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14), // 5ms … 41s
		}),
		redisErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fraudwatch_redis_errors_total",
			Help: "Failed attempts at handling a batch: the handler fails only when the reputation store (Redis) does.",
		}),
		kafkaErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fraudwatch_kafka_errors_total",
			Help: "Failed Kafka operations, by stage (fetch, dead_letters, alerts, commit). Each is retried.",
		}, []string{"stage"}),
		shadowHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fraudwatch_shadow_rule_hits_total",
			Help: "Events on which a shadow rule fired, by rule id (shadow rules never count towards the score).",
		}, []string{"rule"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fraudwatch_batch_retries_total",
			Help: "Retries of a failed batch.",
		}),
		abandoned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fraudwatch_batches_abandoned_total",
			Help: "Batches left uncommitted at shutdown (redelivered later).",
		}),
	}
	lagGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "fraudwatch_consumer_lag",
		Help: "Records behind the end of the partition fetched last, as kafka-go measures it (0 while not consuming).",
	}, func() float64 {
		if lag == nil {
			return 0
		}
		n, _ := lag()
		return float64(n)
	})
	// Every label value known in advance starts at 0, so a dashboard
	// sees the series before the first failure.
	for _, o := range []detector.Outcome{detector.OutcomeAlert, detector.OutcomeScored, detector.OutcomeDeadLetter} {
		m.events.WithLabelValues(string(o))
	}
	for _, s := range []string{kafkaio.StageFetch, kafkaio.StageDeadLetters, kafkaio.StageAlerts, kafkaio.StageCommit} {
		m.kafkaErrors.WithLabelValues(s)
	}
	m.reg.MustRegister(m.events, m.alerts, m.deadLetters, m.batch, m.redisErrors, m.kafkaErrors,
		m.shadowHits, m.retries, m.abandoned, lagGauge,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observer feeds the consumer's events into the series.
func (m *runMetrics) observer() kafkaio.Observer {
	return kafkaio.Observer{
		BatchCommitted: func(_ int, took time.Duration) { m.batch.Observe(took.Seconds()) },
		Outcomes: func(o detector.Outcome, n int) {
			m.events.WithLabelValues(string(o)).Add(float64(n))
			if o == detector.OutcomeDeadLetter {
				m.deadLetters.Add(float64(n))
			}
		},
		Error: func(stage string, _ error) {
			if stage == kafkaio.StageHandle {
				m.redisErrors.Inc()
				return
			}
			m.kafkaErrors.WithLabelValues(stage).Inc()
		},
		Retry:     func(int, time.Duration) { m.retries.Inc() },
		Abandoned: func(int) { m.abandoned.Inc() },
	}
}

// handler counts the alerts and shadow-rule hits of each handled batch.
func (m *runMetrics) handler(h detector.BatchHandler) detector.BatchHandler {
	return detector.BatchHandlerFunc(func(ctx context.Context, recs []detector.Record) (detector.Result, error) {
		res, err := h.HandleBatch(ctx, recs)
		if err != nil {
			return res, err
		}
		for _, a := range res.Alerts {
			cat := "none"
			if len(a.Categories) > 0 {
				cat = string(a.Categories[0])
			}
			m.alerts.WithLabelValues(cat, a.Severity.String()).Inc()
		}
		for _, v := range res.Verdicts {
			for _, r := range shadowRules(v) {
				m.shadowHits.WithLabelValues(r).Inc()
			}
		}
		return res, nil
	})
}

// shadowRules lists each shadow rule that fired for v once.
func shadowRules(v models.Verdict) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range v.Reasons {
		if r.Shadow && !seen[r.Rule] {
			seen[r.Rule] = true
			out = append(out, r.Rule)
		}
	}
	return out
}

// httpHandler serves the registry in the Prometheus text format.
func (m *runMetrics) httpHandler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ingestMetrics are the series of `fraudwatch ingest`.
type ingestMetrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	events   prometheus.Counter
	unmapped prometheus.Counter
}

func newIngestMetrics() *ingestMetrics {
	m := &ingestMetrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fraudwatch_ingest_requests_total",
			Help: "Webhook requests, by result (accepted, ignored, verified, bad_verify, missing_signature, bad_signature, too_large, bad_payload, bad_request, write_failed).",
		}, []string{"result"}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fraudwatch_ingest_events_total",
			Help: "Events written to the inbound topic and acknowledged.",
		}),
		unmapped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fraudwatch_ingest_unmapped_events_total",
			Help: "Events to a business number without an employee in the map (written with an unmapped: id).",
		}),
	}
	for _, r := range []ingest.Result{ingest.ResultAccepted, ingest.ResultIgnored, ingest.ResultVerified, ingest.ResultBadVerify,
		ingest.ResultMissingSignature, ingest.ResultBadSignature, ingest.ResultTooLarge, ingest.ResultBadPayload,
		ingest.ResultBadRequest, ingest.ResultWriteFailed} {
		m.requests.WithLabelValues(string(r))
	}
	m.reg.MustRegister(m.requests, m.events, m.unmapped,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *ingestMetrics) observer() ingest.Observer {
	return ingest.Observer{
		Request:  func(r ingest.Result) { m.requests.WithLabelValues(string(r)).Inc() },
		Events:   func(n int) { m.events.Add(float64(n)) },
		Unmapped: func(n int) { m.unmapped.Add(float64(n)) },
	}
}

func (m *ingestMetrics) httpHandler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// withMetrics serves metrics at GET /metrics and everything else from h.
func withMetrics(h, metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	mux.Handle("/", h)
	return mux
}
