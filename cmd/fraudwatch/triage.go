package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"fraudwatch/detector"
	"fraudwatch/detector/kafkaio"
	"fraudwatch/detector/triage"
	"fraudwatch/detector/triage/httpapi"
	"fraudwatch/features/redisrep"
	"fraudwatch/models"
)

// TriageConfig configures `fraudwatch triage`, the SOC's incident service
// and console. It shares the kafka, redis and log sections with `run`:
// it reads kafka.alerts_topic and writes verdicts to kafka.feedback_topic.
type TriageConfig struct {
	Addr               string          `yaml:"addr" env:"FRAUDWATCH_TRIAGE_ADDR" doc:"listen address of the console, /api, /healthz, /readyz and /metrics (keep it on an internal interface)"`
	NotifyTopic        string          `yaml:"notify_topic" env:"FRAUDWATCH_TRIAGE_NOTIFY_TOPIC" doc:"topic raised incidents are written to, for a chat or pager integration (empty: log lines only)"`
	GroupID            string          `yaml:"group_id" env:"FRAUDWATCH_TRIAGE_GROUP_ID" doc:"consumer group of the alerts topic (empty: kafka.group_id + \"-triage\")"`
	Prefix             string          `yaml:"prefix" env:"FRAUDWATCH_TRIAGE_PREFIX" doc:"prefix of triage's Redis keys (all in one cluster slot)"`
	Retention          time.Duration   `yaml:"retention" env:"FRAUDWATCH_TRIAGE_RETENTION" doc:"how long incidents, alerts, counters and the audit log are kept after their last change (the alerts topic stays the durable log)"`
	GroupWait          time.Duration   `yaml:"group_wait" env:"FRAUDWATCH_TRIAGE_GROUP_WAIT" doc:"how long a new incident collects alerts before it is first raised"`
	GroupInterval      time.Duration   `yaml:"group_interval" env:"FRAUDWATCH_TRIAGE_GROUP_INTERVAL" doc:"least time between raises of an incident for new alerts"`
	RepeatInterval     time.Duration   `yaml:"repeat_interval" env:"FRAUDWATCH_TRIAGE_REPEAT_INTERVAL" doc:"an open, unacknowledged incident is raised again after this"`
	Window             time.Duration   `yaml:"window" env:"FRAUDWATCH_TRIAGE_WINDOW" doc:"an alert joins its group's unresolved incident when within this of its events; else it opens a new one"`
	SecondAnalystAfter int             `yaml:"second_analyst_after" env:"FRAUDWATCH_TRIAGE_SECOND_ANALYST_AFTER" doc:"a legit verdict on a sender with this many fraud verdicts needs a second analyst"`
	MinTrust           float64         `yaml:"min_trust"` // not in the environment: a policy, kept in the reviewed file
	Tokens             []httpapi.Token `yaml:"tokens"`
	TokensEnv          string          `yaml:"-" envpath:"tokens" env:"FRAUDWATCH_TRIAGE_TOKENS" doc:"API tokens as name:role:token, comma-separated; added to triage.tokens (prefer this to the file)" secret:"true"`
}

func defaultTriageConfig() TriageConfig {
	return TriageConfig{
		Addr:               "127.0.0.1:8090",
		Prefix:             redisrep.DefaultTriagePrefix,
		Retention:          redisrep.DefaultTriageRetention,
		GroupWait:          triage.DefaultGroupWait,
		GroupInterval:      triage.DefaultGroupInterval,
		RepeatInterval:     triage.DefaultRepeatInterval,
		Window:             triage.DefaultWindow,
		SecondAnalystAfter: triage.DefaultSecondAnalystAfter,
		MinTrust:           triage.DefaultMinTrust,
	}
}

// tokens returns the file's tokens and those of FRAUDWATCH_TRIAGE_TOKENS.
// Errors name the entry by position, never by value.
func (c TriageConfig) tokens() ([]httpapi.Token, error) {
	out := append([]httpapi.Token(nil), c.Tokens...)
	if strings.TrimSpace(c.TokensEnv) == "" {
		return out, nil
	}
	for i, entry := range strings.Split(c.TokensEnv, ",") {
		parts := strings.SplitN(strings.TrimSpace(entry), ":", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("FRAUDWATCH_TRIAGE_TOKENS entry %d: want name:role:token", i+1)
		}
		out = append(out, httpapi.Token{Name: parts[0], Role: triage.Role(parts[1]), Token: parts[2]})
	}
	return out, nil
}

// service returns the triage settings of c.
func (c TriageConfig) service(logger *slog.Logger, obs triage.Observer) triage.Config {
	return triage.Config{
		GroupWait: c.GroupWait, GroupInterval: c.GroupInterval, RepeatInterval: c.RepeatInterval, Window: c.Window,
		SecondAnalystAfter: c.SecondAnalystAfter, MinTrust: c.MinTrust, Logger: logger, Observer: obs,
	}
}

// validateTriageConfig checks the parts of the config `triage` uses.
// run's requirements (official lines, HMAC secret) do not apply.
func validateTriageConfig(cfg Config) error {
	var errs []error
	if len(cfg.Kafka.Brokers) == 0 {
		errs = append(errs, errors.New("kafka.brokers: none (env FRAUDWATCH_KAFKA_BROKERS)"))
	}
	for name, v := range map[string]string{"kafka.alerts_topic": cfg.Kafka.AlertsTopic, "kafka.feedback_topic": cfg.Kafka.FeedbackTopic, "kafka.dlq_topic": cfg.Kafka.DLQTopic, "triage.addr": cfg.Triage.Addr} {
		if strings.TrimSpace(v) == "" {
			errs = append(errs, fmt.Errorf("%s: empty; triage needs it", name))
		}
	}
	if len(cfg.Redis.Addrs) == 0 {
		errs = append(errs, errors.New("redis.addrs: none (env FRAUDWATCH_REDIS_ADDRS)"))
	}
	if err := (redisrep.TriageConfig{Prefix: cfg.Triage.Prefix, Retention: cfg.Triage.Retention}).Validate(); err != nil {
		errs = append(errs, fmt.Errorf("triage: %w", err))
	}
	tc := cfg.Triage.service(nil, triage.Observer{})
	if err := tc.Validate(); err != nil {
		errs = append(errs, err)
	}
	tokens, err := cfg.Triage.tokens()
	if err != nil {
		errs = append(errs, err)
	} else {
		api := httpapi.Config{Tokens: tokens}
		if err := api.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("triage.tokens: %w", err))
		}
	}
	errs = append(errs, cfg.validateConnections()...)
	return errors.Join(errs...)
}

func cmdTriage(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("triage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", os.Getenv("FRAUDWATCH_CONFIG"), "YAML config `FILE` (env FRAUDWATCH_CONFIG); environment variables override it")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: fraudwatch triage [--config FILE]\n\nThe SOC's incident service: consumes the alerts topic into incidents in Redis, serves the web\nconsole and the JSON API (bearer tokens, see the README), and writes verdicts to the feedback topic.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfigFor(*path, os.LookupEnv, validateTriageConfig)
	if err != nil {
		return err
	}
	logger := newLogger(cfg.Log, stderr)
	warnInsecure(cfg, logger)
	ln, err := net.Listen("tcp", cfg.Triage.Addr)
	if err != nil {
		return fmt.Errorf("triage.addr %s: %w", cfg.Triage.Addr, err)
	}
	return runTriage(ctx, cfg, ln, logger)
}

// runTriage runs the triage service on ln until ctx ends.
func runTriage(ctx context.Context, cfg Config, ln net.Listener, logger *slog.Logger) error {
	defer ln.Close()
	kconn, err := cfg.Kafka.connection("fraudwatch-triage")
	if err != nil {
		return err
	}
	store, err := dialTriageStore(ctx, cfg, logger)
	if err != nil || store == nil {
		return err
	}
	defer store.Close()
	feedback, err := kafkaio.NewFeedbackWriter(kafkaio.WriterConfig{Connection: kconn, Topic: cfg.Kafka.FeedbackTopic, Logger: logger})
	if err != nil {
		return err
	}
	defer feedback.Close()

	var consumer atomic.Pointer[kafkaio.Consumer]
	var tr *triage.Triage
	metrics := newTriageMetrics(func(ctx context.Context) (map[models.Severity]int, error) { return tr.OpenBySeverity(ctx) },
		func() (int64, bool) {
			if c := consumer.Load(); c != nil {
				return c.Lag()
			}
			return 0, false
		})
	tcfg := cfg.Triage.service(logger, metrics.observer())
	if topic := cfg.Triage.NotifyTopic; topic != "" {
		nw, err := kafkaio.NewNotificationWriter(kafkaio.WriterConfig{Connection: kconn, Topic: topic, Logger: logger})
		if err != nil {
			return err
		}
		defer nw.Close()
		tcfg.Notifier = nw
	}
	tr, err = triage.New(store, feedback, tcfg)
	if err != nil {
		return err
	}
	tokens, _ := cfg.Triage.tokens() // validated
	api, err := httpapi.New(tr, httpapi.Config{Tokens: tokens, Logger: logger})
	if err != nil {
		return err
	}
	group := cfg.Triage.GroupID
	if group == "" {
		group = cfg.Kafka.GroupID + "-triage"
	}
	c, err := kafkaio.New(kafkaio.Config{
		Connection:   kconn,
		GroupID:      group,
		InboundTopic: cfg.Kafka.AlertsTopic,
		// Triage makes no alerts; the sink refuses any, and no writer is
		// made for the placeholder topic.
		AlertsTopic:   "fraudwatch.triage.no-alerts",
		Alerts:        noAlerts{},
		DLQTopic:      cfg.Kafka.DLQTopic,
		BatchSize:     cfg.Kafka.BatchSize,
		BatchWait:     cfg.Kafka.BatchWait,
		ShutdownGrace: cfg.Kafka.ShutdownGrace,
		Logger:        logger.With("consumer", "triage"),
	}, triage.NewAlertHandler(tr))
	if err != nil {
		return err
	}
	defer c.Close()
	consumer.Store(c)

	health := healthMux(func() []readyCheck {
		return []readyCheck{func(context.Context) error { return c.Ready() }, store.Ping}
	})
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", health)
	mux.Handle("GET /readyz", health)
	mux.Handle("GET /metrics", metrics.httpHandler())
	mux.Handle("/", api.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("triage HTTP server stopped", "err", err)
		}
	}()
	defer func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(shutdownCtx)
		cancel()
	}()
	logger.Info("triage running", "addr", ln.Addr().String(), "alerts", cfg.Kafka.AlertsTopic,
		"feedback", cfg.Kafka.FeedbackTopic, "group", group, "tokens", len(tokens))

	flushDone := make(chan struct{})
	go func() {
		defer close(flushDone)
		_ = tr.Run(ctx)
	}()
	defer func() { <-flushDone }()
	if !waitForTopic(ctx, c, cfg.Kafka.AlertsTopic, "alerts reach triage", logger) {
		return nil
	}
	if err := c.Run(ctx); err != nil {
		return err
	}
	logger.Info("triage stopped")
	return nil
}

// dialTriageStore connects to Redis, waiting with backoff while it is
// unreachable. It returns nil, nil when ctx ends first.
func dialTriageStore(ctx context.Context, cfg Config, logger *slog.Logger) (*redisrep.TriageStore, error) {
	tlsCfg, err := cfg.Redis.tlsConfig()
	if err != nil {
		return nil, err
	}
	opts := redisrep.Options{Addrs: cfg.Redis.Addrs, Cluster: cfg.Redis.Cluster, Username: cfg.Redis.Username,
		Password: cfg.Redis.Password, DB: cfg.Redis.DB, TLS: tlsCfg}
	wait := 500 * time.Millisecond
	for {
		dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		st, err := redisrep.DialTriage(dialCtx, opts, redisrep.TriageConfig{Prefix: cfg.Triage.Prefix, Retention: cfg.Triage.Retention})
		cancel()
		if err == nil {
			return st, nil
		}
		if ctx.Err() != nil {
			return nil, nil
		}
		logger.Warn("Redis unreachable; retrying", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// noAlerts is the alert sink of triage's consumer, which makes none.
type noAlerts struct{}

var _ detector.AlertSink = noAlerts{}

func (noAlerts) WriteAlerts(_ context.Context, as []models.Alert) error {
	if len(as) > 0 {
		return fmt.Errorf("triage made %d alerts; it never should", len(as))
	}
	return nil
}
