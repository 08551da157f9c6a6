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
	"fraudwatch/detector/triage"
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

// triageMetrics are the series of `fraudwatch triage`: the SOC's backlog
// and how fast it is worked.
type triageMetrics struct {
	reg           *prometheus.Registry
	alerts        *prometheus.CounterVec
	acknowledge   prometheus.Histogram
	resolve       prometheus.Histogram
	verdicts      *prometheus.CounterVec
	notifications *prometheus.CounterVec
}

// socBuckets run from a minute to a week: SOC response times.
var socBuckets = []float64{60, 300, 900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600}

// newTriageMetrics builds the registry; open counts the open incidents
// by severity at scrape time, lag is the alerts consumer's lag.
func newTriageMetrics(open func(context.Context) (map[models.Severity]int, error), lag func() (int64, bool)) *triageMetrics {
	m := &triageMetrics{
		reg: prometheus.NewRegistry(),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fraudwatch_triage_alerts_total",
			Help: "Alerts read from the alerts topic, by outcome (stored, silenced: stored but not raised, duplicate: a redelivery).",
		}, []string{"outcome"}),
		acknowledge: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "fraudwatch_triage_time_to_acknowledge_seconds",
			Help:    "Time from an incident's creation to its acknowledgement.",
			Buckets: socBuckets,
		}),
		resolve: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "fraudwatch_triage_time_to_resolve_seconds",
			Help:    "Time from an incident's creation to its verdict.",
			Buckets: socBuckets,
		}),
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fraudwatch_triage_verdicts_total",
			Help: "Alerts given a verdict, by rule that fired on them and verdict (fraud, legit, unsure): the live precision of each rule.",
		}, []string{"rule", "verdict"}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fraudwatch_triage_notifications_total",
			Help: "Incidents raised, by reason (new, update, repeat).",
		}, []string{"reason"}),
	}
	for _, o := range []string{"stored", "silenced", "duplicate"} {
		m.alerts.WithLabelValues(o)
	}
	lagGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "fraudwatch_triage_consumer_lag",
		Help: "Alerts behind the end of the partition fetched last (0 while not consuming).",
	}, func() float64 {
		n, _ := lag()
		return float64(n)
	})
	m.reg.MustRegister(m.alerts, m.acknowledge, m.resolve, m.verdicts, m.notifications, lagGauge,
		&openIncidentsCollector{open: open},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observer feeds triage's measurements into the series.
func (m *triageMetrics) observer() triage.Observer {
	return triage.Observer{
		AlertStored: func(silenced, duplicate bool) {
			switch {
			case duplicate:
				m.alerts.WithLabelValues("duplicate").Inc()
			case silenced:
				m.alerts.WithLabelValues("silenced").Inc()
			default:
				m.alerts.WithLabelValues("stored").Inc()
			}
		},
		Acknowledged: func(after time.Duration) { m.acknowledge.Observe(after.Seconds()) },
		Resolved: func(after time.Duration, verdict string, rules map[string]int) {
			m.resolve.Observe(after.Seconds())
			for rule, n := range rules {
				m.verdicts.WithLabelValues(rule, verdict).Add(float64(n))
			}
		},
		Notified: func(reason string) { m.notifications.WithLabelValues(reason).Inc() },
	}
}

func (m *triageMetrics) httpHandler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// openIncidentsCollector reads the open incidents from the store at
// scrape time, so that every triage instance reports the same backlog.
type openIncidentsCollector struct {
	open func(context.Context) (map[models.Severity]int, error)
}

var openIncidentsDesc = prometheus.NewDesc("fraudwatch_triage_open_incidents",
	"Incidents in the queue not yet resolved (open or acknowledged; covered and fully silenced ones excluded), by severity.",
	[]string{"severity"}, nil)

func (c *openIncidentsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- openIncidentsDesc }

func (c *openIncidentsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.open(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(openIncidentsDesc, err)
		return
	}
	for s := models.SeverityLow; s <= models.SeverityCritical; s++ {
		ch <- prometheus.MustNewConstMetric(openIncidentsDesc, prometheus.GaugeValue, float64(counts[s]), s.String())
	}
}
