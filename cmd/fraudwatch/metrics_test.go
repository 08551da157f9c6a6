package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"fraudwatch/detector/kafkaio"
)

// shadowRule is appended to the built-in rules: it fires on every message
// and never counts, so the shadow-hit series has something to show.
const shadowRule = `
  - id: test.shadow_every_message
    category: spam
    description: "Test only: a shadow rule that fires on every message."
    when: is_message
    weight: 1
    shadow: true
`

// `run` over in-process Kafka and the test redis-server: after a batch
// with an alert, a scored event and a dead letter, /metrics on run's
// health listener shows every series of the README with the values the
// batch implies, and neither the secret nor a number nor a body.
func TestRunExposesMetricsAfterABatch(t *testing.T) {
	redisAddr := testRedis(t)
	in, alerts, dlq, fb := uniqueName("in-"), uniqueName("alerts-"), uniqueName("dlq-"), uniqueName("fb-")
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, in, alerts, dlq, fb), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	builtin, err := os.ReadFile("../../detector/rules/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rulesFile, append(builtin, shadowRule...), 0o600); err != nil {
		t.Fatal(err)
	}
	httpAddr := freeAddr(t)
	env := map[string]string{
		"FRAUDWATCH_KAFKA_BROKERS":  strings.Join(cluster.ListenAddrs(), ","),
		"FRAUDWATCH_KAFKA_GROUP_ID": uniqueName("g-"),
		"FRAUDWATCH_INBOUND_TOPIC":  in,
		"FRAUDWATCH_ALERTS_TOPIC":   alerts,
		"FRAUDWATCH_DLQ_TOPIC":      dlq,
		"FRAUDWATCH_FEEDBACK_TOPIC": fb,
		"FRAUDWATCH_BATCH_WAIT":     "200ms",
		"FRAUDWATCH_REDIS_ADDRS":    redisAddr,
		"FRAUDWATCH_REDIS_PREFIX":   uniqueName("fwmetrics:") + ":",
		"FRAUDWATCH_HMAC_SECRET":    testSecret,
		"FRAUDWATCH_OFFICIAL_LINES": "+7 495 123-45-67",
		"FRAUDWATCH_RULES":          rulesFile,
		"FRAUDWATCH_HTTP_ADDR":      httpAddr,
		"FRAUDWATCH_LOG_FORMAT":     "text",
	}
	ctx, stop, done, stderr := startRun(t, env, 60*time.Second)
	waitServing(t, ctx, "http://"+httpAddr+"/readyz", done, stderr)

	p, err := kafkaio.NewProducer(kafkaio.WriterConfig{Connection: kafkaio.Connection{Brokers: cluster.ListenAddrs()}, Topic: in})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	now := time.Now().UTC().Format(time.RFC3339)
	scam := `{"id":"m-1","kind":"message","ts":"` + now + `","from":"+79169876543","to":"emp-7","text":"Здравствуйте, это служба безопасности банка. Продиктуйте код из СМС, чтобы отменить перевод."}`
	plain := `{"id":"m-2","kind":"message","ts":"` + now + `","from":"+79161112233","to":"emp-7","text":"Встреча переносится на 15:00."}`
	if err := p.Produce(ctx, []byte(scam), []byte(plain), []byte(`{"id":"m-3","kind":"sms"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := kafkaio.ReadTopic(ctx, kafkaio.Connection{Brokers: cluster.ListenAddrs()}, alerts, 1); err != nil {
		t.Fatalf("no alert: %v\n%s", err, stderr.String())
	}

	// The outcomes are counted on commit, just after the alert is written.
	var body string
	for ctx.Err() == nil {
		body = get(t, "http://"+httpAddr+"/metrics")
		if sample(body, `fraudwatch_events_total{outcome="alert"}`)+sample(body, `fraudwatch_events_total{outcome="scored"}`)+sample(body, `fraudwatch_events_total{outcome="dead_letter"}`) == 3 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for series, want := range map[string]float64{
		`fraudwatch_events_total{outcome="alert"}`:                            1,
		`fraudwatch_events_total{outcome="scored"}`:                           1,
		`fraudwatch_events_total{outcome="dead_letter"}`:                      1,
		`fraudwatch_dead_letters_total`:                                       1,
		`fraudwatch_shadow_rule_hits_total{rule="test.shadow_every_message"}`: 2,
		`fraudwatch_redis_errors_total`:                                       0,
		`fraudwatch_kafka_errors_total{stage="commit"}`:                       0,
		`fraudwatch_consumer_lag`:                                             0,
	} {
		if got := sample(body, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if got := sample(body, `fraudwatch_batch_duration_seconds_count`); got < 1 {
		t.Errorf("batch latency histogram has %v observations", got)
	}
	// The scam is an alert of some main category, at medium or above.
	if !regexp.MustCompile(`fraudwatch_alerts_total\{category="[a-z_]+",severity="(medium|high|critical)"\} 1`).MatchString(body) {
		t.Errorf("no alert series for the scam:\n%s", grep(body, "fraudwatch_alerts_total"))
	}
	for _, leak := range []string{testSecret, "9169876543", "Продиктуйте", "emp-7"} {
		if strings.Contains(body, leak) {
			t.Errorf("/metrics contains %q", leak)
		}
	}
	stop()
	if code := <-done; code != 0 {
		t.Fatalf("run exited %d:\n%s", code, stderr.String())
	}
}

// waitServing waits for url to answer 200, and fails at once with the
// command's log when the command exits first.
func waitServing(t *testing.T, ctx context.Context, url string, done <-chan int, stderr *syncBuffer) {
	t.Helper()
	for ctx.Err() == nil {
		select {
		case code := <-done:
			t.Fatalf("exited %d before %s answered:\n%s", code, url, stderr.String())
		default:
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never answered 200:\n%s", url, stderr.String())
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s", url, resp.Status)
	}
	return string(b)
}

// sample returns the value of one series in a Prometheus text exposition,
// or -1 when it is absent.
func sample(body, series string) float64 {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

func grep(body, prefix string) string {
	var out []string
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// The metrics a scrape returns come from the observer and the handler
// wrapper; a failed stage lands in its own series.
func TestConsumerErrorsLandInTheirSeries(t *testing.T) {
	m := newRunMetrics(func() (int64, bool) { return 42, true })
	obs := m.observer()
	obs.Error("handle", context.DeadlineExceeded)
	obs.Error("alerts", context.DeadlineExceeded)
	obs.Error("alerts", context.DeadlineExceeded)
	obs.Retry(1, time.Millisecond)
	srv := newTestServer(t, m.httpHandler())
	body := get(t, srv+"/metrics")
	for series, want := range map[string]float64{
		`fraudwatch_redis_errors_total`:                 1,
		`fraudwatch_kafka_errors_total{stage="alerts"}`: 2,
		`fraudwatch_kafka_errors_total{stage="fetch"}`:  0,
		`fraudwatch_batch_retries_total`:                1,
		`fraudwatch_consumer_lag`:                       42,
	} {
		if got := sample(body, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
}

func newTestServer(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: withMetrics(http.NotFoundHandler(), h), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}
