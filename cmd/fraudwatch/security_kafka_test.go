package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"fraudwatch/detector/kafkaio"
	"fraudwatch/models"
)

// apacheKafkaSASL returns the SASL_PLAINTEXT bootstrap address and the
// password of user "fraudwatch" of a real Apache Kafka started with
// FW_KAFKA_SASL_PASSWORD=... scripts/kafka/start DIR (the address is in
// DIR/sasl-bootstrap). The test is skipped without them: starting a second
// JVM broker is too heavy for every run on two cores.
func apacheKafkaSASL(t *testing.T) (broker, password string) {
	t.Helper()
	broker, password = os.Getenv("FW_TEST_KAFKA_SASL_BROKERS"), os.Getenv("FW_TEST_KAFKA_SASL_PASSWORD")
	if broker == "" || password == "" {
		t.Skip("FW_TEST_KAFKA_SASL_BROKERS and FW_TEST_KAFKA_SASL_PASSWORD are not set: start Kafka with FW_KAFKA_SASL_PASSWORD=PW scripts/kafka/start DIR, then set them to the address in DIR/sasl-bootstrap and PW")
	}
	return broker, password
}

// Each mechanism by name authenticates to real Apache Kafka (SASL_PLAINTEXT
// listener; SCRAM credentials made at format time), creates a topic,
// produces and reads back; a wrong password and a wrong mechanism are
// refused by the broker, and the error does not show the password.
func TestKafkaSASLAgainstApacheKafka(t *testing.T) {
	broker, password := apacheKafkaSASL(t)
	for _, tt := range []struct {
		name, mechanism, password string
		wantErr                   string
	}{
		{"PLAIN", "PLAIN", password, ""},
		{"SCRAM-SHA-256", "SCRAM-SHA-256", password, ""},
		{"SCRAM-SHA-512", "SCRAM-SHA-512", password, ""},
		{"a wrong SCRAM-SHA-512 password", "SCRAM-SHA-512", "wrong-" + password, "SASL Authentication Failed"},
		{"a wrong PLAIN password", "PLAIN", "wrong-" + password, "SASL Authentication Failed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			conn, err := KafkaConfig{Brokers: []string{broker}, SASL: KafkaSASLConfig{Mechanism: tt.mechanism, Username: "fraudwatch", Password: tt.password}}.connection("security-test")
			if err != nil {
				t.Fatal(err)
			}
			topic := uniqueName("sasl-")
			err = kafkaio.EnsureTopics(ctx, conn, 1, 1, topic)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("EnsureTopics: %v, want an error containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), tt.password) {
					t.Fatalf("the error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p, err := kafkaio.NewProducer(kafkaio.WriterConfig{Connection: conn, Topic: topic})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if err := p.Produce(ctx, []byte(`{"n":1}`)); err != nil {
				t.Fatal(err)
			}
			if msgs, err := kafkaio.ReadTopic(ctx, conn, topic, 1); err != nil || len(msgs) != 1 {
				t.Fatalf("ReadTopic: %d records, %v", len(msgs), err)
			}
		})
	}
}

// `fraudwatch run` with SCRAM-SHA-512 from the environment against real
// Apache Kafka: an inbound scam becomes an alert, and the password is in
// no log line and not on /metrics.
func TestRunWithSCRAMAgainstApacheKafka(t *testing.T) {
	broker, password := apacheKafkaSASL(t)
	redisAddr := testRedis(t)
	ctx0, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := KafkaConfig{Brokers: []string{broker}, SASL: KafkaSASLConfig{Mechanism: "SCRAM-SHA-512", Username: "fraudwatch", Password: password}}.connection("security-test")
	if err != nil {
		t.Fatal(err)
	}
	in, alerts, dlq := uniqueName("in-"), uniqueName("alerts-"), uniqueName("dlq-")
	if err := kafkaio.EnsureTopics(ctx0, conn, 1, 1, in, alerts, dlq); err != nil {
		t.Fatal(err)
	}
	httpAddr := freeAddr(t)
	env := map[string]string{
		"FRAUDWATCH_KAFKA_BROKERS":        broker,
		"FRAUDWATCH_KAFKA_GROUP_ID":       uniqueName("g-"),
		"FRAUDWATCH_INBOUND_TOPIC":        in,
		"FRAUDWATCH_ALERTS_TOPIC":         alerts,
		"FRAUDWATCH_DLQ_TOPIC":            dlq,
		"FRAUDWATCH_FEEDBACK_TOPIC":       "",
		"FRAUDWATCH_BATCH_WAIT":           "5ms",
		"FRAUDWATCH_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
		"FRAUDWATCH_KAFKA_SASL_USERNAME":  "fraudwatch",
		"FRAUDWATCH_KAFKA_SASL_PASSWORD":  password,
		"FRAUDWATCH_REDIS_ADDRS":          redisAddr,
		"FRAUDWATCH_REDIS_PREFIX":         uniqueName("fwsasl:") + ":",
		"FRAUDWATCH_HMAC_SECRET":          testSecret,
		"FRAUDWATCH_OFFICIAL_LINES":       "+7 495 123-45-67",
		"FRAUDWATCH_HTTP_ADDR":            httpAddr,
		"FRAUDWATCH_LOG_LEVEL":            "debug",
	}
	ctx, stop, done, stderr := startRun(t, env, 120*time.Second)
	waitHTTP(t, ctx, "http://"+httpAddr+"/readyz", http.StatusOK)
	p, err := kafkaio.NewProducer(kafkaio.WriterConfig{Connection: conn, Topic: in})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	scam := `{"id":"sasl-1","kind":"message","ts":"` + time.Now().UTC().Format(time.RFC3339) + `","from":"+79169876543","to":"emp-7","text":"Здравствуйте, это служба безопасности банка. Продиктуйте код из СМС, чтобы отменить перевод."}`
	if err := p.Produce(ctx, []byte(scam)); err != nil {
		t.Fatal(err)
	}
	msgs, err := kafkaio.ReadTopic(ctx, conn, alerts, 1)
	if err != nil {
		t.Fatalf("no alert: %v\nlogs:\n%s", err, stderr.String())
	}
	var a models.Alert
	if err := json.Unmarshal(msgs[0].Value, &a); err != nil || a.EventID != "sasl-1" {
		t.Fatalf("alert %+v, %v", a, err)
	}
	metrics := get(t, "http://"+httpAddr+"/metrics")
	stop()
	if code := <-done; code != 0 {
		t.Fatalf("run exited %d:\n%s", code, stderr.String())
	}
	if strings.Contains(stderr.String(), password) || strings.Contains(metrics, password) {
		t.Errorf("the password is in the logs or on /metrics")
	}
}
