package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"reflect"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"fraudwatch/detector/kafkaio"
)

// KafkaSASLConfig authenticates to Kafka. PLAIN sends the password as it
// is, so it belongs with TLS; SCRAM never sends it.
type KafkaSASLConfig struct {
	Mechanism string `yaml:"mechanism" env:"FRAUDWATCH_KAFKA_SASL_MECHANISM" doc:"PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (empty: no SASL)"`
	Username  string `yaml:"username" env:"FRAUDWATCH_KAFKA_SASL_USERNAME" doc:"SASL user"`
	Password  string `yaml:"password" env:"FRAUDWATCH_KAFKA_SASL_PASSWORD" doc:"SASL password (prefer the env var)" secret:"true"`
}

// KafkaTLSConfig encrypts the connections to Kafka. It has the fields of
// tlsSettings, with Kafka's env names.
type KafkaTLSConfig struct {
	Enabled    bool   `yaml:"enabled" env:"FRAUDWATCH_KAFKA_TLS" doc:"connect to the brokers with TLS"`
	CAFile     string `yaml:"ca_file" env:"FRAUDWATCH_KAFKA_TLS_CA_FILE" doc:"PEM file of the CA(s) that sign the brokers' certificates (empty: the system's roots)"`
	CertFile   string `yaml:"cert_file" env:"FRAUDWATCH_KAFKA_TLS_CERT_FILE" doc:"PEM client certificate, for brokers that require one (with key_file)"`
	KeyFile    string `yaml:"key_file" env:"FRAUDWATCH_KAFKA_TLS_KEY_FILE" doc:"PEM private key of the client certificate"`
	ServerName string `yaml:"server_name" env:"FRAUDWATCH_KAFKA_TLS_SERVER_NAME" doc:"name the brokers' certificates must carry (empty: the host of each address)"`
	// InsecureSkipVerify is read only to be refused with a clear reason.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// RedisTLSConfig encrypts the connections to Redis. It has the fields of
// tlsSettings, with Redis's env names.
type RedisTLSConfig struct {
	Enabled    bool   `yaml:"enabled" env:"FRAUDWATCH_REDIS_TLS" doc:"connect to Redis with TLS"`
	CAFile     string `yaml:"ca_file" env:"FRAUDWATCH_REDIS_TLS_CA_FILE" doc:"PEM file of the CA(s) that sign the Redis certificates (empty: the system's roots)"`
	CertFile   string `yaml:"cert_file" env:"FRAUDWATCH_REDIS_TLS_CERT_FILE" doc:"PEM client certificate, for tls-auth-clients yes (with key_file)"`
	KeyFile    string `yaml:"key_file" env:"FRAUDWATCH_REDIS_TLS_KEY_FILE" doc:"PEM private key of the client certificate"`
	ServerName string `yaml:"server_name" env:"FRAUDWATCH_REDIS_TLS_SERVER_NAME" doc:"name the Redis certificates must carry (empty: the host of each address)"`
	// InsecureSkipVerify is read only to be refused with a clear reason.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// tlsSettings is KafkaTLSConfig and RedisTLSConfig without their tags:
// both convert to it.
type tlsSettings struct {
	Enabled            bool
	CAFile             string
	CertFile           string
	KeyFile            string
	ServerName         string
	InsecureSkipVerify bool
}

// build returns the TLS client configuration, nil when TLS is off. It
// reads the files now, so that a wrong path or a bad PEM stops the start
// with the setting's name (field, e.g. "kafka.tls") instead of failing
// every connection later. Certificate verification cannot be turned off:
// a test CA goes into ca_file.
func (t tlsSettings) build(field string) (*tls.Config, error) {
	if !t.Enabled {
		if t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" || t.InsecureSkipVerify {
			return nil, fmt.Errorf("%s: files or a server name are set but %s.enabled is false: set it to true, or remove them", field, field)
		}
		return nil, nil
	}
	if t.InsecureSkipVerify {
		return nil, fmt.Errorf("%s.insecure_skip_verify: refused: it would accept any certificate, an attacker's included; put the CA that signs the server's certificate in %s.ca_file instead", field, field)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s.ca_file: %w", field, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s.ca_file %s: no PEM certificate in it", field, t.CAFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case t.CertFile != "" && t.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s.cert_file %s and key_file %s: %w", field, t.CertFile, t.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case t.CertFile != "" || t.KeyFile != "":
		return nil, fmt.Errorf("%s: cert_file and key_file go together: set both or neither", field)
	}
	return cfg, nil
}

// connection is how every Kafka client of the process connects: brokers,
// TLS and SASL from the config. clientID names the process in broker logs.
func (c KafkaConfig) connection(clientID string) (kafkaio.Connection, error) {
	tlsCfg, err := tlsSettings(c.TLS).build("kafka.tls")
	if err != nil {
		return kafkaio.Connection{}, err
	}
	conn := kafkaio.Connection{
		Brokers:       c.Brokers,
		TLS:           tlsCfg,
		SASLMechanism: c.SASL.Mechanism,
		SASLUsername:  c.SASL.Username,
		SASLPassword:  c.SASL.Password,
		ClientID:      clientID,
	}
	if c.SASL.Mechanism == "" && (c.SASL.Username != "" || c.SASL.Password != "") {
		return kafkaio.Connection{}, errors.New("kafka.sasl: a username or password is set without kafka.sasl.mechanism (env FRAUDWATCH_KAFKA_SASL_MECHANISM): set PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	}
	// Validate builds the SASL mechanism, which checks its name and the
	// credentials; its errors never hold the password.
	// (No brokers is reported by Config.Validate.)
	checked := conn
	if len(checked.Brokers) == 0 {
		checked.Brokers = []string{"unset:0"}
	}
	if err := checked.Validate(); err != nil {
		return kafkaio.Connection{}, fmt.Errorf("kafka: %w", err)
	}
	return conn, nil
}

// tlsConfig is the TLS client configuration for Redis, nil when off.
func (c RedisConfig) tlsConfig() (*tls.Config, error) {
	return tlsSettings(c.TLS).build("redis.tls")
}

// validateConnections reports the Kafka and Redis connection settings
// that cannot work (security and cluster); it is part of Config.Validate.
func (c *Config) validateConnections() []error {
	var errs []error
	if _, err := c.Kafka.connection("fraudwatch"); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.Redis.tlsConfig(); err != nil {
		errs = append(errs, err)
	}
	if c.Redis.Password == "" && c.Redis.Username != "" {
		errs = append(errs, errors.New("redis.username is set without redis.password (env FRAUDWATCH_REDIS_PASSWORD)"))
	}
	if (c.Redis.Cluster || len(c.Redis.Addrs) > 1) && c.Redis.DB != 0 {
		errs = append(errs, fmt.Errorf("redis.db: %d with a Redis Cluster (several addresses or redis.cluster), which has only DB 0", c.Redis.DB))
	}
	return errs
}

// warnInsecure logs, once at start, the settings that work but send a
// secret in the clear over a network: a Kafka SASL PLAIN password or a
// Redis password without TLS, to an address that is not loopback.
func warnInsecure(cfg Config, logger *slog.Logger) {
	if strings.EqualFold(cfg.Kafka.SASL.Mechanism, "PLAIN") && !cfg.Kafka.TLS.Enabled && !allLoopback(cfg.Kafka.Brokers) {
		logger.Warn("kafka.sasl PLAIN without kafka.tls sends the Kafka password unencrypted: enable kafka.tls or use SCRAM-SHA-512")
	}
	if cfg.Redis.Password != "" && !cfg.Redis.TLS.Enabled && !allLoopback(cfg.Redis.Addrs) {
		logger.Warn("redis.password without redis.tls sends the Redis password unencrypted: enable redis.tls")
	}
}

func allLoopback(addrs []string) bool {
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			host = a
		}
		if host == "localhost" {
			continue
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return false
		}
	}
	return true
}

// Redacted returns a copy of c with every secret (fields tagged
// `secret:"true"`) replaced by "<redacted>" when set: the only form of the
// configuration that may be printed or logged.
func (c Config) Redacted() Config {
	redact(reflect.ValueOf(&c).Elem())
	return c
}

func redact(v reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f, fv := t.Field(i), v.Field(i)
		switch {
		case f.Type.Kind() == reflect.Struct:
			redact(fv)
		case fv.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct && fv.Len() > 0:
			// A copy: the caller's configuration keeps its secrets.
			cp := reflect.MakeSlice(f.Type, fv.Len(), fv.Len())
			reflect.Copy(cp, fv)
			fv.Set(cp)
			for j := 0; j < cp.Len(); j++ {
				redact(cp.Index(j))
			}
		case f.Tag.Get("secret") == "true" && fv.Kind() == reflect.String && fv.String() != "":
			fv.SetString("<redacted>")
		}
	}
}

// String prints the configuration as YAML with its secrets redacted, so
// that %v and %+v never print a secret.
func (c Config) String() string {
	b, err := yaml.Marshal(c.Redacted())
	if err != nil {
		return "config: " + err.Error()
	}
	return string(b)
}

// GoString is String, for %#v.
func (c Config) GoString() string { return c.String() }

// LogValue logs the redacted configuration.
func (c Config) LogValue() slog.Value { return slog.AnyValue(c.Redacted().asMap()) }

// asMap is c as nested maps by YAML name, for structured logs.
func (c Config) asMap() map[string]any {
	b, err := yaml.Marshal(c)
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return map[string]any{"error": err.Error()}
	}
	return m
}
