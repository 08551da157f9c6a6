package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"fraudwatch/detector"
	"fraudwatch/models"
)

// Config is the whole configuration of `fraudwatch run`: a YAML file
// decoded strictly (unknown keys are errors), then environment variables
// (the `env` tags) override single values. Secrets belong in the
// environment, not in the file.
type Config struct {
	Kafka    KafkaConfig    `yaml:"kafka"`
	Redis    RedisConfig    `yaml:"redis"`
	Detector DetectorConfig `yaml:"detector"`
	HMAC     HMACConfig     `yaml:"hmac"`
	HTTP     HTTPConfig     `yaml:"http"`
	Log      LogConfig      `yaml:"log"`
	Ingest   IngestConfig   `yaml:"ingest"` // `fraudwatch ingest` only; see ingest.go
	Reload   ReloadConfig   `yaml:"reload"` // rule, lexicon and model reloads in `run`; see reload.go
	Triage   TriageConfig   `yaml:"triage"` // `fraudwatch triage` only; see triage.go
}

// KafkaConfig names the brokers, topics and consumer group.
type KafkaConfig struct {
	Brokers       []string        `yaml:"brokers" env:"FRAUDWATCH_KAFKA_BROKERS" doc:"bootstrap brokers, host:port (env: comma-separated)"`
	GroupID       string          `yaml:"group_id" env:"FRAUDWATCH_KAFKA_GROUP_ID" doc:"consumer group; instances in one group share the partitions"`
	InboundTopic  string          `yaml:"inbound_topic" env:"FRAUDWATCH_INBOUND_TOPIC" doc:"topic of inbound events"`
	AlertsTopic   string          `yaml:"alerts_topic" env:"FRAUDWATCH_ALERTS_TOPIC" doc:"topic alerts are written to (keyed by employee)"`
	DLQTopic      string          `yaml:"dlq_topic" env:"FRAUDWATCH_DLQ_TOPIC" doc:"dead-letter topic for events that cannot be interpreted"`
	FeedbackTopic string          `yaml:"feedback_topic" env:"FRAUDWATCH_FEEDBACK_TOPIC" doc:"topic of SOC verdicts on alerts that run applies to reputation (empty: off)"`
	BatchSize     int             `yaml:"batch_size" env:"FRAUDWATCH_BATCH_SIZE" doc:"most events per batch"`
	BatchWait     time.Duration   `yaml:"batch_wait" env:"FRAUDWATCH_BATCH_WAIT" doc:"longest wait for a batch to fill after its first event"`
	ShutdownGrace time.Duration   `yaml:"shutdown_grace" env:"FRAUDWATCH_SHUTDOWN_GRACE" doc:"time the batch in flight gets to finish on SIGTERM; after it, it is left uncommitted and redelivered"`
	SASL          KafkaSASLConfig `yaml:"sasl"` // see security.go
	TLS           KafkaTLSConfig  `yaml:"tls"`
}

// RedisConfig locates the reputation store.
type RedisConfig struct {
	Addrs       []string       `yaml:"addrs" env:"FRAUDWATCH_REDIS_ADDRS" doc:"host:port; several addresses mean Redis Cluster (env: comma-separated)"`
	Cluster     bool           `yaml:"cluster" env:"FRAUDWATCH_REDIS_CLUSTER" doc:"Redis Cluster even with one address (a cluster's configuration endpoint)"`
	Username    string         `yaml:"username" env:"FRAUDWATCH_REDIS_USERNAME" doc:"ACL user"`
	Password    string         `yaml:"password" env:"FRAUDWATCH_REDIS_PASSWORD" doc:"password (prefer the env var)" secret:"true"`
	DB          int            `yaml:"db" env:"FRAUDWATCH_REDIS_DB" doc:"database number (single node only)"`
	Prefix      string         `yaml:"prefix" env:"FRAUDWATCH_REDIS_PREFIX" doc:"prefix of every key"`
	IDRetention time.Duration  `yaml:"id_retention" env:"FRAUDWATCH_REDIS_ID_RETENTION" doc:"how long an event id is remembered for idempotency; at least the inbound topic's retention"`
	TLS         RedisTLSConfig `yaml:"tls"` // see security.go
}

// DetectorConfig holds the scoring settings.
type DetectorConfig struct {
	MinSeverity     string        `yaml:"min_severity" env:"FRAUDWATCH_MIN_SEVERITY" doc:"lowest severity that makes an alert: low, medium, high, critical"`
	DefaultRegion   string        `yaml:"default_region" env:"FRAUDWATCH_DEFAULT_REGION" doc:"region for national phone numbers (ISO 3166, e.g. RU)"`
	OfficialLines   []string      `yaml:"official_lines" env:"FRAUDWATCH_OFFICIAL_LINES" doc:"the bank's official verification lines, named in every alert (required; env: comma-separated)"`
	OfficialDomains []string      `yaml:"official_domains" env:"FRAUDWATCH_OFFICIAL_DOMAINS" doc:"the bank's own web domains (env: comma-separated)"`
	Directory       string        `yaml:"directory" env:"FRAUDWATCH_DIRECTORY" doc:"YAML directory of official lines, staff and consented customers (empty: official lines only)"`
	Rules           string        `yaml:"rules" env:"FRAUDWATCH_RULES" doc:"rule file (empty: the built-in rules)"`
	Lexicons        string        `yaml:"lexicons" env:"FRAUDWATCH_LEXICONS" doc:"lexicon file (empty: the built-in lexicons)"`
	StaleAfter      time.Duration `yaml:"stale_after" env:"FRAUDWATCH_STALE_AFTER" doc:"event age after which an alert goes to the SOC only, marked stale and not for the employee"`
	ShortCall       time.Duration `yaml:"short_call" env:"FRAUDWATCH_SHORT_CALL" doc:"longest answered call counted, with missed calls, as a short call for call patterns"`
	AllowFor        time.Duration `yaml:"allow_for" env:"FRAUDWATCH_ALLOW_FOR" doc:"how long a SOC legit verdict allowlists the sender"`
	Model           string        `yaml:"model" env:"FRAUDWATCH_MODEL" doc:"text model file written by fraudwatch train (empty: the built-in model)"`
}

// HMACConfig keys the hash that replaces phone numbers in Redis keys.
type HMACConfig struct {
	KeyVersion string `yaml:"key_version" env:"FRAUDWATCH_HMAC_KEY_VERSION" doc:"label of the key, part of every hash; change it with the secret to rotate"`
	Secret     string `yaml:"secret" env:"FRAUDWATCH_HMAC_SECRET" doc:"at least 16 bytes (required; prefer the env var)" secret:"true"`
}

// HTTPConfig is the health endpoint listener.
type HTTPConfig struct {
	Addr string `yaml:"addr" env:"FRAUDWATCH_HTTP_ADDR" doc:"listen address of /healthz, /readyz and /metrics (empty: off)"`
}

// LogConfig sets the structured log.
type LogConfig struct {
	Level  string `yaml:"level" env:"FRAUDWATCH_LOG_LEVEL" doc:"debug, info, warn or error (message bodies appear only at debug)"`
	Format string `yaml:"format" env:"FRAUDWATCH_LOG_FORMAT" doc:"json or text"`
}

// DefaultConfig returns the defaults every field starts from.
func DefaultConfig() Config {
	return Config{
		Kafka: KafkaConfig{
			Brokers:       []string{"localhost:9092"},
			GroupID:       "fraudwatch",
			InboundTopic:  "whatsapp.inbound",
			AlertsTopic:   "fraud.alerts",
			DLQTopic:      "whatsapp.inbound.dlq",
			FeedbackTopic: "fraud.feedback",
			BatchSize:     500,
			BatchWait:     5 * time.Millisecond,
			ShutdownGrace: 10 * time.Second,
		},
		Redis: RedisConfig{
			Addrs:       []string{"localhost:6379"},
			Prefix:      "fw:",
			IDRetention: 7 * 24 * time.Hour,
		},
		Detector: DetectorConfig{MinSeverity: "medium", DefaultRegion: "RU", StaleAfter: 15 * time.Minute, ShortCall: 10 * time.Second, AllowFor: 30 * 24 * time.Hour},
		HMAC:     HMACConfig{KeyVersion: "v1"},
		HTTP:     HTTPConfig{Addr: ":8080"},
		Log:      LogConfig{Level: "info", Format: "json"},
		Ingest:   defaultIngestConfig(),
		Reload:   defaultReloadConfig(),
		Triage:   defaultTriageConfig(),
	}
}

// LoadConfig reads path (may be "" for defaults only), then applies the
// environment, then validates everything `run` needs.
func LoadConfig(path string, env func(string) (string, bool)) (Config, error) {
	return loadConfigFor(path, env, func(c Config) error { return c.Validate() })
}

// loadConfigFor reads path and the environment, then checks what one
// command needs with validate; errors name the file.
func loadConfigFor(path string, env func(string) (string, bool), validate func(Config) error) (Config, error) {
	cfg, err := readConfig(path, env)
	if err != nil {
		return Config{}, err
	}
	if err := validate(cfg); err != nil {
		src := "config"
		if path != "" {
			src = "config " + path
		}
		return Config{}, fmt.Errorf("%s: %w", src, err)
	}
	return cfg, nil
}

// readConfig is LoadConfig without the final validation, for offline
// tools that need only part of the configuration; the parts they use are
// checked where they are used.
func readConfig(path string, env func(string) (string, bool)) (Config, error) {
	cfg := DefaultConfig()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("reading config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) { // an empty file means defaults
			return Config{}, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := applyEnv(reflect.ValueOf(&cfg).Elem(), env); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate checks what `run` cannot start without.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Kafka.Brokers) == 0 {
		errs = append(errs, errors.New("kafka.brokers: none (env FRAUDWATCH_KAFKA_BROKERS)"))
	}
	for name, v := range map[string]string{"kafka.group_id": c.Kafka.GroupID, "kafka.inbound_topic": c.Kafka.InboundTopic, "kafka.alerts_topic": c.Kafka.AlertsTopic, "kafka.dlq_topic": c.Kafka.DLQTopic} {
		if strings.TrimSpace(v) == "" {
			errs = append(errs, fmt.Errorf("%s: empty", name))
		}
	}
	if c.Kafka.BatchSize < 1 || c.Kafka.BatchSize > 10000 {
		errs = append(errs, fmt.Errorf("kafka.batch_size: %d, want 1–10000", c.Kafka.BatchSize))
	}
	if c.Kafka.BatchWait < 0 || c.Kafka.ShutdownGrace <= 0 {
		errs = append(errs, errors.New("kafka.batch_wait must be ≥ 0 and kafka.shutdown_grace > 0"))
	}
	if len(c.Redis.Addrs) == 0 {
		errs = append(errs, errors.New("redis.addrs: none (env FRAUDWATCH_REDIS_ADDRS)"))
	}
	if c.Redis.IDRetention < time.Hour {
		errs = append(errs, fmt.Errorf("redis.id_retention: %v, want at least 1h (and at least the inbound topic's retention)", c.Redis.IDRetention))
	}
	if _, err := models.ParseSeverity(c.Detector.MinSeverity); err != nil || c.Detector.MinSeverity == "none" {
		errs = append(errs, fmt.Errorf("detector.min_severity: %q, want low, medium, high or critical", c.Detector.MinSeverity))
	}
	if c.Detector.StaleAfter <= 0 || c.Detector.ShortCall < 0 {
		errs = append(errs, fmt.Errorf("detector.stale_after %v must be positive and detector.short_call %v not negative", c.Detector.StaleAfter, c.Detector.ShortCall))
	}
	if err := (detector.FeedbackConfig{AllowFor: c.Detector.AllowFor}).Validate(); err != nil || c.Detector.AllowFor == 0 {
		errs = append(errs, fmt.Errorf("detector.allow_for: %v, want more than 0 and at most a year", c.Detector.AllowFor))
	}
	if t := c.Kafka.FeedbackTopic; t != "" && (t == c.Kafka.InboundTopic || t == c.Kafka.AlertsTopic || t == c.Kafka.DLQTopic) {
		errs = append(errs, fmt.Errorf("kafka.feedback_topic %q is also the inbound, alerts or dead-letter topic", t))
	}
	if len(c.Detector.OfficialLines) == 0 {
		errs = append(errs, errors.New("detector.official_lines: none; alerts must name the bank's official verification line (env FRAUDWATCH_OFFICIAL_LINES)"))
	}
	if _, err := detector.NewSenderHasher(c.HMAC.KeyVersion, []byte(c.HMAC.Secret)); err != nil {
		errs = append(errs, fmt.Errorf("hmac: %w", err))
	}
	errs = append(errs, c.validateConnections()...)
	if err := c.Reload.Validate(); err != nil {
		errs = append(errs, err)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q, want debug, info, warn or error", c.Log.Level))
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		errs = append(errs, fmt.Errorf("log.format: %q, want json or text", c.Log.Format))
	}
	return errors.Join(errs...)
}

// applyEnv sets every field with an `env` tag whose variable is set.
func applyEnv(v reflect.Value, env func(string) (string, bool)) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f, fv := t.Field(i), v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
			if err := applyEnv(fv, env); err != nil {
				return err
			}
			continue
		}
		name := f.Tag.Get("env")
		if name == "" {
			continue
		}
		s, ok := env(name)
		if !ok {
			continue
		}
		if err := setFromString(fv, s); err != nil {
			return fmt.Errorf("environment %s=%q: %w", name, redactIf(f, s), err)
		}
	}
	return nil
}

func redactIf(f reflect.StructField, s string) string {
	if f.Tag.Get("secret") == "true" {
		return "<redacted>"
	}
	return s
}

func setFromString(v reflect.Value, s string) error {
	switch {
	case v.Type() == reflect.TypeOf(time.Duration(0)):
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("want a duration such as 50ms or 7h: %w", err)
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("want true or false")
		}
		v.SetBool(b)
	case v.Kind() == reflect.Int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("want an integer")
		}
		v.SetInt(int64(n))
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		var items []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				items = append(items, p)
			}
		}
		v.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("unsupported field type %s", v.Type())
	}
	return nil
}

// EnvVars lists every environment variable the config reads, with its
// YAML path and documentation, in struct order: the README's reference is
// tested against it.
func EnvVars() []EnvVar {
	var out []EnvVar
	collectEnv(reflect.TypeOf(Config{}), "", &out)
	return out
}

// EnvVar documents one environment override.
type EnvVar struct {
	Name, Path, Doc string
	Secret          bool
}

func collectEnv(t reflect.Type, prefix string, out *[]EnvVar) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := f.Tag.Get("yaml")
		if name == "-" { // an env-only field: named after the file setting it adds to
			name = f.Tag.Get("envpath")
		}
		path := prefix + name
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
			collectEnv(f.Type, path+".", out)
			continue
		}
		if name := f.Tag.Get("env"); name != "" {
			*out = append(*out, EnvVar{Name: name, Path: path, Doc: f.Tag.Get("doc"), Secret: f.Tag.Get("secret") == "true"})
		}
	}
}
