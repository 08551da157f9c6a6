package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/twmb/franz-go/pkg/kfake"

	"fraudwatch/detector"
	"fraudwatch/detector/kafkaio"
	"fraudwatch/fixtures"
	"fraudwatch/models"
)

// benchOptions are the flags of `fraudwatch bench`.
type benchOptions struct {
	config     string        // run's config file ("" for defaults and env only)
	embedded   bool          // in-process Kafka (kfake), and miniredis unless redis is set
	redis      string        // Redis address overriding the configuration
	n          int           // events of the full-speed phase
	rate       float64       // events/s of the paced phase; 0 for none
	pacedN     int           // events of the paced phase
	malformed  float64       // fraction of events that cannot be interpreted
	senders    int           // distinct synthetic senders
	employees  int           // distinct employees
	partitions int           // partitions of the fresh inbound topic
	timeout    time.Duration // for the whole run
	verbose    bool
	cpuProfile string // pprof CPU profile of the whole run, "" for none
	scamShare  float64
	instances  int // detector instances in one consumer group, each with its own pipeline
}

func (o *benchOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.config, "config", os.Getenv("FRAUDWATCH_CONFIG"), "take Kafka, Redis, detector and HMAC settings from run's config `FILE` (env overrides apply, as for run)")
	fs.BoolVar(&o.embedded, "embedded", false, "in-process Kafka (kfake), and in-process Redis (miniredis, ~15x slower than redis-server) unless --redis is given")
	fs.StringVar(&o.redis, "redis", "", "Redis `ADDR` to use instead of the configured one (also with --embedded)")
	fs.IntVar(&o.n, "n", 20000, "events of the full-speed phase")
	fs.Float64Var(&o.rate, "rate", 2000, "events/s of the paced phase (latency at a given load); 0 skips it")
	fs.IntVar(&o.pacedN, "paced-n", 0, "events of the paced phase; default 10 seconds' worth at --rate")
	fs.Float64Var(&o.malformed, "malformed", 0.02, "fraction of events that cannot be interpreted (they must end in the DLQ)")
	fs.IntVar(&o.senders, "senders", 5000, "distinct synthetic senders (half of the events keep their fixture's sender)")
	fs.IntVar(&o.employees, "employees", 2000, "distinct employees the events are addressed to")
	fs.IntVar(&o.partitions, "partitions", 6, "partitions of the fresh inbound, alerts and DLQ topics")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up after this long")
	fs.BoolVar(&o.verbose, "verbose", false, "log the consumer's progress to stderr")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a pprof CPU profile of the run to `FILE`")
	fs.IntVar(&o.instances, "instances", 1, "detector instances in one consumer group, each with its own Redis connections (they share this process's cores)")
	fs.Float64Var(&o.scamShare, "scam-share", 0.2, "fraction of the well-formed events drawn from the fixtures' scams and spam (the rest from their legitimate events)")
}

func (o *benchOptions) validate() error {
	var errs []error
	if o.n <= 0 {
		errs = append(errs, fmt.Errorf("-n %d: want at least 1 event", o.n))
	}
	if o.rate < 0 || o.pacedN < 0 {
		errs = append(errs, errors.New("--rate and --paced-n must not be negative"))
	}
	if o.malformed < 0 || o.malformed >= 1 {
		errs = append(errs, fmt.Errorf("--malformed %v: want a fraction in [0, 1)", o.malformed))
	}
	if o.scamShare < 0 || o.scamShare > 1 {
		errs = append(errs, fmt.Errorf("--scam-share %v: want a fraction in [0, 1]", o.scamShare))
	}
	if o.instances < 1 || o.instances > o.partitions {
		errs = append(errs, fmt.Errorf("--instances %d: want 1 to --partitions (%d); an instance without a partition only idles", o.instances, o.partitions))
	}
	if o.senders <= 0 || o.employees <= 0 || o.partitions <= 0 {
		errs = append(errs, errors.New("--senders, --employees and --partitions must be positive"))
	}
	return errors.Join(errs...)
}

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o benchOptions
	o.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: fraudwatch bench [--embedded] [--redis ADDR] [-n N] [--rate R] [--config FILE]

End-to-end load: builds N events from the fixtures (fresh ids, many senders
and employees, a fraction malformed), produces them as fast as possible to a
fresh inbound topic while the real consumer path (as in run) scores them, then
a paced phase at --rate. Prints the sustained rate, produce-to-alert latency,
Redis round trips per batch, peak RSS, and the events per outcome, which must
sum to N: otherwise bench exits non-zero.

Latency is measured per alerted event: each event's "ts" is the time it was
handed to the producer (nanoseconds), and the alert's arrival is the moment
the alerts topic acknowledged it (acks=all), taken in the detector's sink.

Flags:`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := o.validate(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := runBench(ctx, o, stdout, stderr)
	if err != nil {
		return err
	}
	return rep.check()
}

// benchReport is what a bench run measured.
type benchReport struct {
	phases  []phaseReport
	peakRSS int64 // bytes; 0 when unknown
}

// check returns an error unless every phase accounts for every event.
func (r benchReport) check() error {
	var errs []error
	for _, p := range r.phases {
		errs = append(errs, p.check())
	}
	return errors.Join(errs...)
}

// phaseReport is one phase of a bench run.
type phaseReport struct {
	name      string
	events    int     // produced
	malformed int     // produced uninterpretable: each must end in the DLQ
	rate      float64 // events/s, first produce to last commit
	produced  float64 // events/s the producer achieved
	latency   []time.Duration
	batches   int
	redisRT   uint64

	// Where the time went: from the first produce to the last commit, in
	// the engine (decode, Redis, scoring), and writing alerts.
	wall, handling, alertWriting time.Duration

	// Outcomes as the consumer reported them when committing.
	alert, scored, deadLetter int
	// What the output topics hold for this phase's events.
	alertsOnTopic, alertDuplicates, dlqOnTopic int
}

// check reports a phase whose outcomes do not account for its events
// exactly once each.
func (p phaseReport) check() error {
	var errs []error
	if sum := p.alert + p.scored + p.deadLetter; sum != p.events {
		errs = append(errs, fmt.Errorf("outcomes sum to %d (alert %d + scored %d + dlq %d), not the %d events produced", sum, p.alert, p.scored, p.deadLetter, p.events))
	}
	if p.alertsOnTopic != p.alert {
		errs = append(errs, fmt.Errorf("the alerts topic holds %d distinct alerted events, the consumer reported %d", p.alertsOnTopic, p.alert))
	}
	if p.dlqOnTopic != p.deadLetter {
		errs = append(errs, fmt.Errorf("the DLQ holds %d of the events, the consumer reported %d", p.dlqOnTopic, p.deadLetter))
	}
	if p.deadLetter != p.malformed {
		errs = append(errs, fmt.Errorf("%d events were dead-lettered, but %d malformed ones were produced", p.deadLetter, p.malformed))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: events not accounted for: %w", p.name, err)
	}
	return nil
}

// benchEvent is one record to produce: tsOff is where its 30-byte "ts"
// value goes, stamped when the event is handed to the producer.
type benchEvent struct {
	value []byte
	tsOff int // -1 when the record has no time to stamp
}

// benchTSLayout is RFC 3339 with a fixed width, so a time can be written
// into a prepared record in place.
const benchTSLayout = "2006-01-02T15:04:05.000000000Z"

const benchTSPlaceholder = "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@" // len(benchTSLayout)

func (e *benchEvent) stamp(t time.Time) {
	if e.tsOff >= 0 {
		t.UTC().AppendFormat(e.value[e.tsOff:e.tsOff], benchTSLayout)
	}
}

// benchMix builds events from the fixtures: phase-unique ids
// ("<run>-<phase>-<seq>"), every event to one of o.employees employees,
// half of them from one of o.senders synthetic senders, and about
// o.malformed of them records that cannot be interpreted. It returns the
// events and how many are malformed.
func benchMix(run, phase string, n int, o benchOptions, seed uint64) ([]benchEvent, int, error) {
	var ham, scam []map[string]json.RawMessage
	sc := bufio.NewScanner(bytes.NewReader(fixtures.Events()))
	sc.Buffer(nil, maxLineBytes)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, 0, fmt.Errorf("fixtures: %w", err)
		}
		var label models.Label
		if err := json.Unmarshal(m["label"], &label); err != nil {
			return nil, 0, fmt.Errorf("fixtures: label: %w", err)
		}
		for _, k := range []string{"label", "lang", "source"} { // the answer is not part of an event
			delete(m, k)
		}
		if label.Positive() {
			scam = append(scam, m)
		} else {
			ham = append(ham, m)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, 0, err
	}
	rng := mrand.New(mrand.NewPCG(seed, uint64(n)))
	quote := func(s string) json.RawMessage { b, _ := json.Marshal(s); return b }
	out := make([]benchEvent, n)
	malformed := 0
	for i := range out {
		id := fmt.Sprintf("%s-%s-%d", run, phase, i)
		if rng.Float64() < o.malformed {
			out[i] = malformedEvent(id, i)
			malformed++
			continue
		}
		fx := ham
		if rng.Float64() < o.scamShare {
			fx = scam
		}
		m := make(map[string]json.RawMessage, len(fx[0])+1)
		for k, v := range fx[rng.IntN(len(fx))] {
			m[k] = v
		}
		m["id"] = quote(id)
		m["ts"] = quote(benchTSPlaceholder)
		m["to"] = quote(fmt.Sprintf("emp-%d", 1000+rng.IntN(o.employees)))
		if rng.IntN(2) == 0 {
			m["from"] = quote(fmt.Sprintf("+7916%07d", rng.IntN(o.senders)))
		}
		v, err := json.Marshal(m)
		if err != nil {
			return nil, 0, err
		}
		if rng.IntN(100) == 0 {
			// A sender-controlled oddity: repaired and scored, never dropped.
			v = bytes.Replace(v, []byte(`"text":"`), []byte("\"text\":\"\xff"), 1)
		}
		out[i] = benchEvent{value: v, tsOff: bytes.Index(v, []byte(benchTSPlaceholder))}
	}
	return out, malformed, nil
}

// malformedEvent is one of several records no integration should send,
// each carrying id somewhere in its bytes so that it can be found in the
// DLQ.
func malformedEvent(id string, i int) benchEvent {
	var s string
	switch i % 6 {
	case 0:
		s = "not JSON at all " + id
	case 1:
		s = `{"id":"` + id + `","kind":"sms","ts":"` + benchTSPlaceholder + `","to":"emp-1042","text":"unknown kind"}`
	case 2:
		s = `{"id":"` + id + `","kind":"message","ts":"yesterday","to":"emp-1042","text":"bad time"}`
	case 3:
		s = `{"id":"` + id + `","kind":"message","ts":"` + benchTSPlaceholder + `","text":"no employee"}`
	case 4:
		s = `{"id":42,"kind":"message","ts":"` + benchTSPlaceholder + `","to":"emp-1042","text":"id of the wrong type ` + id + `"}`
	default:
		s = `{"id":"` + id + `","kind":"message","ts":"` + benchTSPlaceholder + `","to":"emp-1042","text":"cut off`
	}
	v := []byte(s)
	return benchEvent{value: v, tsOff: bytes.Index(v, []byte(benchTSPlaceholder))}
}

// timedAlerts is the detector's alert sink with a stopwatch: when the
// alerts topic acknowledges a batch of alerts, each alert's latency is
// now minus its event's time (the produce time bench wrote into "ts").
type timedAlerts struct {
	w       *kafkaio.AlertWriter
	mu      sync.Mutex
	at      map[string]time.Duration // by event id, first acknowledgement
	writing time.Duration            // spent in WriteAlerts, in all
}

func (t *timedAlerts) WriteAlerts(ctx context.Context, alerts []models.Alert) error {
	start := time.Now()
	err := t.w.WriteAlerts(ctx, alerts)
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.writing += now.Sub(start)
	if err != nil {
		return err
	}
	for _, a := range alerts {
		if _, ok := t.at[a.EventID]; !ok {
			t.at[a.EventID] = now.Sub(a.EventTime)
		}
	}
	return nil
}

// benchCounters is what the consumer's observer reports.
type benchCounters struct {
	mu         sync.Mutex
	outcomes   map[detector.Outcome]int
	batches    int
	lastCommit time.Time
	handling   time.Duration // in the engine's HandleBatch, in all
}

// handler times h.
func (c *benchCounters) handler(h detector.BatchHandler) detector.BatchHandler {
	return detector.BatchHandlerFunc(func(ctx context.Context, recs []detector.Record) (detector.Result, error) {
		start := time.Now()
		res, err := h.HandleBatch(ctx, recs)
		c.mu.Lock()
		c.handling += time.Since(start)
		c.mu.Unlock()
		return res, err
	})
}

func (c *benchCounters) snapshot() (map[detector.Outcome]int, int, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return map[detector.Outcome]int{
		detector.OutcomeAlert:      c.outcomes[detector.OutcomeAlert],
		detector.OutcomeScored:     c.outcomes[detector.OutcomeScored],
		detector.OutcomeDeadLetter: c.outcomes[detector.OutcomeDeadLetter],
	}, c.batches, c.lastCommit
}

func (c *benchCounters) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.outcomes {
		n += v
	}
	return n
}

// runBench sets up Kafka topics, Redis and the consumer, runs the phases
// and prints the report. Accounting failures are in the report (check);
// an error means the bench itself could not run.
func runBench(ctx context.Context, o benchOptions, stdout, stderr io.Writer) (benchReport, error) {
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg, err := readConfig(o.config, os.LookupEnv)
	if err != nil {
		return benchReport{}, err
	}
	run := benchRunID()
	kafkaDesc, redisDesc := "", ""

	if o.embedded {
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(time.Second))
		if err != nil {
			return benchReport{}, fmt.Errorf("starting in-process Kafka: %w", err)
		}
		defer cluster.Close()
		cfg.Kafka.Brokers = cluster.ListenAddrs()
		kafkaDesc = "in-process (kfake) at " + strings.Join(cfg.Kafka.Brokers, ",")
		if o.redis == "" {
			mr, err := miniredis.Run()
			if err != nil {
				return benchReport{}, fmt.Errorf("starting in-process Redis: %w", err)
			}
			defer mr.Close()
			cfg.Redis = RedisConfig{Addrs: []string{mr.Addr()}, Prefix: cfg.Redis.Prefix}
			redisDesc = "in-process (miniredis, ~15x slower than redis-server) at " + mr.Addr()
		}
	} else {
		kafkaDesc = strings.Join(cfg.Kafka.Brokers, ",")
	}
	if o.redis != "" {
		cfg.Redis.Addrs = []string{o.redis}
	}
	if redisDesc == "" {
		redisDesc = strings.Join(cfg.Redis.Addrs, ",")
	}
	// Bench keys live under their own prefix and expire after an hour.
	cfg.Redis.Prefix += "bench:" + run + ":"
	cfg.Redis.IDRetention = time.Hour
	if cfg.HMAC.Secret == "" {
		cfg.HMAC.Secret = "bench-only-secret-not-for-production"
	}
	s, err := settingsFromConfig(cfg, logger)
	if err != nil {
		return benchReport{}, err
	}
	if s.directory == nil {
		s.directoryName, s.directory = "fixtures/directory.yaml (built in)", fixtures.Directory()
	}

	conn, err := cfg.Kafka.connection("fraudwatch-bench")
	if err != nil {
		return benchReport{}, err
	}
	inbound, alertsTopic, dlqTopic := "fraudwatch.bench."+run+".inbound", "fraudwatch.bench."+run+".alerts", "fraudwatch.bench."+run+".dlq"
	if err := kafkaio.EnsureTopics(ctx, conn, o.partitions, 1, inbound, alertsTopic, dlqTopic); err != nil {
		return benchReport{}, err
	}

	// One pipeline per instance, as separate processes would have: its own
	// engine and Redis connections.
	pipelines := make([]*pipeline, o.instances)
	for i := range pipelines {
		p, err := newPipeline(ctx, s, true)
		if err != nil {
			return benchReport{}, err
		}
		defer p.Close()
		pipelines[i] = p
	}
	var rt interface{ RoundTrips() uint64 }
	if _, ok := pipelines[0].rep.(interface{ RoundTrips() uint64 }); ok {
		rt = roundTripSum(pipelines)
	}

	aw, err := kafkaio.NewAlertWriter(kafkaio.WriterConfig{Connection: conn, Topic: alertsTopic, Logger: logger})
	if err != nil {
		return benchReport{}, err
	}
	defer aw.Close()
	timed := &timedAlerts{w: aw, at: map[string]time.Duration{}}
	counters := &benchCounters{outcomes: map[detector.Outcome]int{}}
	consumers := make([]*kafkaio.Consumer, len(pipelines))
	for i, p := range pipelines {
		consumer, err := kafkaio.New(kafkaio.Config{
			Connection:    conn,
			GroupID:       "fraudwatch-bench-" + run,
			InboundTopic:  inbound,
			AlertsTopic:   alertsTopic,
			DLQTopic:      dlqTopic,
			BatchSize:     cfg.Kafka.BatchSize,
			BatchWait:     cfg.Kafka.BatchWait,
			ShutdownGrace: cfg.Kafka.ShutdownGrace,
			// Only joining the group is quicker than run's defaults.
			SessionTimeout:    6 * time.Second,
			HeartbeatInterval: 500 * time.Millisecond,
			JoinGroupBackoff:  200 * time.Millisecond,
			Alerts:            timed,
			Logger:            logger,
			Observer: kafkaio.Observer{
				BatchCommitted: func(int, time.Duration) {
					counters.mu.Lock()
					counters.batches++
					counters.lastCommit = time.Now()
					counters.mu.Unlock()
				},
				Outcomes: func(oc detector.Outcome, n int) {
					counters.mu.Lock()
					counters.outcomes[oc] += n
					counters.mu.Unlock()
				},
			},
		}, counters.handler(p.engine))
		if err != nil {
			return benchReport{}, err
		}
		defer consumer.Close()
		consumers[i] = consumer
	}
	producer, err := kafkaio.NewProducer(kafkaio.WriterConfig{Connection: conn, Topic: inbound, Logger: logger})
	if err != nil {
		return benchReport{}, err
	}
	defer producer.Close()

	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	runDone := make(chan error, len(consumers))
	for _, c := range consumers {
		go func() { runDone <- c.Run(runCtx) }()
	}

	fmt.Fprintf(stdout, "bench %s: Kafka %s, Redis %s; %d partitions, %d detector instance(s), batches of up to %d (wait %s)\n",
		run, kafkaDesc, redisDesc, o.partitions, o.instances, cfg.Kafka.BatchSize, cfg.Kafka.BatchWait)

	// Warm-up: the group is joined and every connection open before
	// anything is timed. Its events are not part of any phase.
	warm, _, err := benchMix(run, "warmup", 4*o.partitions, benchOptions{senders: o.senders, employees: o.employees, scamShare: o.scamShare}, 7)
	if err != nil {
		return benchReport{}, err
	}
	if err := produceAll(ctx, producer, warm); err != nil {
		return benchReport{}, err
	}
	if err := waitOutcomes(ctx, counters, len(warm), runDone); err != nil {
		return benchReport{}, fmt.Errorf("warm-up: %w", err)
	}
	if len(consumers) > 1 {
		// Let every instance join the group, and the rebalance settle,
		// before anything is timed; a second warm-up proves the group works.
		select {
		case <-ctx.Done():
			return benchReport{}, ctx.Err()
		case <-time.After(3 * time.Second):
		}
		warm2, _, err := benchMix(run, "warmuptwo", 4*o.partitions, benchOptions{senders: o.senders, employees: o.employees, scamShare: o.scamShare}, 8)
		if err != nil {
			return benchReport{}, err
		}
		if err := produceAll(ctx, producer, warm2); err != nil {
			return benchReport{}, err
		}
		if err := waitOutcomes(ctx, counters, len(warm)+len(warm2), runDone); err != nil {
			return benchReport{}, fmt.Errorf("warm-up: %w", err)
		}
	}

	var rep benchReport
	phases := []struct {
		name string
		n    int
		rate float64
	}{{"full", o.n, 0}}
	if o.rate > 0 {
		n := o.pacedN
		if n == 0 {
			n = int(10 * o.rate)
		}
		phases = append(phases, struct {
			name string
			n    int
			rate float64
		}{"paced", n, o.rate})
	}
	for i, ph := range phases {
		evs, malformed, err := benchMix(run, ph.name, ph.n, o, uint64(i+1))
		if err != nil {
			return benchReport{}, err
		}
		before, batches0, _ := counters.snapshot()
		handling0, writing0 := counters.handlingTime(), timed.writingTime()
		var rt0 uint64
		if rt != nil {
			rt0 = rt.RoundTrips()
		}
		target := counters.total() + ph.n
		start := time.Now()
		var prodErr error
		var prodDone time.Time
		prodFinished := make(chan struct{})
		go func() {
			defer close(prodFinished)
			if ph.rate > 0 {
				prodErr = producePaced(ctx, producer, evs, ph.rate)
			} else {
				prodErr = produceAll(ctx, producer, evs)
			}
			prodDone = time.Now()
		}()
		waitErr := waitOutcomes(ctx, counters, target, runDone)
		<-prodFinished
		if prodErr != nil {
			return benchReport{}, prodErr
		}
		if waitErr != nil {
			return benchReport{}, fmt.Errorf("%s phase: %w", ph.name, waitErr)
		}
		after, batches1, last := counters.snapshot()
		pr := phaseReport{
			name:       ph.name,
			events:     ph.n,
			malformed:  malformed,
			rate:       float64(ph.n) / last.Sub(start).Seconds(),
			produced:   float64(ph.n) / prodDone.Sub(start).Seconds(),
			batches:    batches1 - batches0,
			alert:      after[detector.OutcomeAlert] - before[detector.OutcomeAlert],
			scored:     after[detector.OutcomeScored] - before[detector.OutcomeScored],
			deadLetter: after[detector.OutcomeDeadLetter] - before[detector.OutcomeDeadLetter],
		}
		if ph.rate > 0 {
			pr.name = fmt.Sprintf("paced at %.0f events/s", ph.rate)
		} else {
			pr.name = "full speed"
		}
		if rt != nil {
			pr.redisRT = rt.RoundTrips() - rt0
		}
		pr.wall = last.Sub(start)
		pr.handling = counters.handlingTime() - handling0
		pr.alertWriting = timed.writingTime() - writing0
		prefix := run + "-" + ph.name + "-"
		timed.mu.Lock()
		for id, d := range timed.at {
			if strings.HasPrefix(id, prefix) {
				pr.latency = append(pr.latency, d)
			}
		}
		timed.mu.Unlock()
		rep.phases = append(rep.phases, pr)
	}

	// Read the output topics back: what Kafka holds is what counts.
	totals, _, _ := counters.snapshot()
	alertMsgs, err := kafkaio.ReadTopic(ctx, conn, alertsTopic, totals[detector.OutcomeAlert])
	if err != nil {
		return benchReport{}, err
	}
	dlqMsgs, err := kafkaio.ReadTopic(ctx, conn, dlqTopic, totals[detector.OutcomeDeadLetter])
	if err != nil {
		return benchReport{}, err
	}
	stopRun()
	for range consumers {
		if err := <-runDone; err != nil {
			return benchReport{}, fmt.Errorf("consumer: %w", err)
		}
	}
	idPattern := regexp.MustCompile(regexp.QuoteMeta(run) + `-([a-z]+)-[0-9]+`)
	seen := map[string]int{}
	for _, m := range alertMsgs {
		var a models.Alert
		if err := json.Unmarshal(m.Value, &a); err != nil {
			return benchReport{}, fmt.Errorf("alert on %s is not valid JSON: %w", alertsTopic, err)
		}
		seen[a.EventID]++
	}
	for id, c := range seen {
		for i := range rep.phases {
			if strings.HasPrefix(id, run+"-"+phases[i].name+"-") {
				rep.phases[i].alertsOnTopic++
				rep.phases[i].alertDuplicates += c - 1
			}
		}
	}
	dlqSeen := map[string]bool{}
	for _, m := range dlqMsgs {
		id := idPattern.Find(m.Value)
		if id == nil || dlqSeen[string(id)] {
			continue
		}
		dlqSeen[string(id)] = true
		for i := range rep.phases {
			if bytes.HasPrefix(id, []byte(run+"-"+phases[i].name+"-")) {
				rep.phases[i].dlqOnTopic++
			}
		}
	}
	rep.peakRSS = peakRSS()
	printBench(stdout, rep)
	return rep, nil
}

func benchRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "b" + hex.EncodeToString(b)
}

// produceAll stamps and produces evs in chunks, two chunks in flight.
func produceAll(ctx context.Context, p *kafkaio.Producer, evs []benchEvent) error {
	const chunk = 1000
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for off := 0; off < len(evs); off += chunk {
		part := evs[off:min(off+chunk, len(evs))]
		sem <- struct{}{}
		if firstErr.Load() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := produceStamped(ctx, p, part, time.Now()); err != nil {
				firstErr.CompareAndSwap(nil, err)
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return err
	}
	return nil
}

// producePaced produces evs at rate events/s: every 5 ms the events due by
// then are stamped and handed to one of 8 producing goroutines, so that a
// slow acknowledgement does not hold the pace back.
func producePaced(ctx context.Context, p *kafkaio.Producer, evs []benchEvent, rate float64) error {
	const tick = 5 * time.Millisecond
	work := make(chan []benchEvent, 64)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for part := range work {
				if err := produceStamped(ctx, p, part, time.Now()); err != nil {
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	start := time.Now()
	t := time.NewTicker(tick)
	defer t.Stop()
	sent := 0
	for sent < len(evs) && firstErr.Load() == nil {
		select {
		case <-ctx.Done():
			sent = len(evs)
			firstErr.CompareAndSwap(nil, ctx.Err())
			continue
		case now := <-t.C:
			due := min(len(evs), int(rate*now.Sub(start).Seconds())+1)
			if due > sent {
				work <- evs[sent:due]
				sent = due
			}
		}
	}
	close(work)
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return err
	}
	return nil
}

func produceStamped(ctx context.Context, p *kafkaio.Producer, evs []benchEvent, at time.Time) error {
	vals := make([][]byte, len(evs))
	for i := range evs {
		evs[i].stamp(at)
		vals[i] = evs[i].value
	}
	return p.Produce(ctx, vals...)
}

// waitOutcomes waits until the consumer has reported at least n outcomes
// in all.
func waitOutcomes(ctx context.Context, c *benchCounters, n int, runDone <-chan error) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for c.total() < n {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d outcomes after the timeout: %w", c.total(), n, ctx.Err())
		case err := <-runDone:
			return fmt.Errorf("consumer stopped early: %v", err)
		case <-t.C:
		}
	}
	return nil
}

// peakRSS is VmHWM of this process, in bytes, or 0 where /proc is not.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			f := strings.Fields(rest) // "123456 kB"
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb << 10
				}
			}
		}
	}
	return 0
}

// percentile is the p-th percentile (0–100) of sorted ds, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func printBench(w io.Writer, r benchReport) {
	for i, p := range r.phases {
		lat := slices.Clone(p.latency)
		slices.Sort(lat)
		ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) }
		fmt.Fprintf(w, "\n%s: %d events\n", p.name, p.events)
		if i == 0 {
			// The headline: sustained end-to-end rate at full speed.
			fmt.Fprintf(w, "%.0f events/s\n", p.rate)
		} else {
			fmt.Fprintf(w, "  end to end           %.0f events/s\n", p.rate)
		}
		fmt.Fprintf(w, "  producer             %.0f events/s\n", p.produced)
		fmt.Fprintf(w, "  produce→alert        p50 %s ms  p95 %s ms  p99 %s ms  (%d alerted events)\n",
			ms(percentile(lat, 50)), ms(percentile(lat, 95)), ms(percentile(lat, 99)), len(lat))
		if p.batches > 0 {
			fmt.Fprintf(w, "  batches              %d, %.0f events each on average\n", p.batches, float64(p.events)/float64(p.batches))
			fmt.Fprintf(w, "  Redis round trips    %.2f per batch\n", float64(p.redisRT)/float64(p.batches))
			per := func(d time.Duration) string { return ms(d / time.Duration(p.batches)) }
			fmt.Fprintf(w, "  per batch            %s ms: engine %s (decode, Redis, scoring), alert writes %s, the rest (fetch, DLQ writes, commit, idle) %s\n",
				per(p.wall), per(p.handling), per(p.alertWriting), per(max(0, p.wall-p.handling-p.alertWriting)))
		}
		fmt.Fprintf(w, "  outcomes             alert %d + scored without alert %d + DLQ %d = %d of %d\n",
			p.alert, p.scored, p.deadLetter, p.alert+p.scored+p.deadLetter, p.events)
		fmt.Fprintf(w, "  on the topics        %d alerted events (%d duplicate alerts), %d in the DLQ (%d malformed produced)\n",
			p.alertsOnTopic, p.alertDuplicates, p.dlqOnTopic, p.malformed)
		if err := p.check(); err != nil {
			fmt.Fprintf(w, "  NOT ACCOUNTED FOR    %v\n", err)
		}
	}
	if r.peakRSS > 0 {
		fmt.Fprintf(w, "\npeak RSS %d MB (VmHWM of the bench process: detector, producer and readers, and in-process Kafka/Redis with --embedded)\n", r.peakRSS>>20)
	}
}

func (c *benchCounters) handlingTime() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.handling
}

func (t *timedAlerts) writingTime() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.writing
}

// roundTripSum adds up the Redis round trips of every instance's store.
type roundTripSum []*pipeline

func (ps roundTripSum) RoundTrips() uint64 {
	var n uint64
	for _, p := range ps {
		if r, ok := p.rep.(interface{ RoundTrips() uint64 }); ok {
			n += r.RoundTrips()
		}
	}
	return n
}
