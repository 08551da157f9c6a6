// Package kafkaio connects the detector to Kafka: a consumer-group loop that
// feeds batches of inbound records to a detector.BatchHandler and commits
// offsets only after the batch's alerts and dead letters are acknowledged by
// every in-sync replica, plus the writers for the alerts and dead-letter
// topics and a producer for demos and tests.
//
// It is the only package that imports github.com/segmentio/kafka-go; the one
// kafka-go type in its API is the optional Connection.SASL escape hatch.
// Connection.TLS and the SASL mechanisms by name (PLAIN, SCRAM-SHA-256,
// SCRAM-SHA-512) cover the usual secured clusters.
//
// Delivery is at least once: a record is committed only after everything it
// produced is written, so a crash or a failed write makes the records of the
// batch come back, and the handler (idempotent by contract) may produce the
// same alerts again. Alert ids are derived from event ids, so downstream
// consumers deduplicate.
package kafkaio

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"fraudwatch/detector"
)

// Defaults applied by Config.Validate and WriterConfig.Validate to zero fields.
const (
	DefaultGroupID            = "fraudwatch"
	DefaultInboundTopic       = "whatsapp.inbound"
	DefaultAlertsTopic        = "fraud.alerts"
	DefaultDLQTopic           = "whatsapp.inbound.dlq"
	DefaultBatchSize          = 500
	DefaultBatchWait          = 5 * time.Millisecond
	DefaultRetryBackoffMin    = 100 * time.Millisecond
	DefaultRetryBackoffMax    = 10 * time.Second
	DefaultShutdownGrace      = 10 * time.Second
	DefaultSessionTimeout     = 30 * time.Second
	DefaultHeartbeatInterval  = 3 * time.Second
	DefaultRebalanceTimeout   = 30 * time.Second
	DefaultJoinGroupBackoff   = 5 * time.Second
	DefaultReadBackoffMin     = 100 * time.Millisecond
	DefaultReadBackoffMax     = time.Second
	DefaultFetchMaxWait       = time.Second
	DefaultFetchMaxBytes      = 10 << 20
	DefaultDialTimeout        = 10 * time.Second
	DefaultWriteTimeout       = 10 * time.Second
	DefaultWriterBatchTimeout = 2 * time.Millisecond
	DefaultDLQMaxBytes        = 900 << 10
	DefaultReadyTTL           = 15 * time.Second
	DefaultReadyTimeout       = 2 * time.Second
	DefaultReadyMaxFailures   = 5
)

// Connection says how to reach the Kafka cluster. It is shared by the
// consumer, the writers and EnsureTopics.
type Connection struct {
	// Brokers are the bootstrap addresses, host:port. Required.
	Brokers []string
	// TLS, when set, encrypts every connection with this configuration.
	TLS *tls.Config
	// SASLMechanism, SASLUsername and SASLPassword authenticate every
	// connection. The mechanism is one of SASLMechanisms, so config files
	// and env vars need no kafka-go import. Empty: none. PLAIN sends the
	// password as it is: use it only with TLS. The password never appears
	// in an error of this package.
	SASLMechanism string
	SASLUsername  string
	SASLPassword  string
	// SASL, when set, overrides SASLMechanism with any kafka-go mechanism
	// (e.g. OAUTHBEARER or AWS_MSK_IAM).
	SASL sasl.Mechanism
	// ClientID names this process in broker logs and quotas.
	ClientID string
	// DialTimeout bounds connecting to a broker. Default 10s.
	DialTimeout time.Duration
}

// Validate fills defaults into zero fields of c, builds the SASL mechanism
// named by SASLMechanism, and reports the first invalid setting. The
// consumer, the writers, ReadTopic and EnsureTopics call it themselves; its
// errors never contain the password.
func (c *Connection) Validate() error { return c.validate() }

func (c *Connection) validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("no brokers: set at least one host:port")
	}
	for _, b := range c.Brokers {
		if b == "" {
			return errors.New("empty broker address")
		}
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.DialTimeout < 0 {
		return fmt.Errorf("dial timeout %v is negative", c.DialTimeout)
	}
	if c.ClientID == "" {
		c.ClientID = "fraudwatch"
	}
	switch {
	case c.SASL != nil:
	case c.SASLMechanism == "":
		if c.SASLUsername != "" {
			return errors.New("SASL username set without a SASL mechanism: set SASLMechanism to PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
		}
	default:
		m, err := saslMechanism(c.SASLMechanism, c.SASLUsername, c.SASLPassword)
		if err != nil {
			return err
		}
		c.SASL = m
	}
	return nil
}

// SASLMechanisms are the names Connection.SASLMechanism accepts (any case).
var SASLMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// saslMechanism builds the named mechanism. Its errors never include the
// password.
func saslMechanism(name, user, password string) (sasl.Mechanism, error) {
	name = strings.ToUpper(strings.TrimSpace(name))
	if !slices.Contains(SASLMechanisms, name) {
		return nil, fmt.Errorf("SASL mechanism %q is not supported: use one of %s, or pass a kafka-go mechanism in SASL", name, strings.Join(SASLMechanisms, ", "))
	}
	if user == "" {
		return nil, fmt.Errorf("SASL %s needs a username", name)
	}
	if password == "" {
		return nil, fmt.Errorf("SASL %s needs a password", name)
	}
	switch name {
	case "SCRAM-SHA-256", "SCRAM-SHA-512":
		algo := scram.SHA256
		if name == "SCRAM-SHA-512" {
			algo = scram.SHA512
		}
		m, err := scram.Mechanism(algo, user, password)
		if err != nil {
			// xdg-go/scram reports only stringprep failures of the
			// username or password: name neither.
			return nil, fmt.Errorf("SASL %s: the username or password is not valid SASLprep text", name)
		}
		return m, nil
	default:
		return plain.Mechanism{Username: user, Password: password}, nil
	}
}

func (c Connection) transport() *kafka.Transport {
	return &kafka.Transport{
		DialTimeout: c.DialTimeout,
		ClientID:    c.ClientID,
		TLS:         c.TLS,
		SASL:        c.SASL,
	}
}

func (c Connection) dialer() *kafka.Dialer {
	return &kafka.Dialer{
		ClientID:      c.ClientID,
		Timeout:       c.DialTimeout,
		DualStack:     true,
		TLS:           c.TLS,
		SASLMechanism: c.SASL,
	}
}

// Config configures a Consumer. Zero fields take the defaults above; New
// calls Validate.
type Config struct {
	Connection

	// GroupID is the consumer group; instances with the same id share the
	// inbound partitions. Default "fraudwatch".
	GroupID string
	// InboundTopic is read; AlertsTopic and DLQTopic are written. They must
	// exist (see EnsureTopics): the writers never auto-create topics.
	InboundTopic string
	AlertsTopic  string
	DLQTopic     string

	// BatchSize is the most records handed to the handler at once.
	// Default 500.
	BatchSize int
	// BatchWait is how long, after the first record of a batch arrives, the
	// consumer waits for more before handling a partial batch. Default 5ms:
	// under load batches fill anyway, and a longer wait only adds latency.
	BatchWait time.Duration

	// RetryBackoffMin and RetryBackoffMax bound the jittered exponential
	// wait between attempts at a failed batch. Defaults 100ms and 10s.
	RetryBackoffMin time.Duration
	RetryBackoffMax time.Duration

	// ShutdownGrace is how long a batch in flight when Run's context is
	// cancelled may still take to be handled, written and committed. After
	// it the batch is abandoned uncommitted and will be redelivered.
	// Default 10s.
	ShutdownGrace time.Duration

	// Consumer-group timing, passed to kafka-go. Production defaults are
	// kafka-go's; tests lower them (the broker's group.min.session.timeout.ms
	// must allow SessionTimeout).
	SessionTimeout    time.Duration // default 30s
	HeartbeatInterval time.Duration // default 3s
	RebalanceTimeout  time.Duration // default 30s
	JoinGroupBackoff  time.Duration // default 5s
	ReadBackoffMin    time.Duration // default 100ms
	ReadBackoffMax    time.Duration // default 1s
	// FetchMaxWait is how long the broker may hold a fetch with no data.
	// Default 1s.
	FetchMaxWait time.Duration
	// FetchMaxBytes caps one fetch response. Default 10 MiB.
	FetchMaxBytes int

	// DLQMaxBytes caps the key plus value of a dead letter; larger originals
	// are truncated and marked (see DeadLetterWriter). Default 900 KiB.
	DLQMaxBytes int
	// WriteTimeout bounds one produce request and one offset commit. Default 10s.
	WriteTimeout time.Duration

	// Alerts and DeadLetters replace the Kafka writers when set (tests,
	// other transports). The Consumer does not close sinks it did not
	// create.
	Alerts      detector.AlertSink
	DeadLetters detector.DeadLetterSink

	// ReadyTTL is how long a successful broker exchange keeps Ready
	// returning nil without a new probe. Default 15s. ReadyTimeout bounds
	// the probe. Default 2s. ReadyMaxFailures is how many consecutive failed
	// attempts at a batch make Ready report an error. Default 5.
	ReadyTTL         time.Duration
	ReadyTimeout     time.Duration
	ReadyMaxFailures int

	// Logger receives the consumer's logs; kafka-go's own chatter goes to
	// it at debug (info) and warn (errors). Default slog.Default().
	Logger *slog.Logger
	// Observer receives metrics events. Optional.
	Observer Observer
}

// Validate fills defaults into zero fields and reports the first invalid
// setting.
func (c *Config) Validate() error {
	if err := c.Connection.validate(); err != nil {
		return fmt.Errorf("kafkaio: config: %w", err)
	}
	setString(&c.GroupID, DefaultGroupID)
	setString(&c.InboundTopic, DefaultInboundTopic)
	setString(&c.AlertsTopic, DefaultAlertsTopic)
	setString(&c.DLQTopic, DefaultDLQTopic)
	if c.InboundTopic == c.AlertsTopic || c.InboundTopic == c.DLQTopic {
		return fmt.Errorf("kafkaio: config: inbound topic %q is also an output topic: the consumer would read its own output", c.InboundTopic)
	}
	setInt(&c.BatchSize, DefaultBatchSize)
	setInt(&c.FetchMaxBytes, DefaultFetchMaxBytes)
	setInt(&c.DLQMaxBytes, DefaultDLQMaxBytes)
	setInt(&c.ReadyMaxFailures, DefaultReadyMaxFailures)
	for _, d := range []struct {
		name string
		p    *time.Duration
		def  time.Duration
	}{
		{"batch wait", &c.BatchWait, DefaultBatchWait},
		{"retry backoff min", &c.RetryBackoffMin, DefaultRetryBackoffMin},
		{"retry backoff max", &c.RetryBackoffMax, DefaultRetryBackoffMax},
		{"shutdown grace", &c.ShutdownGrace, DefaultShutdownGrace},
		{"session timeout", &c.SessionTimeout, DefaultSessionTimeout},
		{"heartbeat interval", &c.HeartbeatInterval, DefaultHeartbeatInterval},
		{"rebalance timeout", &c.RebalanceTimeout, DefaultRebalanceTimeout},
		{"join group backoff", &c.JoinGroupBackoff, DefaultJoinGroupBackoff},
		{"read backoff min", &c.ReadBackoffMin, DefaultReadBackoffMin},
		{"read backoff max", &c.ReadBackoffMax, DefaultReadBackoffMax},
		{"fetch max wait", &c.FetchMaxWait, DefaultFetchMaxWait},
		{"write timeout", &c.WriteTimeout, DefaultWriteTimeout},
		{"ready TTL", &c.ReadyTTL, DefaultReadyTTL},
		{"ready timeout", &c.ReadyTimeout, DefaultReadyTimeout},
	} {
		if *d.p == 0 {
			*d.p = d.def
		}
		if *d.p < 0 {
			return fmt.Errorf("kafkaio: config: %s %v is negative", d.name, *d.p)
		}
	}
	switch {
	case c.BatchSize < 0:
		return fmt.Errorf("kafkaio: config: batch size %d is negative", c.BatchSize)
	case c.FetchMaxBytes < 0:
		return fmt.Errorf("kafkaio: config: fetch max bytes %d is negative", c.FetchMaxBytes)
	case c.DLQMaxBytes < 0:
		return fmt.Errorf("kafkaio: config: DLQ max bytes %d is negative", c.DLQMaxBytes)
	case c.ReadyMaxFailures < 0:
		return fmt.Errorf("kafkaio: config: ready max failures %d is negative", c.ReadyMaxFailures)
	case c.RetryBackoffMax < c.RetryBackoffMin:
		return fmt.Errorf("kafkaio: config: retry backoff max %v is below min %v", c.RetryBackoffMax, c.RetryBackoffMin)
	case c.ReadBackoffMax < c.ReadBackoffMin:
		return fmt.Errorf("kafkaio: config: read backoff max %v is below min %v", c.ReadBackoffMax, c.ReadBackoffMin)
	case c.HeartbeatInterval >= c.SessionTimeout:
		return fmt.Errorf("kafkaio: config: heartbeat interval %v must be below session timeout %v", c.HeartbeatInterval, c.SessionTimeout)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	// kafka-go has its own checks (and panics in NewReader when they fail).
	rc := c.readerConfig()
	if err := rc.Validate(); err != nil {
		return fmt.Errorf("kafkaio: config: %w", err)
	}
	return nil
}

// readerConfig is the kafka-go reader for the consumer loop: a group member
// with synchronous commits (CommitInterval 0), starting new groups at the
// oldest retained record.
func (c *Config) readerConfig() kafka.ReaderConfig {
	return kafka.ReaderConfig{
		Brokers:               c.Brokers,
		GroupID:               c.GroupID,
		Topic:                 c.InboundTopic,
		Dialer:                c.dialer(),
		QueueCapacity:         c.BatchSize,
		MinBytes:              1,
		MaxBytes:              c.FetchMaxBytes,
		MaxWait:               c.FetchMaxWait,
		HeartbeatInterval:     c.HeartbeatInterval,
		CommitInterval:        0,
		SessionTimeout:        c.SessionTimeout,
		RebalanceTimeout:      c.RebalanceTimeout,
		JoinGroupBackoff:      c.JoinGroupBackoff,
		ReadBackoffMin:        c.ReadBackoffMin,
		ReadBackoffMax:        c.ReadBackoffMax,
		StartOffset:           kafka.FirstOffset,
		WatchPartitionChanges: true,
		Logger:                slogPrintf(c.Logger, slog.LevelDebug),
		ErrorLogger:           slogPrintf(c.Logger, slog.LevelWarn),
	}
}

// WriterConfig configures an AlertWriter, DeadLetterWriter or Producer.
// Zero fields take the defaults; the constructors call Validate.
type WriterConfig struct {
	Connection
	// Topic is written. Required. It must exist: auto-creation is off, so
	// a typo fails instead of silently creating a topic nobody reads.
	Topic string
	// BatchTimeout is how long kafka-go waits to fill a produce request.
	// Every call writes its whole slice at once, so this is short.
	// Default 2ms.
	BatchTimeout time.Duration
	// WriteTimeout bounds one produce request. Default 10s.
	WriteTimeout time.Duration
	// MaxMessageBytes caps key plus value of one dead letter
	// (DeadLetterWriter only). Default 900 KiB.
	MaxMessageBytes int
	// Logger receives kafka-go's logs. Default slog.Default().
	Logger *slog.Logger

	transport *kafka.Transport // shared by a Consumer's writers
}

// Validate fills defaults into zero fields and reports the first invalid
// setting.
func (c *WriterConfig) Validate() error {
	if err := c.Connection.validate(); err != nil {
		return fmt.Errorf("kafkaio: writer config: %w", err)
	}
	if c.Topic == "" {
		return errors.New("kafkaio: writer config: no topic")
	}
	if c.BatchTimeout == 0 {
		c.BatchTimeout = DefaultWriterBatchTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	setInt(&c.MaxMessageBytes, DefaultDLQMaxBytes)
	switch {
	case c.BatchTimeout < 0:
		return fmt.Errorf("kafkaio: writer config: batch timeout %v is negative", c.BatchTimeout)
	case c.WriteTimeout < 0:
		return fmt.Errorf("kafkaio: writer config: write timeout %v is negative", c.WriteTimeout)
	case c.MaxMessageBytes < 0:
		return fmt.Errorf("kafkaio: writer config: max message bytes %d is negative", c.MaxMessageBytes)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

func setString(p *string, def string) {
	if *p == "" {
		*p = def
	}
}

func setInt(p *int, def int) {
	if *p == 0 {
		*p = def
	}
}

// slogPrintf adapts a slog.Logger to kafka-go's printf-style Logger.
func slogPrintf(l *slog.Logger, level slog.Level) kafka.Logger {
	return kafka.LoggerFunc(func(format string, args ...any) {
		ctx := context.Background() // kafka-go logs outside any request
		if l.Enabled(ctx, level) {
			l.Log(ctx, level, "kafka-go: "+fmt.Sprintf(format, args...))
		}
	})
}
