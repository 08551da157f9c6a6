package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"fraudwatch/detector"
	"fraudwatch/detector/kafkaio"
	"fraudwatch/detector/triage"
	"fraudwatch/detector/triage/httpapi"
)

// demoTriage serves the SOC console over the demo's in-process Kafka and
// Redis: triage consumes the alerts the demo made, and the detector's
// feedback consumer applies the verdicts given in the console, as
// `run` does. It runs until ctx ends (Ctrl-C).
type demoTriage struct {
	conn      kafkaio.Connection
	redisAddr string
	p         *pipeline
	topics    demoTopics
	logger    *slog.Logger
	// Tokens are the console's sign-in tokens, made at random per run.
	Tokens []httpapi.Token
}

// demoTopics are the topics of the demo's broker.
type demoTopics struct{ inbound, alerts, dlq, feedback string }

// newDemoTokens makes one analyst and one admin token.
func newDemoTokens() []httpapi.Token {
	tok := func() string {
		b := make([]byte, 18)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	}
	return []httpapi.Token{
		{Name: "demo-analyst", Role: triage.RoleAnalyst, Token: tok()},
		{Name: "demo-second-analyst", Role: triage.RoleAnalyst, Token: tok()},
		{Name: "demo-admin", Role: triage.RoleAdmin, Token: tok()},
	}
}

// config is the triage configuration of the demo.
func (d *demoTriage) config() Config {
	cfg := DefaultConfig()
	cfg.Kafka.Brokers = d.conn.Brokers
	cfg.Kafka.GroupID = "fraudwatch-demo"
	cfg.Kafka.AlertsTopic, cfg.Kafka.DLQTopic, cfg.Kafka.FeedbackTopic = d.topics.alerts, d.topics.dlq, d.topics.feedback
	cfg.Kafka.BatchWait = 20 * time.Millisecond
	cfg.Redis.Addrs = []string{d.redisAddr}
	cfg.Triage.Tokens = d.Tokens
	// The demo's alerts arrive at once: raise incidents without waiting.
	cfg.Triage.GroupWait = time.Second
	return cfg
}

// Run serves triage on ln and applies verdicts until ctx ends.
func (d *demoTriage) Run(ctx context.Context, ln net.Listener, stdout io.Writer) error {
	h, err := detector.NewFeedbackHandler(d.p.feedback, detector.FeedbackConfig{Logger: d.logger})
	if err != nil {
		return err
	}
	fc, err := kafkaio.New(kafkaio.Config{
		Connection: d.conn, GroupID: "fraudwatch-demo-feedback", InboundTopic: d.topics.feedback,
		AlertsTopic: d.topics.alerts, DLQTopic: d.topics.dlq, BatchWait: 20 * time.Millisecond,
		SessionTimeout: 6 * time.Second, HeartbeatInterval: 500 * time.Millisecond, JoinGroupBackoff: 200 * time.Millisecond,
		FetchMaxWait: 100 * time.Millisecond, Logger: d.logger.With("consumer", "feedback"),
	}, h)
	if err != nil {
		return err
	}
	defer fc.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fbDone := make(chan error, 1)
	go func() { fbDone <- fc.Run(ctx) }()

	fmt.Fprintf(stdout, "\nSOC console: http://%s/ (Ctrl-C stops the demo)\n", ln.Addr())
	for _, t := range d.Tokens {
		fmt.Fprintf(stdout, "  sign in as %-20s (%s): %s\n", t.Name, t.Role, t.Token)
	}
	err = runTriage(ctx, d.config(), ln, d.logger)
	cancel()
	if fbErr := <-fbDone; err == nil && fbErr != nil && !errors.Is(fbErr, context.Canceled) {
		err = fmt.Errorf("feedback consumer: %w", fbErr)
	}
	return err
}
