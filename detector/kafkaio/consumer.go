package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"fraudwatch/detector"
	"fraudwatch/models"
)

// Stage names where a batch can fail, as passed to Observer.Error.
const (
	StageFetch       = "fetch"
	StageHandle      = "handle"
	StageDeadLetters = "dead_letters"
	StageAlerts      = "alerts"
	StageCommit      = "commit"
)

// Observer receives the consumer's metrics events. Every field is optional.
// The functions are called from Run's goroutine and must not block.
type Observer struct {
	// BatchFetched: a batch of n records was fetched and is about to be
	// handled.
	BatchFetched func(n int)
	// BatchCommitted: a batch of n records was handled, its output
	// written and its offsets committed, took after it was fetched.
	BatchCommitted func(n int, took time.Duration)
	// Outcomes: how many records of a committed batch got each outcome.
	Outcomes func(o detector.Outcome, n int)
	// Error: an attempt failed at stage (Stage...). Fetch errors are
	// retried by fetching again; the others by retrying the same batch.
	Error func(stage string, err error)
	// Retry: attempt (1 for the first retry) of the batch starts after
	// backoff.
	Retry func(attempt int, backoff time.Duration)
	// Abandoned: Run's context ended before the batch of n records was
	// committed; its records will be redelivered to the group.
	Abandoned func(n int)
}

// Consumer reads the inbound topic as a member of a consumer group, hands
// batches to a detector.BatchHandler, writes the batch's dead letters and
// then its alerts (acks=all), and only then commits the batch's offsets.
//
// Offsets: a batch is committed as a whole, after its output is
// acknowledged, and never otherwise. Kafka keeps one offset per partition, so
// committing a batch commits everything before it on its partitions; batches
// are handled one at a time in fetch order, so nothing unhandled is ever
// below a committed offset.
//
// Retries: a failure at any stage (handler, either write, commit) is logged
// and the same batch is retried after a jittered exponential backoff, from
// the stage that failed: a handled batch is not handled again only because
// its commit failed. No new records are fetched meanwhile, so a partition
// never moves past a record whose output is not written. Records the handler
// cannot interpret are dead letters, not errors, so they never block a
// partition.
//
// Shutdown: when Run's context is cancelled, a batch in flight gets
// ShutdownGrace to finish (its handler, writes and commit then run under a
// separate context, cancelled when the grace ends); a batch that does not
// finish, or that is waiting to be retried, is abandoned uncommitted and
// redelivered to whichever member gets its partitions next. The handler
// must return promptly once its context is cancelled.
type Consumer struct {
	cfg    Config
	h      detector.BatchHandler
	log    *slog.Logger
	obs    Observer
	alerts detector.AlertSink
	dlq    detector.DeadLetterSink

	transport *kafka.Transport // shared by the writers and the readiness probe
	closers   []io.Closer      // writers created by New
	running   atomic.Bool
	closed    atomic.Bool
	reader    atomic.Pointer[kafka.Reader] // while Run runs, for Lag

	health struct {
		sync.Mutex
		lastOK   time.Time // last successful broker exchange
		failures int       // consecutive failed attempts at a batch
		lastErr  error
	}
	probe sync.Mutex // one readiness probe at a time

	written *writtenSet // outputs acknowledged lately, not written again on redelivery
}

// New validates cfg and returns a Consumer that will feed h. It does not
// contact the brokers; Run joins the group.
func New(cfg Config, h detector.BatchHandler) (*Consumer, error) {
	if h == nil {
		return nil, errors.New("kafkaio: nil batch handler")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Consumer{
		cfg:       cfg,
		h:         h,
		log:       cfg.Logger.With("component", "kafkaio", "group", cfg.GroupID, "topic", cfg.InboundTopic),
		obs:       cfg.Observer,
		alerts:    cfg.Alerts,
		dlq:       cfg.DeadLetters,
		transport: cfg.Connection.transport(),
		written:   newWrittenSet(writtenSetSize),
	}
	wc := func(topic string) WriterConfig {
		return WriterConfig{
			Connection:      cfg.Connection,
			Topic:           topic,
			WriteTimeout:    cfg.WriteTimeout,
			MaxMessageBytes: cfg.DLQMaxBytes,
			Logger:          cfg.Logger,
			transport:       c.transport,
		}
	}
	if c.alerts == nil {
		w, err := NewAlertWriter(wc(cfg.AlertsTopic))
		if err != nil {
			return nil, err
		}
		c.alerts = w
		c.closers = append(c.closers, w)
	}
	if c.dlq == nil {
		w, err := NewDeadLetterWriter(wc(cfg.DLQTopic))
		if err != nil {
			c.Close()
			return nil, err
		}
		c.dlq = w
		c.closers = append(c.closers, w)
	}
	return c, nil
}

// Close releases the writers New created (not sinks passed in Config) and
// the connections. Call it after Run has returned; while Run runs it
// refuses and changes nothing. Ready reports an error afterwards.
func (c *Consumer) Close() error {
	if c.running.Load() {
		// Closing the writers under a running batch would make it retry
		// against closed pipes until its context ends.
		return errors.New("kafkaio: Close while Run is running: cancel Run's context and wait for it to return first")
	}
	c.closed.Store(true)
	var errs []error
	for _, cl := range c.closers {
		errs = append(errs, cl.Close())
	}
	c.closers = nil
	c.transport.CloseIdleConnections()
	return errors.Join(errs...)
}

// Run consumes until ctx is cancelled, then returns nil once the batch in
// flight is committed or abandoned (see Consumer) and the group is left. It
// returns an error only if the reader stops on its own. Run must not be
// called concurrently with itself; calling it again after it returned
// rejoins the group.
func (c *Consumer) Run(ctx context.Context) error {
	if c.closed.Load() {
		return errors.New("kafkaio: Run after Close")
	}
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("kafkaio: Run is already running")
	}
	defer c.running.Store(false)

	r := kafka.NewReader(c.cfg.readerConfig()) // config checked by Validate
	c.reader.Store(r)
	defer c.reader.Store(nil)
	defer func() {
		// Leaving the group promptly hands our partitions to the others
		// now instead of after the session timeout.
		if err := r.Close(); err != nil {
			c.log.Warn("closing reader", "err", err)
		}
	}()
	c.log.Info("consuming", "batch_size", c.cfg.BatchSize, "batch_wait", c.cfg.BatchWait)

	fetchFailures := 0
	for {
		msgs, err := c.fetch(ctx, r)
		if ctx.Err() != nil {
			// Whatever was fetched is not handled and not committed.
			c.log.Info("stopping", "unhandled_fetched", len(msgs))
			return nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("kafkaio: reader of %q closed: %w", c.cfg.InboundTopic, err)
			}
			fetchFailures++
			c.failed(StageFetch, err)
			if !c.sleep(ctx, c.backoff(fetchFailures)) {
				return nil
			}
			continue
		}
		fetchFailures = 0
		c.markOK()
		if !c.process(ctx, r, msgs) {
			return nil
		}
		if ctx.Err() != nil {
			c.log.Info("stopping after committing the batch in flight")
			return nil
		}
	}
}

// fetch blocks for the first record, then collects more for at most
// BatchWait, up to BatchSize. kafka-go's FetchMessage leaves a queued message
// in place when its context ends, so the deadline loses nothing. Errors
// after the first record end the batch early; the fetch loop sees them again.
func (c *Consumer) fetch(ctx context.Context, r *kafka.Reader) ([]kafka.Message, error) {
	m, err := r.FetchMessage(ctx)
	if err != nil {
		return nil, err
	}
	msgs := make([]kafka.Message, 1, c.cfg.BatchSize)
	msgs[0] = m
	wctx, cancel := context.WithTimeout(ctx, c.cfg.BatchWait)
	defer cancel()
	for len(msgs) < c.cfg.BatchSize {
		m, err := r.FetchMessage(wctx)
		if err != nil {
			if wctx.Err() == nil {
				c.log.Warn("fetching: ending batch early", "records", len(msgs), "err", err)
			}
			break
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// batch is one fetched batch and how far it got, so a retry resumes at the
// stage that failed.
type batch struct {
	msgs    []kafka.Message
	recs    []detector.Record
	res     detector.Result
	handled bool
	dlqDone bool
	alerted bool
	// What is still to be written of res after a partly failed write.
	dlqLeft    []detector.DeadLetter
	alertsLeft []models.Alert
}

// process handles, writes and commits msgs, retrying until it succeeds
// (true) or ctx ends (false: abandoned, uncommitted).
func (c *Consumer) process(ctx context.Context, r *kafka.Reader, msgs []kafka.Message) bool {
	start := time.Now()
	b := &batch{msgs: msgs, recs: toRecords(msgs)}
	if f := c.obs.BatchFetched; f != nil {
		f(len(msgs))
	}
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			d := c.backoff(attempt)
			if f := c.obs.Retry; f != nil {
				f(attempt, d)
			}
			c.log.Info("retrying batch", "attempt", attempt, "backoff", d, "records", len(msgs))
			if !c.sleep(ctx, d) {
				c.abandon(b)
				return false
			}
		}
		stage, err := c.attempt(ctx, r, b)
		if err == nil {
			c.committed(b, time.Since(start))
			return true
		}
		if ctx.Err() != nil {
			c.log.Warn("batch did not finish within the shutdown grace", "stage", stage, "err", err)
			c.abandon(b)
			return false
		}
		c.failed(stage, err)
	}
}

// attempt runs the remaining stages of b under a context that outlives ctx
// by ShutdownGrace.
func (c *Consumer) attempt(ctx context.Context, r *kafka.Reader, b *batch) (string, error) {
	wctx, cancel := withGrace(ctx, c.cfg.ShutdownGrace)
	defer cancel()
	if !b.handled {
		res, err := c.h.HandleBatch(wctx, b.recs)
		if err != nil {
			return StageHandle, fmt.Errorf("kafkaio: handling %d records: %w", len(b.recs), err)
		}
		b.res, b.handled = res, true
		// Outputs this process already wrote (the batch is a redelivery
		// after a lost commit) are not written again.
		b.dlqLeft = unwritten(c.written, res.DeadLetters, deadLetterKey)
		b.alertsLeft = unwritten(c.written, res.Alerts, alertKey)
	}
	if !b.dlqDone {
		err := c.dlq.WriteDeadLetters(wctx, b.dlqLeft)
		var acked []detector.DeadLetter
		acked, b.dlqLeft = splitWritten(b.dlqLeft, err)
		add(c.written, acked, deadLetterKey)
		if err != nil {
			return StageDeadLetters, err
		}
		b.dlqDone = true
	}
	if !b.alerted {
		err := c.alerts.WriteAlerts(wctx, b.alertsLeft)
		var acked []models.Alert
		acked, b.alertsLeft = splitWritten(b.alertsLeft, err)
		add(c.written, acked, alertKey)
		if err != nil {
			return StageAlerts, err
		}
		b.alerted = true
	}
	// A commit can wait indefinitely when the group has no generation (a
	// rebalance that never settles); bounded, it fails and is retried.
	cctx, ccancel := context.WithTimeout(wctx, c.cfg.WriteTimeout)
	defer ccancel()
	if err := r.CommitMessages(cctx, b.msgs...); err != nil {
		return StageCommit, fmt.Errorf("kafkaio: committing %d records of %q: %w", len(b.msgs), c.cfg.InboundTopic, err)
	}
	return "", nil
}

func (c *Consumer) committed(b *batch, took time.Duration) {
	c.markOK()
	if f := c.obs.BatchCommitted; f != nil {
		f(len(b.msgs), took)
	}
	if f := c.obs.Outcomes; f != nil {
		counts := map[detector.Outcome]int{}
		for _, o := range b.res.Outcomes {
			counts[o]++
		}
		for o, n := range counts {
			f(o, n)
		}
	}
	c.log.Debug("batch committed", "records", len(b.msgs), "alerts", len(b.res.Alerts),
		"dead_letters", len(b.res.DeadLetters), "took", took)
}

func (c *Consumer) abandon(b *batch) {
	if f := c.obs.Abandoned; f != nil {
		f(len(b.msgs))
	}
	c.log.Warn("abandoning batch uncommitted; its records will be redelivered",
		"records", len(b.msgs), "handled", b.handled, "first", position(b.msgs[0]))
}

func (c *Consumer) failed(stage string, err error) {
	c.health.Lock()
	c.health.failures++
	c.health.lastErr = err
	c.health.Unlock()
	if f := c.obs.Error; f != nil {
		f(stage, err)
	}
	c.log.Error("kafkaio attempt failed", "stage", stage, "err", err)
}

func (c *Consumer) markOK() {
	c.health.Lock()
	c.health.lastOK = time.Now()
	c.health.failures = 0
	c.health.lastErr = nil
	c.health.Unlock()
}

// backoff is the wait before retry n (1-based): exponential from
// RetryBackoffMin, capped at RetryBackoffMax, with "equal jitter" (half
// fixed, half random, never below RetryBackoffMin) so a fleet of members
// that failed together does not retry together.
func (c *Consumer) backoff(n int) time.Duration {
	d := c.cfg.RetryBackoffMin
	for i := 1; i < n && d < c.cfg.RetryBackoffMax; i++ {
		d *= 2
	}
	d = min(d, c.cfg.RetryBackoffMax)
	half := d / 2
	return max(c.cfg.RetryBackoffMin, half+rand.N(d-half+1))
}

// sleep waits d, or returns false when ctx ends first.
func (c *Consumer) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Ready reports whether the consumer can do its job: nil when a fetch,
// commit or probe reached the brokers within ReadyTTL, or a fresh metadata
// probe (bounded by ReadyTimeout, one at a time) succeeds and finds the
// inbound topic; an error when ReadyMaxFailures consecutive attempts at a
// batch failed (the consumer is stuck retrying), after Close, or when the
// probe fails. Safe for concurrent use; meant for a readiness endpoint.
func (c *Consumer) Ready() error {
	if c.closed.Load() {
		return errors.New("kafkaio: consumer closed")
	}
	if err := c.stuck(); err != nil || c.isFresh() {
		return err
	}
	c.probe.Lock()
	defer c.probe.Unlock()
	if c.isFresh() { // another caller probed meanwhile
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.ReadyTimeout)
	defer cancel()
	cl := &kafka.Client{Addr: kafka.TCP(c.cfg.Brokers...), Transport: c.transport, Timeout: c.cfg.ReadyTimeout}
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{c.cfg.InboundTopic}})
	if err != nil {
		return fmt.Errorf("kafkaio: brokers %q unreachable: %w", c.cfg.Brokers, err)
	}
	for _, t := range md.Topics {
		if t.Error != nil {
			return fmt.Errorf("kafkaio: inbound topic %q: %w", c.cfg.InboundTopic, t.Error)
		}
	}
	c.health.Lock()
	c.health.lastOK = time.Now()
	c.health.Unlock()
	return nil
}

// Lag reports how far the member is behind, as kafka-go measures it: the
// high-water mark minus the next offset of the partition it last fetched
// from, at that fetch. ok is false while Run is not running. Safe for
// concurrent use; meant for a metrics gauge (it resets kafka-go's other
// reader counters, which nothing else reads).
func (c *Consumer) Lag() (lag int64, ok bool) {
	r := c.reader.Load()
	if r == nil {
		return 0, false
	}
	return r.Stats().Lag, true
}

// stuck reports the stuck-retrying error, if any.
func (c *Consumer) stuck() error {
	c.health.Lock()
	defer c.health.Unlock()
	if c.health.failures >= c.cfg.ReadyMaxFailures {
		return fmt.Errorf("kafkaio: %d consecutive failed attempts, last: %w", c.health.failures, c.health.lastErr)
	}
	return nil
}

func (c *Consumer) isFresh() bool {
	c.health.Lock()
	defer c.health.Unlock()
	return !c.health.lastOK.IsZero() && time.Since(c.health.lastOK) < c.cfg.ReadyTTL
}

// withGrace returns a context that keeps parent's values but not its
// cancellation: it is cancelled grace after parent is done, or by cancel.
func withGrace(parent context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(parent))
	var mu sync.Mutex
	var timer *time.Timer
	stop := context.AfterFunc(parent, func() {
		mu.Lock()
		defer mu.Unlock()
		timer = time.AfterFunc(grace, func() {
			cancel(fmt.Errorf("shutdown grace of %v expired: %w", grace, context.Cause(parent)))
		})
	})
	return ctx, func() {
		stop()
		mu.Lock()
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancel(context.Canceled)
	}
}

func toRecords(msgs []kafka.Message) []detector.Record {
	recs := make([]detector.Record, len(msgs))
	for i, m := range msgs {
		recs[i] = detector.Record{
			Topic:     m.Topic,
			Partition: m.Partition,
			Offset:    m.Offset,
			Key:       m.Key,
			Value:     m.Value,
			Time:      m.Time,
		}
	}
	return recs
}

func position(m kafka.Message) string {
	return fmt.Sprintf("%s/%d@%d", m.Topic, m.Partition, m.Offset)
}
