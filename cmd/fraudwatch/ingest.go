package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"fraudwatch/detector/ingest"
	"fraudwatch/detector/kafkaio"
)

// IngestConfig configures `fraudwatch ingest`, the WhatsApp Business
// Platform webhook. It shares the kafka and log sections with `run`.
type IngestConfig struct {
	Addr          string        `yaml:"addr" env:"FRAUDWATCH_INGEST_ADDR" doc:"listen address of /webhook, /healthz and /metrics"`
	VerifyToken   string        `yaml:"verify_token" env:"FRAUDWATCH_INGEST_VERIFY_TOKEN" doc:"token of the GET verification handshake, as entered at Meta (required; prefer the env var)" secret:"true"`
	AppSecret     string        `yaml:"app_secret" env:"FRAUDWATCH_INGEST_APP_SECRET" doc:"Meta app secret that signs every POST (required; prefer the env var)" secret:"true"`
	MaxBodyBytes  int           `yaml:"max_body_bytes" env:"FRAUDWATCH_INGEST_MAX_BODY_BYTES" doc:"largest POST body; larger ones get 413"`
	Employees     []string      `yaml:"employees" env:"FRAUDWATCH_INGEST_EMPLOYEES" doc:"business number → employee id, as NUMBER=EMPLOYEE (phone_number_id or display number; env: comma-separated)"`
	EmployeesFile string        `yaml:"employees_file" env:"FRAUDWATCH_INGEST_EMPLOYEES_FILE" doc:"YAML map of business number to employee id, merged with employees"`
	WriteTimeout  time.Duration `yaml:"write_timeout" env:"FRAUDWATCH_INGEST_WRITE_TIMEOUT" doc:"longest wait for the inbound topic to acknowledge one payload's events; then 503"`
}

func defaultIngestConfig() IngestConfig {
	return IngestConfig{
		Addr:         ":8081",
		MaxBodyBytes: ingest.DefaultMaxBodyBytes,
		WriteTimeout: ingest.DefaultWriteTimeout,
	}
}

// validate checks what `ingest` cannot start without, naming the
// environment variables to set.
func (c IngestConfig) validate() error {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("ingest.addr: empty (env FRAUDWATCH_INGEST_ADDR)"))
	}
	if c.VerifyToken == "" {
		errs = append(errs, errors.New("ingest.verify_token: none; set the token entered in Meta's webhook settings (env FRAUDWATCH_INGEST_VERIFY_TOKEN)"))
	}
	if c.AppSecret == "" {
		errs = append(errs, errors.New("ingest.app_secret: none; set the app secret from Meta's app dashboard (env FRAUDWATCH_INGEST_APP_SECRET)"))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("ingest.max_body_bytes: %d, want at least 1024", c.MaxBodyBytes))
	}
	if c.WriteTimeout <= 0 {
		errs = append(errs, fmt.Errorf("ingest.write_timeout: %v, want > 0", c.WriteTimeout))
	}
	return errors.Join(errs...)
}

// employeeMap merges the NUMBER=EMPLOYEE pairs and the map file.
func (c IngestConfig) employeeMap() (map[string]string, error) {
	m := map[string]string{}
	if c.EmployeesFile != "" {
		b, err := os.ReadFile(c.EmployeesFile)
		if err != nil {
			return nil, fmt.Errorf("ingest.employees_file: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&m); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("ingest.employees_file %s: want a map of business number to employee id: %w", c.EmployeesFile, err)
		}
	}
	for _, pair := range c.Employees {
		num, emp, ok := strings.Cut(pair, "=")
		if !ok || strings.TrimSpace(num) == "" || strings.TrimSpace(emp) == "" {
			return nil, fmt.Errorf("ingest.employees: %q, want NUMBER=EMPLOYEE", pair)
		}
		m[strings.TrimSpace(num)] = strings.TrimSpace(emp)
	}
	return m, nil
}

func cmdIngest(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", os.Getenv("FRAUDWATCH_CONFIG"), "YAML config `FILE` (env FRAUDWATCH_CONFIG); environment variables override it")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: fraudwatch ingest [--config FILE]\n\nServes the WhatsApp Business Platform webhook at /webhook: every inbound message (and call) becomes an event\non the inbound topic, acknowledged before Meta gets 200. Needs the verify token and the app secret\n(see the README's configuration reference).\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfigFor(*path, os.LookupEnv, validateIngestConfig)
	if err != nil {
		return err
	}
	employees, err := cfg.Ingest.employeeMap()
	if err != nil {
		return err
	}
	logger := newLogger(cfg.Log, stderr)
	// The same brokers, TLS and SASL as run.
	conn, err := cfg.Kafka.connection("fraudwatch-ingest")
	if err != nil {
		return err
	}

	producer, err := kafkaio.NewProducer(kafkaio.WriterConfig{
		Connection:   conn,
		Topic:        cfg.Kafka.InboundTopic,
		WriteTimeout: cfg.Ingest.WriteTimeout,
		Logger:       logger,
	})
	if err != nil {
		return err
	}
	defer producer.Close()
	metrics := newIngestMetrics()
	h, err := ingest.New(ingest.Config{
		VerifyToken:  cfg.Ingest.VerifyToken,
		AppSecret:    cfg.Ingest.AppSecret,
		MaxBodyBytes: int64(cfg.Ingest.MaxBodyBytes),
		Employees:    employees,
		WriteTimeout: cfg.Ingest.WriteTimeout,
		Logger:       logger,
		Observer:     metrics.observer(),
	}, producerWriter(producer))
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Ingest.Addr)
	if err != nil {
		return fmt.Errorf("ingest.addr %s: %w", cfg.Ingest.Addr, err)
	}
	srv := &http.Server{
		Handler:           ingestMux(h, metrics.httpHandler()),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.Ingest.WriteTimeout + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("ingest listening", "addr", ln.Addr().String(), "path", "/webhook", "brokers", cfg.Kafka.Brokers,
		"topic", cfg.Kafka.InboundTopic, "employees_mapped", len(employees), "max_body_bytes", cfg.Ingest.MaxBodyBytes)
	select {
	case err := <-served:
		return fmt.Errorf("ingest: serving: %w", err)
	case <-ctx.Done():
	}
	// Requests in flight finish their writes: Meta gets its answer, and
	// an unanswered request would only be delivered again.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.Ingest.WriteTimeout+5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Warn("ingest: shutdown incomplete", "err", err)
	}
	logger.Info("ingest stopped")
	return nil
}

// validateIngestConfig checks the parts of the config `ingest` uses: the
// Kafka brokers and inbound topic, the log settings and its own section.
// run's requirements (official lines, HMAC secret) do not apply.
func validateIngestConfig(cfg Config) error {
	var errs []error
	if len(cfg.Kafka.Brokers) == 0 {
		errs = append(errs, errors.New("kafka.brokers: none (env FRAUDWATCH_KAFKA_BROKERS)"))
	}
	if strings.TrimSpace(cfg.Kafka.InboundTopic) == "" {
		errs = append(errs, errors.New("kafka.inbound_topic: empty (env FRAUDWATCH_INBOUND_TOPIC)"))
	}
	switch cfg.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q, want debug, info, warn or error", cfg.Log.Level))
	}
	if cfg.Log.Format != "json" && cfg.Log.Format != "text" {
		errs = append(errs, fmt.Errorf("log.format: %q, want json or text", cfg.Log.Format))
	}
	errs = append(errs, cfg.Ingest.validate())
	return errors.Join(errs...)
}

// producerWriter writes through kafkaio's Producer (acks=all). The
// Producer keys each event by its "from" field, which is exactly the
// Record's Key, so one sender stays on one partition.
func producerWriter(p *kafkaio.Producer) ingest.Writer {
	return ingest.WriterFunc(func(ctx context.Context, recs []ingest.Record) error {
		values := make([][]byte, len(recs))
		for i, r := range recs {
			values[i] = r.Value
		}
		return p.Produce(ctx, values...)
	})
}

// ingestMux routes the webhook, liveness and metrics.
func ingestMux(webhook, metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/webhook", webhook)
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return mux
}
