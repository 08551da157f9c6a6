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
	s, err := settingsFromConfig(cfg, logger)
	if err != nil {
		return err
	}
	// Health endpoints come first, so that while Redis or Kafka is still
	// unreachable at start /readyz says why instead of refusing connections.
	var checks atomic.Pointer[[]readyCheck]
	checks.Store(&[]readyCheck{func(context.Context) error { return errors.New("starting: connecting to Redis") }})
	if cfg.HTTP.Addr != "" {
		ln, err := net.Listen("tcp", cfg.HTTP.Addr)
		if err != nil {
			return fmt.Errorf("http.addr %s: %w", cfg.HTTP.Addr, err)
		}
		srv := &http.Server{Handler: healthMux(func() []readyCheck { return *checks.Load() }), ReadHeaderTimeout: 5 * time.Second}
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
		logger.Info("health endpoints listening", "addr", ln.Addr().String())
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

	consumer, err := kafkaio.New(kafkaio.Config{
		Connection:    kafkaio.Connection{Brokers: cfg.Kafka.Brokers},
		GroupID:       cfg.Kafka.GroupID,
		InboundTopic:  cfg.Kafka.InboundTopic,
		AlertsTopic:   cfg.Kafka.AlertsTopic,
		DLQTopic:      cfg.Kafka.DLQTopic,
		BatchSize:     cfg.Kafka.BatchSize,
		BatchWait:     cfg.Kafka.BatchWait,
		ShutdownGrace: cfg.Kafka.ShutdownGrace,
		Logger:        logger,
	}, p.engine)
	if err != nil {
		return err
	}
	defer consumer.Close()
	checks.Store(&[]readyCheck{func(context.Context) error { return consumer.Ready() }, p.ping})

	logger.Info("fraudwatch running", "brokers", cfg.Kafka.Brokers, "group", cfg.Kafka.GroupID,
		"inbound", cfg.Kafka.InboundTopic, "alerts", cfg.Kafka.AlertsTopic, "dlq", cfg.Kafka.DLQTopic,
		"rules", p.engine.Rules().Version(), "min_severity", cfg.Detector.MinSeverity)
	if err := consumer.Run(ctx); err != nil {
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
