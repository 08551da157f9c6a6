package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"fraudwatch/detector/kafkaio"
	"fraudwatch/models"
)

func TestRunRefusesToStartWithoutItsRequirements(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"without an HMAC secret", map[string]string{"FRAUDWATCH_OFFICIAL_LINES": "+74951234567"}, "FRAUDWATCH_HMAC_SECRET"},
		{"without official lines", map[string]string{"FRAUDWATCH_HMAC_SECRET": testSecret}, "detector.official_lines: none"},
		{"with a misspelt severity", map[string]string{"FRAUDWATCH_HMAC_SECRET": testSecret, "FRAUDWATCH_OFFICIAL_LINES": "+74951234567", "FRAUDWATCH_MIN_SEVERITY": "hgh"}, `"hgh"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range EnvVars() {
				t.Setenv(v.Name, "")
			}
			for _, v := range EnvVars() {
				if val, ok := tc.env[v.Name]; ok {
					t.Setenv(v.Name, val)
				}
			}
			clearEmptyEnv(t)
			var stderr bytes.Buffer
			code := dispatch(context.Background(), []string{"run"}, nil, &bytes.Buffer{}, &stderr)
			if code != 1 || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 1 mentioning %q", code, stderr.String(), tc.want)
			}
		})
	}
}

// clearEmptyEnv unsets the variables t.Setenv set to "", so they read as
// absent rather than empty.
func clearEmptyEnv(t *testing.T) {
	t.Helper()
	for _, v := range EnvVars() {
		if val, ok := lookupEnv(v.Name); ok && val == "" {
			unsetEnv(t, v.Name)
		}
	}
}

// `run` end to end through its real configuration path: environment only,
// in-process Kafka and the test redis-server. It serves health endpoints,
// turns an inbound scam into an alert on the alerts topic, and stops
// cleanly on cancellation.
func TestRunServesHealthAndAlerts(t *testing.T) {
	redisAddr := testRedis(t)
	in, alerts, dlq := uniqueName("in-"), uniqueName("alerts-"), uniqueName("dlq-")
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, in, alerts, dlq), kfake.GroupMinSessionTimeout(100*time.Millisecond))
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

	env := map[string]string{
		"FRAUDWATCH_KAFKA_BROKERS":    strings.Join(cluster.ListenAddrs(), ","),
		"FRAUDWATCH_KAFKA_GROUP_ID":   uniqueName("g-"),
		"FRAUDWATCH_INBOUND_TOPIC":    in,
		"FRAUDWATCH_ALERTS_TOPIC":     alerts,
		"FRAUDWATCH_DLQ_TOPIC":        dlq,
		"FRAUDWATCH_BATCH_WAIT":       "5ms",
		"FRAUDWATCH_REDIS_ADDRS":      redisAddr,
		"FRAUDWATCH_REDIS_PREFIX":     uniqueName("fwrun:") + ":",
		"FRAUDWATCH_HMAC_SECRET":      testSecret,
		"FRAUDWATCH_OFFICIAL_LINES":   "+7 495 123-45-67",
		"FRAUDWATCH_HTTP_ADDR":        httpAddr,
		"FRAUDWATCH_LOG_FORMAT":       "text",
		"FRAUDWATCH_MIN_SEVERITY":     "medium",
		"FRAUDWATCH_DEFAULT_REGION":   "RU",
		"FRAUDWATCH_OFFICIAL_DOMAINS": "vostokbank.ru",
	}
	ctx, stop, done, stderr := startRun(t, env, 60*time.Second)

	waitHTTP(t, ctx, "http://"+httpAddr+"/healthz", http.StatusOK)
	waitHTTP(t, ctx, "http://"+httpAddr+"/readyz", http.StatusOK)

	p, err := kafkaio.NewProducer(kafkaio.WriterConfig{Connection: kafkaio.Connection{Brokers: cluster.ListenAddrs()}, Topic: in})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	scam := `{"id":"run-1","kind":"message","ts":"` + time.Now().UTC().Format(time.RFC3339) + `","from":"+79169876543","to":"emp-7","text":"Здравствуйте, это служба безопасности банка. Продиктуйте код из СМС, чтобы отменить перевод."}`
	if err := p.Produce(ctx, []byte(scam)); err != nil {
		t.Fatal(err)
	}
	msgs, err := kafkaio.ReadTopic(ctx, kafkaio.Connection{Brokers: cluster.ListenAddrs()}, alerts, 1)
	if err != nil {
		t.Fatalf("no alert: %v\nlogs:\n%s", err, stderr.String())
	}
	var a models.Alert
	if err := json.Unmarshal(msgs[0].Value, &a); err != nil {
		t.Fatal(err)
	}
	if a.EventID != "run-1" || a.Sender != "+7916***6543" || !strings.Contains(a.Advice.RU, "+7 495 123-45-67") || a.Severity < models.SeverityMedium {
		t.Errorf("alert %+v", a)
	}
	stop()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("run exited %d:\n%s", code, stderr.String())
		}
	case <-ctx.Done():
		t.Fatal("run did not stop")
	}
	logs := stderr.String()
	if strings.Contains(logs, "Продиктуйте") || strings.Contains(logs, testSecret) || strings.Contains(logs, "9169876543") {
		t.Errorf("logs leak a message body, the secret or a number:\n%s", logs)
	}
}

func waitHTTP(t *testing.T, ctx context.Context, url string, want int) {
	t.Helper()
	var last string
	for ctx.Err() == nil {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never answered %d (last: %s)", url, want, last)
}

func TestReadyzReportsEachUnreachableDependency(t *testing.T) {
	redisDown := func(context.Context) error { return errors.New("redis: connection refused") }
	kafkaUp := func(context.Context) error { return nil }
	srv := httptest.NewServer(healthMux(func() []readyCheck { return []readyCheck{kafkaUp, redisDown} }))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status   string   `json:"status"`
		Problems []string `json:"problems"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusServiceUnavailable || len(body.Problems) != 1 || !strings.Contains(body.Problems[0], "redis") {
		t.Errorf("readyz: %d %+v", resp.StatusCode, body)
	}
	live, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	live.Body.Close()
	if live.StatusCode != http.StatusOK {
		t.Errorf("healthz: %d while a dependency is down; liveness must not depend on it", live.StatusCode)
	}
}

// Redis may come up after fraudwatch (a compose file starts them
// together): run waits for it, alive but not ready, and says why.
func TestRunWaitsForRedisAndIsNotReadyMeanwhile(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := ln.Addr().String()
	ln.Close()
	deadRedis, err := net.Listen("tcp", "127.0.0.1:0") // a port nobody answers on once closed
	if err != nil {
		t.Fatal(err)
	}
	redisAddr := deadRedis.Addr().String()
	deadRedis.Close()
	env := map[string]string{
		"FRAUDWATCH_REDIS_ADDRS":    redisAddr,
		"FRAUDWATCH_HMAC_SECRET":    testSecret,
		"FRAUDWATCH_OFFICIAL_LINES": "+74951234567",
		"FRAUDWATCH_HTTP_ADDR":      httpAddr,
		"FRAUDWATCH_LOG_FORMAT":     "text",
	}
	ctx, stop, done, stderr := startRun(t, env, 30*time.Second)

	waitHTTP(t, ctx, "http://"+httpAddr+"/healthz", http.StatusOK)
	// Not ready, first while starting, then with the Redis error itself.
	var problems []string
	for ctx.Err() == nil {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Problems []string }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("readyz answered %d without Redis", resp.StatusCode)
		}
		problems = body.Problems
		if len(problems) == 1 && strings.Contains(problems[0], "connection refused") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(problems) != 1 || !strings.Contains(problems[0], redisAddr) {
		t.Errorf("readyz problems %q, want the Redis error naming %s", problems, redisAddr)
	}
	stop()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("run exited %d:\n%s", code, stderr.String())
		}
	case <-ctx.Done():
		t.Fatal("run did not stop while waiting for Redis")
	}
	if !strings.Contains(stderr.String(), "Redis unreachable; retrying") {
		t.Errorf("no retry logged:\n%s", stderr.String())
	}
}

// startRun sets exactly env (every other config variable unset) and runs
// `fraudwatch run` in the background. stop cancels it; done receives its
// exit status; ctx ends after timeout.
func startRun(t *testing.T, env map[string]string, timeout time.Duration) (ctx context.Context, stop context.CancelFunc, done <-chan int, stderr *syncBuffer) {
	t.Helper()
	for _, v := range EnvVars() {
		t.Setenv(v.Name, env[v.Name])
	}
	clearEmptyEnv(t)
	return startCommand(t, "run", timeout)
}

// startCommand runs a fraudwatch command in the background with the
// environment as it is. stop cancels it; done receives its exit status;
// ctx ends after timeout.
func startCommand(t *testing.T, command string, timeout time.Duration) (ctx context.Context, stop context.CancelFunc, done <-chan int, stderr *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	runCtx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	stderr = &syncBuffer{}
	ch := make(chan int, 1)
	go func() { ch <- dispatch(runCtx, []string{command}, nil, &bytes.Buffer{}, stderr) }()
	return ctx, stop, ch, stderr
}
