package main

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"fraudwatch/detector/kafkaio"
	"fraudwatch/models"
)

// A SOC verdict on the feedback topic reaches reputation through `run`:
// after a "fraud" verdict on a sender's alert, the sender's next alert
// carries the reported-fraud reason and a higher score, and a verdict that
// cannot be read is dead-lettered. (That a verdict delivered twice counts
// once is the stores' conformance suite's to show.)
func TestRunAppliesSOCVerdictsFromTheFeedbackTopic(t *testing.T) {
	redisAddr := testRedis(t)
	in, alerts, dlq, fb := uniqueName("in-"), uniqueName("alerts-"), uniqueName("dlq-"), uniqueName("feedback-")
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, in, alerts, dlq, fb), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := ln.Addr().String()
	ln.Close()
	conn := kafkaio.Connection{Brokers: cluster.ListenAddrs()}
	ctx, stop, done, stderr := startRun(t, map[string]string{
		"FRAUDWATCH_KAFKA_BROKERS":  strings.Join(cluster.ListenAddrs(), ","),
		"FRAUDWATCH_KAFKA_GROUP_ID": uniqueName("g-"),
		"FRAUDWATCH_INBOUND_TOPIC":  in,
		"FRAUDWATCH_ALERTS_TOPIC":   alerts,
		"FRAUDWATCH_DLQ_TOPIC":      dlq,
		"FRAUDWATCH_FEEDBACK_TOPIC": fb,
		"FRAUDWATCH_BATCH_WAIT":     "5ms",
		"FRAUDWATCH_REDIS_ADDRS":    redisAddr,
		"FRAUDWATCH_REDIS_PREFIX":   uniqueName("fwfb:") + ":",
		"FRAUDWATCH_HMAC_SECRET":    testSecret,
		"FRAUDWATCH_OFFICIAL_LINES": "+74951234567",
		"FRAUDWATCH_HTTP_ADDR":      httpAddr,
		"FRAUDWATCH_LOG_FORMAT":     "text",
	}, 90*time.Second)
	waitHTTP(t, ctx, "http://"+httpAddr+"/readyz", 200)

	produce := func(topic string, values ...string) {
		t.Helper()
		p, err := kafkaio.NewProducer(kafkaio.WriterConfig{Connection: conn, Topic: topic})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		for _, v := range values {
			if err := p.Produce(ctx, []byte(v)); err != nil {
				t.Fatal(err)
			}
		}
	}
	event := func(id, text string) string {
		return fmt.Sprintf(`{"id":%q,"kind":"message","ts":%q,"from":"+79035557788","to":"emp-3","text":%q}`, id, time.Now().UTC().Format(time.RFC3339), text)
	}
	produce(in, event("fb-ev-1", "Это служба безопасности банка. Назовите код из СМС, чтобы остановить списание."))
	msgs, err := kafkaio.ReadTopic(ctx, conn, alerts, 1)
	if err != nil {
		t.Fatalf("no first alert: %v\n%s", err, stderr.String())
	}
	var first models.Alert
	if err := json.Unmarshal(msgs[0].Value, &first); err != nil {
		t.Fatal(err)
	}
	verdict := fmt.Sprintf(`{"id":"v-1","alert_id":%q,"sender_hash":%q,"verdict":"fraud","analyst":"soc-1"}`, first.ID, first.SenderHash)
	produce(fb, verdict, verdict, `{"alert_id":"fa_x","verdict":"probably"}`)
	dl, err := kafkaio.ReadTopic(ctx, conn, dlq, 1)
	if err != nil {
		t.Fatalf("the unreadable verdict was not dead-lettered: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(string(dl[0].Value), "probably") {
		t.Errorf("dead letter %q is not the unreadable verdict", dl[0].Value)
	}

	// The dead letter follows the valid verdicts in the same partition,
	// so they were applied (and committed) before it was written.
	produce(in, event("fb-ev-2", "Это служба безопасности банка. Назовите код из СМС, чтобы остановить списание."))
	msgs, err = kafkaio.ReadTopic(ctx, conn, alerts, 2)
	if err != nil {
		t.Fatalf("no second alert: %v\n%s", err, stderr.String())
	}
	var second models.Alert
	if err := json.Unmarshal(msgs[1].Value, &second); err != nil {
		t.Fatal(err)
	}
	rules := make([]string, 0, len(second.Reasons))
	for _, r := range second.Reasons {
		rules = append(rules, r.Rule)
	}
	if !slices.Contains(rules, "reputation.reported_fraud") || second.Score <= first.Score {
		t.Errorf("second alert: score %v (first %v), rules %v; want reputation.reported_fraud and a higher score", second.Score, first.Score, rules)
	}
	stop()
	if code := <-done; code != 0 {
		t.Fatalf("run exited %d:\n%s", code, stderr.String())
	}
}
