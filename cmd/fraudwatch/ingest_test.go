package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"fraudwatch/detector/ingest"
	"fraudwatch/detector/kafkaio"
	"fraudwatch/models"
)

const (
	ingestToken  = "ingest-verify-token-test"
	ingestSecret = "ingest-app-secret-test-0123"
)

// startIngest sets exactly env (every other config variable unset) and
// runs `fraudwatch ingest` in the background, like startRun.
func startIngest(t *testing.T, env map[string]string, timeout time.Duration) (ctx context.Context, stop context.CancelFunc, done <-chan int, stderr *syncBuffer) {
	t.Helper()
	for _, v := range EnvVars() {
		t.Setenv(v.Name, env[v.Name])
	}
	clearEmptyEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	runCtx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	stderr = &syncBuffer{}
	ch := make(chan int, 1)
	go func() { ch <- dispatch(runCtx, []string{"ingest"}, nil, &bytes.Buffer{}, stderr) }()
	return ctx, stop, ch, stderr
}

func webhookPayload(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../detector/ingest/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func postWebhook(t *testing.T, url string, body []byte, sig string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if sig != "" {
		req.Header.Set(ingest.SignatureHeader, sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// `fraudwatch ingest` over real HTTP and in-process Kafka: a correctly
// signed payload lands on the inbound topic, keyed by sender, in the
// format `run` reads; refused and status-only requests write nothing;
// /metrics counts each result; the log carries no body and no secret.
func TestIngestWritesSignedWebhooksToTheInboundTopic(t *testing.T) {
	in := uniqueName("in-")
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, in))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	addr := freeAddr(t)
	env := map[string]string{
		"FRAUDWATCH_KAFKA_BROKERS":         strings.Join(cluster.ListenAddrs(), ","),
		"FRAUDWATCH_INBOUND_TOPIC":         in,
		"FRAUDWATCH_INGEST_ADDR":           addr,
		"FRAUDWATCH_INGEST_VERIFY_TOKEN":   ingestToken,
		"FRAUDWATCH_INGEST_APP_SECRET":     ingestSecret,
		"FRAUDWATCH_INGEST_EMPLOYEES":      "106540352242922=emp-1042",
		"FRAUDWATCH_INGEST_MAX_BODY_BYTES": "65536",
		"FRAUDWATCH_LOG_FORMAT":            "text",
	}
	ctx, stop, done, stderr := startIngest(t, env, 60*time.Second)
	base := "http://" + addr
	waitServing(t, ctx, base+"/healthz", done, stderr)

	// Handshake.
	resp, err := http.Get(base + "/webhook?hub.mode=subscribe&hub.verify_token=" + ingestToken + "&hub.challenge=8734")
	if err != nil {
		t.Fatal(err)
	}
	challenge, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(challenge) != "8734" {
		t.Errorf("handshake: %d %q", resp.StatusCode, challenge)
	}
	resp, err = http.Get(base + "/webhook?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=8734")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("handshake with a wrong token: %d, want 403", resp.StatusCode)
	}

	media := webhookPayload(t, "media.json")
	text := webhookPayload(t, "text_forwarded.json")
	big := append(bytes.Repeat([]byte(" "), 65536), text...)
	for _, tc := range []struct {
		name string
		body []byte
		sig  string
		want int
	}{
		{"unsigned", text, "", http.StatusUnauthorized},
		{"signed with another secret", text, ingest.Sign("not-the-secret", text), http.StatusForbidden},
		{"oversized", big, ingest.Sign(ingestSecret, big), http.StatusRequestEntityTooLarge},
		{"status updates only", webhookPayload(t, "statuses.json"), ingest.Sign(ingestSecret, webhookPayload(t, "statuses.json")), http.StatusOK},
		{"five messages", media, ingest.Sign(ingestSecret, media), http.StatusOK},
		{"one forwarded text", text, ingest.Sign(ingestSecret, text), http.StatusOK},
	} {
		if code := postWebhook(t, base+"/webhook", tc.body, tc.sig); code != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, code, tc.want)
		}
	}

	// Exactly the six accepted messages are on the topic: asking for one
	// more waits in vain.
	readCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	msgs, _ := kafkaio.ReadTopic(readCtx, kafkaio.Connection{Brokers: cluster.ListenAddrs()}, in, 7)
	cancel()
	if len(msgs) != 6 {
		t.Fatalf("%d records on the inbound topic, want 6", len(msgs))
	}
	partitionOf := map[string]int{}
	for _, m := range msgs {
		ev, err := models.DecodeEvent(m.Value, models.DecodeOptions{})
		if err != nil {
			t.Fatalf("record %s does not decode as an inbound event: %v", m.Value, err)
		}
		if string(m.Key) != ev.FromRaw || ev.To != "emp-1042" || ev.Kind != models.KindMessage {
			t.Errorf("record key %q, event %+v", m.Key, ev)
		}
		if p, ok := partitionOf[ev.FromRaw]; ok && p != m.Partition {
			t.Errorf("sender %s on partitions %d and %d", ev.FromRaw, p, m.Partition)
		}
		partitionOf[ev.FromRaw] = m.Partition
		if ev.ID == "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAEhgUM0FGMDQ4QkU2RjE3MjQ5OUQ5QjUA" &&
			(len(ev.Media) != 1 || ev.Media[0].Filename != "Bank_Support.apk" || ev.FromName != "Bank Support") {
			t.Errorf("the APK message lost its attachment or name: %+v", ev)
		}
	}

	metrics := get(t, base+"/metrics")
	for series, want := range map[string]float64{
		`fraudwatch_ingest_requests_total{result="accepted"}`:          3,
		`fraudwatch_ingest_requests_total{result="verified"}`:          1,
		`fraudwatch_ingest_requests_total{result="bad_verify"}`:        1,
		`fraudwatch_ingest_requests_total{result="missing_signature"}`: 1,
		`fraudwatch_ingest_requests_total{result="bad_signature"}`:     1,
		`fraudwatch_ingest_requests_total{result="too_large"}`:         1,
		`fraudwatch_ingest_events_total`:                               6,
	} {
		if got := sample(metrics, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	for _, leak := range []string{ingestSecret, ingestToken, "447700900123"} {
		if strings.Contains(metrics, leak) {
			t.Errorf("/metrics contains %q", leak)
		}
	}

	stop()
	if code := <-done; code != 0 {
		t.Fatalf("ingest exited %d:\n%s", code, stderr.String())
	}
	logs := stderr.String()
	for _, leak := range []string{ingestSecret, ingestToken, "Продиктуйте", "Install the protection", "79169876543"} {
		if strings.Contains(logs, leak) {
			t.Errorf("logs contain %q:\n%s", leak, logs)
		}
	}
}

// A write Kafka does not acknowledge answers 5xx, so Meta retries.
func TestIngestAnswers503WhenTheTopicCannotBeWritten(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1)) // no topic, and none auto-created
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	addr := freeAddr(t)
	ctx, stop, done, stderr := startIngest(t, map[string]string{
		"FRAUDWATCH_KAFKA_BROKERS":        strings.Join(cluster.ListenAddrs(), ","),
		"FRAUDWATCH_INBOUND_TOPIC":        uniqueName("missing-"),
		"FRAUDWATCH_INGEST_ADDR":          addr,
		"FRAUDWATCH_INGEST_VERIFY_TOKEN":  ingestToken,
		"FRAUDWATCH_INGEST_APP_SECRET":    ingestSecret,
		"FRAUDWATCH_INGEST_WRITE_TIMEOUT": "1s",
		"FRAUDWATCH_LOG_FORMAT":           "text",
	}, 60*time.Second)
	waitServing(t, ctx, "http://"+addr+"/healthz", done, stderr)
	body := webhookPayload(t, "text_forwarded.json")
	if code := postWebhook(t, "http://"+addr+"/webhook", body, ingest.Sign(ingestSecret, body)); code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", code)
	}
	stop()
	<-done
	if !strings.Contains(stderr.String(), "Meta retries") {
		t.Errorf("the failed write is not logged:\n%s", stderr.String())
	}
}

func TestIngestRefusesToStartWithoutItsSecrets(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"without a verify token", map[string]string{"FRAUDWATCH_INGEST_APP_SECRET": ingestSecret}, "FRAUDWATCH_INGEST_VERIFY_TOKEN"},
		{"without an app secret", map[string]string{"FRAUDWATCH_INGEST_VERIFY_TOKEN": ingestToken}, "FRAUDWATCH_INGEST_APP_SECRET"},
		{"with a malformed employee pair", map[string]string{"FRAUDWATCH_INGEST_VERIFY_TOKEN": ingestToken, "FRAUDWATCH_INGEST_APP_SECRET": ingestSecret, "FRAUDWATCH_INGEST_EMPLOYEES": "106540352242922"}, "want NUMBER=EMPLOYEE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, done, stderr := startIngest(t, tc.env, 10*time.Second)
			if code := <-done; code != 1 || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want 1 mentioning %q", code, stderr.String(), tc.want)
			}
			if strings.Contains(stderr.String(), ingestSecret) {
				t.Errorf("the secret is echoed: %q", stderr.String())
			}
		})
	}
}

func TestTheEmployeesFileIsMergedWithThePairs(t *testing.T) {
	file := writeConfig(t, "\"106540352242922\": emp-1042\n\"+7 495 111-22-44\": emp-2014\n")
	m, err := IngestConfig{EmployeesFile: file, Employees: []string{"106540352242999=emp-3000"}}.employeeMap()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(m)
	if len(m) != 3 || m["106540352242922"] != "emp-1042" || m["+7 495 111-22-44"] != "emp-2014" || m["106540352242999"] != "emp-3000" {
		t.Errorf("map %s", b)
	}
	if _, err := (IngestConfig{EmployeesFile: writeConfig(t, "- a list\n")}).employeeMap(); err == nil {
		t.Error("a file that is not a map is accepted")
	}
}

// Container healthchecks run `fraudwatch probe`: 200 is healthy, anything
// else (including no answer) is not.
func TestProbeSucceedsOnlyOn200(t *testing.T) {
	var ready atomic.Bool
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	for _, tc := range []struct {
		name  string
		ready bool
		url   string
		want  int
	}{
		{"a 200 answer", true, srv + "/metrics", 0},
		{"a 503 answer", false, srv + "/metrics", 1},
		{"no answer", true, "http://" + freeAddr(t) + "/healthz", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ready.Store(tc.ready)
			if code := dispatch(context.Background(), []string{"probe", "--timeout", "2s", tc.url}, nil, &bytes.Buffer{}, &bytes.Buffer{}); code != tc.want {
				t.Errorf("exit %d, want %d", code, tc.want)
			}
		})
	}
}
