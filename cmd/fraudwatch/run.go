package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"fraudwatch/detector"
	"fraudwatch/detector/kafkaio"
)

func cmdRun(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", os.Getenv("FRAUDWATCH_CONFIG"), "YAML config `FILE` (env FRAUDWATCH_CONFIG); environment variables override it")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: fraudwatch run [--config FILE]\n\nConsumes the inbound topic, scores every event, writes alerts and dead letters, commits only after they are written.\nNeeds official lines and an HMAC secret (see the README's configuration reference).\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := LoadConfig(*path, os.LookupEnv)
	if err != nil {
		return err
	}
	logger := newLogger(cfg.Log, stderr)
	warnInsecure(cfg, logger)
	kconn, err := cfg.Kafka.connection("fraudwatch")
	if err != nil {
		return err
	}
	s, err := settingsFromConfig(cfg, logger)
	if err != nil {
		return err
	}
	// Health endpoints come first, so that while Redis or Kafka is still
	// unreachable at start /readyz says why instead of refusing connections.
	var checks atomic.Pointer[[]readyCheck]
	var running atomic.Pointer[kafkaio.Consumer] // for the lag gauge
	metrics := newRunMetrics(func() (int64, bool) {
		if c := running.Load(); c != nil {
			return c.Lag()
		}
		return 0, false
	})
	checks.Store(&[]readyCheck{func(context.Context) error { return errors.New("starting: connecting to Redis") }})
	if cfg.HTTP.Addr != "" {
		ln, err := net.Listen("tcp", cfg.HTTP.Addr)
		if err != nil {
			return fmt.Errorf("http.addr %s: %w", cfg.HTTP.Addr, err)
		}
		srv := &http.Server{Handler: withMetrics(healthMux(func() []readyCheck { return *checks.Load() }), metrics.httpHandler()), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("health endpoint stopped", "err", err)
			}
		}()
		defer func() {
			shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = srv.Shutdown(shutdownCtx)
			cancel()
		}()
		logger.Info("health and metrics endpoints listening", "addr", ln.Addr().String())
	}

	p, err := newPipelineWaitingForRedis(ctx, s, logger, func(err error) {
		checks.Store(&[]readyCheck{func(context.Context) error { return err }})
	})
	if err != nil {
		return err
	}
	if p == nil {
		return nil // stopped while waiting for Redis
	}
	defer p.Close()

	kcfg := kafkaio.Config{
		Connection:    kconn,
		GroupID:       cfg.Kafka.GroupID,
		InboundTopic:  cfg.Kafka.InboundTopic,
		AlertsTopic:   cfg.Kafka.AlertsTopic,
		DLQTopic:      cfg.Kafka.DLQTopic,
		BatchSize:     cfg.Kafka.BatchSize,
		BatchWait:     cfg.Kafka.BatchWait,
		ShutdownGrace: cfg.Kafka.ShutdownGrace,
		Logger:        logger,
		Observer:      metrics.observer(),
	}
	consumer, err := kafkaio.New(kcfg, metrics.handler(newShadowLog(p.engine, logger, time.Minute)))
	if err != nil {
		return err
	}
	defer consumer.Close()
	feedback, err := newFeedbackConsumer(cfg, kcfg, p, logger)
	if err != nil {
		return err
	}
	if feedback != nil {
		defer feedback.Close()
	}
	running.Store(consumer)
	checks.Store(&[]readyCheck{func(context.Context) error { return consumer.Ready() }, p.ping})

	logger.Info("fraudwatch running", "brokers", cfg.Kafka.Brokers, "group", cfg.Kafka.GroupID,
		"inbound", cfg.Kafka.InboundTopic, "alerts", cfg.Kafka.AlertsTopic, "dlq", cfg.Kafka.DLQTopic,
		"rules", p.engine.Rules().Version(), "min_severity", cfg.Detector.MinSeverity)
	runCtx, stopFeedback := context.WithCancel(ctx)
	defer stopFeedback()
	reloads := newReloader(p, s, cfg.Reload, logger)
	logger.Info("rules loaded", "rules_version", p.engine.Rules().Version(), "rules", len(p.engine.Rules().Rules()),
		"shadow_rules", shadowRuleIDs(p.engine.Rules()), "watching", len(reloads.files), "reload_interval", cfg.Reload.Interval)
	reloadDone := make(chan struct{})
	go func() {
		defer close(reloadDone)
		_ = reloads.Run(runCtx, reloadRequests(ctx))
	}()
	defer func() { stopFeedback(); <-reloadDone }()
	feedbackDone := make(chan struct{})
	if feedback != nil {
		go func() {
			defer close(feedbackDone)
			// Not a readiness check: detection does not need verdicts,
			// and a missing feedback topic must not take it out of
			// rotation. The reader starts once the topic exists (a group
			// reader on a missing topic only churns); the operator
			// learns of the wait here.
			if !waitForTopic(runCtx, feedback, cfg.Kafka.FeedbackTopic, "SOC verdicts are applied", logger) {
				return
			}
			if err := feedback.Run(runCtx); err != nil {
				logger.Error("feedback consumer stopped; SOC verdicts are not applied until restart", "topic", cfg.Kafka.FeedbackTopic, "err", err)
			}
		}()
	} else {
		close(feedbackDone)
	}
	err = consumer.Run(ctx)
	stopFeedback()
	<-feedbackDone
	if err != nil {
		return err
	}
	logger.Info("fraudwatch stopped")
	return nil
}

// newPipelineWaitingForRedis builds the pipeline, waiting with backoff
// while Redis is unreachable (it may start after fraudwatch). Any other
// error is returned at once. It returns nil, nil when ctx ends first.
func newPipelineWaitingForRedis(ctx context.Context, s settings, logger *slog.Logger, failed func(error)) (*pipeline, error) {
	wait := 500 * time.Millisecond
	for {
		p, err := newPipeline(ctx, s, true)
		var unavailable *redisUnavailableError
		if !errors.As(err, &unavailable) {
			return p, err
		}
		if ctx.Err() != nil {
			return nil, nil
		}
		failed(err)
		logger.Warn("Redis unreachable; retrying", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// readyCheck reports why the service cannot do its work, or nil.
type readyCheck func(context.Context) error

// healthMux serves /healthz (the process is alive) and /readyz (every
// current check passes: Kafka and Redis answer): load balancers and
// orchestrators route by readyz.
func healthMux(current func() []readyCheck) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		var problems []string
		for _, check := range current() {
			if err := check(ctx); err != nil {
				problems = append(problems, err.Error())
			}
		}
		if len(problems) > 0 {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "problems": problems})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func newLogger(cfg LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// newFeedbackConsumer builds the consumer of SOC verdicts, in its own
// group (every verdict is applied once, by one instance) and with the
// detector's dead-letter topic for records it cannot read. It returns nil
// when kafka.feedback_topic is empty.
func newFeedbackConsumer(cfg Config, detection kafkaio.Config, p *pipeline, logger *slog.Logger) (*kafkaio.Consumer, error) {
	if cfg.Kafka.FeedbackTopic == "" {
		return nil, nil
	}
	if p.feedback == nil {
		return nil, errors.New("feedback: the reputation store does not take verdicts")
	}
	h, err := detector.NewFeedbackHandler(p.feedback, detector.FeedbackConfig{AllowFor: cfg.Detector.AllowFor, Logger: logger})
	if err != nil {
		return nil, err
	}
	fc := detection
	fc.GroupID = detection.GroupID + "-feedback"
	fc.InboundTopic = cfg.Kafka.FeedbackTopic
	fc.Observer = kafkaio.Observer{}
	fc.Logger = logger.With("consumer", "feedback")
	return kafkaio.New(fc, h)
}

// waitForTopic polls c.Ready until its topic can be read, logging the
// first failure, and reports whether it can (false when ctx ended first).
// purpose says in the log what waits for the topic.
func waitForTopic(ctx context.Context, c *kafkaio.Consumer, topic, purpose string, logger *slog.Logger) bool {
	wait := time.Second
	for logged := false; ; {
		err := c.Ready()
		if err == nil {
			if logged {
				logger.Info("topic readable; "+purpose, "topic", topic)
			}
			return true
		}
		if !logged {
			logger.Warn("topic not readable yet; nothing is lost, but no "+purpose+" until it is", "topic", topic, "err", err)
			logged = true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}
