package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/twmb/franz-go/pkg/kfake"

	"fraudwatch/detector"
	"fraudwatch/detector/kafkaio"
	"fraudwatch/fixtures"
	"fraudwatch/models"
)

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	verbose := fs.Bool("verbose", false, "log the consumer's progress to stderr")
	timeout := fs.Duration("timeout", 90*time.Second, "give up if the demo has not finished after this long")
	triageAddr := fs.String("triage", "", "after the replay, serve the SOC console and API on `ADDR` (e.g. 127.0.0.1:8090) until Ctrl-C: the fixtures' alerts as incidents")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: fraudwatch demo [--verbose] [--triage ADDR]\n\nStarts an in-process Kafka broker and Redis, produces the fixture events (and a few broken records)\nto the inbound topic, runs the real consumer path, prints every alert read back from the alerts topic\nand a summary. Nothing to install.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	var triageLn net.Listener
	if *triageAddr != "" {
		ln, err := net.Listen("tcp", *triageAddr)
		if err != nil {
			return fmt.Errorf("--triage %s: %w", *triageAddr, err)
		}
		defer ln.Close()
		triageLn = ln
	}
	serveCtx := ctx
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	const inbound, alertsTopic, dlqTopic, feedbackTopic = "whatsapp.inbound", "fraud.alerts", "whatsapp.inbound.dlq", "fraud.feedback"
	cluster, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.SeedTopics(3, inbound, alertsTopic, dlqTopic, feedbackTopic),
		kfake.GroupMinSessionTimeout(time.Second),
	)
	if err != nil {
		return fmt.Errorf("starting in-process Kafka: %w", err)
	}
	defer cluster.Close()
	redis, err := miniredis.Run()
	if err != nil {
		return fmt.Errorf("starting in-process Redis: %w", err)
	}
	defer redis.Close()
	conn := kafkaio.Connection{Brokers: cluster.ListenAddrs()}
	fmt.Fprintf(stdout, "in-process Kafka at %s, Redis at %s\n", strings.Join(conn.Brokers, ","), redis.Addr())

	rows, raws, err := demoEvents()
	if err != nil {
		return err
	}
	// The demo replays the fixtures as if live: its clock stands just after
	// the last of them, whatever day it runs.
	clock := &replayClock{}
	for _, r := range rows {
		clock.Advance(r.TS.Add(time.Minute))
	}
	s := settings{
		now:           clock.Now,
		region:        "RU",
		directoryName: "fixtures/directory.yaml (built in)",
		directory:     fixtures.Directory(),
		minSeverity:   models.SeverityMedium,
		hmacVersion:   "demo",
		hmacSecret:    "demo-only-secret-not-for-production",
		redis:         RedisConfig{Addrs: []string{redis.Addr()}, Prefix: "fw:", IDRetention: 7 * 24 * time.Hour},
		logger:        logger,
		// A day of traffic arrives at once: with the default 15 minutes
		// nearly every alert would be marked stale (SOC only). The demo
		// shows the alerts as employees would have got them live.
		staleAfter: 24 * time.Hour,
	}
	p, err := newPipeline(ctx, s, true)
	if err != nil {
		return err
	}
	defer p.Close()

	var mu sync.Mutex
	outcomes := map[detector.Outcome]int{}
	consumer, err := kafkaio.New(kafkaio.Config{
		Connection:        conn,
		GroupID:           "fraudwatch-demo",
		InboundTopic:      inbound,
		AlertsTopic:       alertsTopic,
		DLQTopic:          dlqTopic,
		BatchSize:         100,
		BatchWait:         20 * time.Millisecond,
		SessionTimeout:    6 * time.Second,
		HeartbeatInterval: 500 * time.Millisecond,
		JoinGroupBackoff:  200 * time.Millisecond,
		ReadBackoffMin:    10 * time.Millisecond,
		ReadBackoffMax:    100 * time.Millisecond,
		FetchMaxWait:      100 * time.Millisecond,
		Logger:            logger,
		Observer: kafkaio.Observer{Outcomes: func(o detector.Outcome, n int) {
			mu.Lock()
			outcomes[o] += n
			mu.Unlock()
		}},
	}, p.engine)
	if err != nil {
		return err
	}
	defer consumer.Close()

	producer, err := kafkaio.NewProducer(kafkaio.WriterConfig{Connection: conn, Topic: inbound, Logger: logger})
	if err != nil {
		return err
	}
	defer producer.Close()
	if err := producer.Produce(ctx, raws...); err != nil {
		return fmt.Errorf("producing fixtures: %w", err)
	}
	fmt.Fprintf(stdout, "produced %d events (%d fixtures, %d broken records) to %s\n\n", len(raws), len(rows), len(raws)-len(rows), inbound)

	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	runDone := make(chan error, 1)
	go func() { runDone <- consumer.Run(runCtx) }()

	// Wait until every record has its outcome, then read the alerts back
	// from the topic: what is printed is what Kafka holds.
	total := func() (n int, alertCount int) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range outcomes {
			n += c
		}
		return n, outcomes[detector.OutcomeAlert]
	}
	for {
		if n, _ := total(); n >= len(raws) {
			break
		}
		select {
		case <-ctx.Done():
			stopRun()
			n, _ := total()
			return fmt.Errorf("demo timed out with %d of %d events processed", n, len(raws))
		case err := <-runDone:
			return fmt.Errorf("consumer stopped early: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	_, wantAlerts := total()
	alerts, err := readAlerts(ctx, conn, alertsTopic, wantAlerts)
	if err != nil {
		stopRun()
		return err
	}
	dlq, err := kafkaio.ReadTopic(ctx, conn, dlqTopic, len(raws)-len(rows))
	if err != nil {
		stopRun()
		return err
	}
	stopRun()
	if err := <-runDone; err != nil {
		return fmt.Errorf("consumer: %w", err)
	}

	sort.Slice(alerts, func(i, j int) bool { return alerts[i].EventTime.Before(alerts[j].EventTime) })
	for _, a := range alerts {
		fmt.Fprintln(stdout, alertLine(a))
	}
	fmt.Fprintln(stdout)
	for _, m := range dlq {
		fmt.Fprintf(stdout, "DLQ       %-40s %s\n", excerptLine(m.Value, 40), m.Headers["fw-reason"])
	}
	fmt.Fprintln(stdout)
	mu.Lock()
	printDemoSummary(stdout, rows, alerts, outcomes)
	mu.Unlock()
	if triageLn == nil {
		return nil
	}
	t := &demoTriage{conn: conn, redisAddr: redis.Addr(), p: p, logger: logger, Tokens: newDemoTokens(),
		topics: demoTopics{inbound: inbound, alerts: alertsTopic, dlq: dlqTopic, feedback: feedbackTopic}}
	return t.Run(serveCtx, triageLn, stdout)
}

// demoEvents returns the fixture rows and the raw records to produce: the
// fixtures in file order, then the broken records.
func demoEvents() ([]models.LabeledEvent, [][]byte, error) {
	// Records no integration should send: the demo shows them landing in
	// the dead-letter topic with their reasons, stopping nothing.
	broken := []string{
		`{"id":"demo-broken-1","kind":"sms","ts":"2026-11-26T09:00:00Z","to":"emp-1042","text":"unknown kind"}`,
		`{"id":"demo-broken-2","kind":"message","ts":"yesterday","to":"emp-1042","text":"bad time"}`,
		`this is not JSON at all`,
	}
	var rows []models.LabeledEvent
	var raws [][]byte
	sc := bufio.NewScanner(bytes.NewReader(fixtures.Events()))
	sc.Buffer(make([]byte, 64*1024), maxLineBytes)
	for line := 1; sc.Scan(); line++ {
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		row, err := models.DecodeCorpusRow(raw, models.DecodeOptions{NormalizeSender: func(s string) (string, bool) { return s, true }})
		if err != nil {
			return nil, nil, fmt.Errorf("fixtures/events.jsonl:%d: %w", line, err)
		}
		rows = append(rows, row)
		raws = append(raws, append([]byte(nil), raw...))
	}
	for _, b := range broken {
		raws = append(raws, []byte(b))
	}
	return rows, raws, sc.Err()
}

func readAlerts(ctx context.Context, conn kafkaio.Connection, topic string, n int) ([]models.Alert, error) {
	msgs, err := kafkaio.ReadTopic(ctx, conn, topic, n)
	if err != nil {
		return nil, err
	}
	out := make([]models.Alert, 0, len(msgs))
	for _, m := range msgs {
		var a models.Alert
		if err := json.Unmarshal(m.Value, &a); err != nil {
			return nil, fmt.Errorf("alert on %s is not valid JSON: %w", topic, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// alertLine is one readable line per alert: severity, categories, masked
// sender, employee and the first reason.
func alertLine(a models.Alert) string {
	cats := make([]string, len(a.Categories))
	for i, c := range a.Categories {
		cats[i] = string(c)
	}
	sender := a.Sender
	if sender == "" {
		sender = "(no number)"
	}
	first := ""
	if len(a.Reasons) > 0 {
		r := a.Reasons[0]
		first = r.Rule
		if r.Evidence != "" {
			ev, cut := models.TruncateRunes(r.Evidence, 60)
			if cut {
				ev += "…"
			}
			first += ": " + fmt.Sprintf("%q", ev)
		}
	}
	var marks []string
	if a.Campaign != "" {
		marks = append(marks, "campaign "+a.Campaign)
	}
	if a.FirstContact {
		marks = append(marks, "first contact")
	}
	if a.Stale {
		marks = append(marks, "stale: SOC only")
	}
	if len(marks) > 0 {
		first += "  [" + strings.Join(marks, ", ") + "]"
	}
	return fmt.Sprintf("%-8s %-50s %-14s → %-9s %s", strings.ToUpper(a.Severity.String()), strings.Join(cats, ","), sender, a.Employee, first)
}

func excerptLine(b []byte, n int) string {
	s, cut := models.TruncateRunes(strings.ToValidUTF8(string(b), "?"), n)
	if cut {
		s += "…"
	}
	return s
}

func printDemoSummary(w io.Writer, rows []models.LabeledEvent, alerts []models.Alert, outcomes map[detector.Outcome]int) {
	alerted := map[string]models.Alert{}
	for _, a := range alerts {
		alerted[a.EventID] = a
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SUMMARY\t")
	fmt.Fprintf(tw, "events processed\t%d\n", outcomes[detector.OutcomeAlert]+outcomes[detector.OutcomeScored]+outcomes[detector.OutcomeDeadLetter])
	fmt.Fprintf(tw, "  alert\t%d\n", outcomes[detector.OutcomeAlert])
	fmt.Fprintf(tw, "  scored, no alert\t%d\n", outcomes[detector.OutcomeScored])
	fmt.Fprintf(tw, "  dead letter\t%d\n", outcomes[detector.OutcomeDeadLetter])
	bySev := map[models.Severity]int{}
	byCat := map[models.Category]int{}
	for _, a := range alerts {
		bySev[a.Severity]++
		for _, c := range a.Categories {
			byCat[c]++
		}
	}
	fmt.Fprintln(tw, "alerts by severity\t")
	for s := models.SeverityCritical; s >= models.SeverityLow; s-- {
		if bySev[s] > 0 {
			fmt.Fprintf(tw, "  %s\t%d\n", s, bySev[s])
		}
	}
	fmt.Fprintln(tw, "alerts by category\t")
	for _, c := range models.AllCategories() {
		if byCat[c] > 0 {
			fmt.Fprintf(tw, "  %s\t%d\n", c, byCat[c])
		}
	}
	var scams, caught, ham, falseAlarms int
	var missed, wrong []string
	for _, r := range rows {
		_, hit := alerted[r.ID]
		switch {
		case r.Label.Positive():
			scams++
			if hit {
				caught++
			} else {
				missed = append(missed, r.ID)
			}
		default:
			ham++
			if hit {
				falseAlarms++
				wrong = append(wrong, r.ID)
			}
		}
	}
	printCrossEvent(tw, alerts)
	fmt.Fprintf(tw, "fixture scams and spam alerted\t%d of %d\n", caught, scams)
	fmt.Fprintf(tw, "fixture legitimate events alerted\t%d of %d\n", falseAlarms, ham)
	tw.Flush()
	if len(missed) > 0 {
		fmt.Fprintf(w, "not alerted (below the medium minimum): %s\n", strings.Join(missed, ", "))
	}
	if len(wrong) > 0 {
		fmt.Fprintf(w, "legitimate events alerted: %s\n", strings.Join(wrong, ", "))
	}
}

// printCrossEvent summarises what only state across events shows:
// campaigns with the alerts that share their id, call patterns, first
// contacts and attachments.
func printCrossEvent(tw io.Writer, alerts []models.Alert) {
	type campaign struct {
		alerts             int
		senders, employees map[string]bool
	}
	campaigns := map[string]*campaign{}
	var firstContact, callPattern, attachment int
	for _, a := range alerts {
		if a.FirstContact {
			firstContact++
		}
		if slices.Contains(a.Categories, models.CategoryCallPattern) {
			callPattern++
		}
		if slices.Contains(a.Categories, models.CategoryAttachment) {
			attachment++
		}
		if a.Campaign == "" {
			continue
		}
		c := campaigns[a.Campaign]
		if c == nil {
			c = &campaign{senders: map[string]bool{}, employees: map[string]bool{}}
			campaigns[a.Campaign] = c
		}
		c.alerts++
		c.senders[a.SenderHash] = true
		c.employees[a.Employee] = true
	}
	fmt.Fprintln(tw, "across events\t")
	fmt.Fprintf(tw, "  alerts on a first contact\t%d\n", firstContact)
	fmt.Fprintf(tw, "  call-pattern alerts\t%d\n", callPattern)
	fmt.Fprintf(tw, "  attachment alerts\t%d\n", attachment)
	ids := make([]string, 0, len(campaigns))
	for id := range campaigns {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		c := campaigns[id]
		fmt.Fprintf(tw, "  campaign %s\t%d alerts, %d numbers, %d employees\n", id, c.alerts, len(c.senders), len(c.employees))
	}
}
