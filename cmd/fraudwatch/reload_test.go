package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"fraudwatch/detector"
	"fraudwatch/detector/kafkaio"
	"fraudwatch/detector/rules"
	"fraudwatch/models"
)

// A shadow rule that fires on a harmless greeting: it must show in the
// logs and never make an alert.
const shadowGreeting = `
  - id: trial.greeting
    category: spam
    description: On trial - a greeting; it never counts.
    when: lex_spam == 0 && tokens > 0 && tokens < 4
    weight: 9
    shadow: true
`

// A rule naming a feature that does not exist: the file must be rejected.
const brokenRule = `
  - id: broken.rule
    category: spam
    description: Names a feature that does not exist.
    when: no_such_feature > 0
    weight: 1
`

// ruleFile is the built-in rule file under another version, with extra
// rules appended.
func ruleFile(t *testing.T, version, extra string) []byte {
	t.Helper()
	b := rules.DefaultYAML()
	i := bytes.Index(b, []byte("\nversion: "))
	j := bytes.IndexByte(b[i+1:], '\n')
	if i < 0 || j < 0 {
		t.Fatal("no version line in the built-in rules")
	}
	out := append(append(append([]byte(nil), b[:i+1]...), fmt.Sprintf("version: %q", version)...), b[i+1+j:]...)
	return append(out, extra...)
}

// writeAtomically replaces path the way editors and deploy tools do.
func writeAtomically(t *testing.T, path string, b []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// waitLog waits until the logs contain every one of want.
func waitLog(t *testing.T, ctx context.Context, logs *syncBuffer, want ...string) {
	t.Helper()
	for ctx.Err() == nil {
		s := logs.String()
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(s, w)
		}
		if ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("logs never showed %q:\n%s", want, logs.String())
}

// `run` with a rule file of its own: an edited file is picked up while
// running and alerts name the new version; a shadow rule in it is logged
// and never alerts; a broken edit is rejected with the file, the rule and
// the problem, and the rules in use go on alerting.
func TestRunReloadsValidRulesAndRejectsInvalidOnes(t *testing.T) {
	redisAddr := testRedis(t)
	in, alerts, dlq := uniqueName("in-"), uniqueName("alerts-"), uniqueName("dlq-")
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, in, alerts, dlq), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	rulesPath := filepath.Join(t.TempDir(), "rules.yaml")
	writeAtomically(t, rulesPath, ruleFile(t, "reload-1", ""))
	env := map[string]string{
		"FRAUDWATCH_KAFKA_BROKERS":   strings.Join(cluster.ListenAddrs(), ","),
		"FRAUDWATCH_KAFKA_GROUP_ID":  uniqueName("g-"),
		"FRAUDWATCH_INBOUND_TOPIC":   in,
		"FRAUDWATCH_ALERTS_TOPIC":    alerts,
		"FRAUDWATCH_DLQ_TOPIC":       dlq,
		"FRAUDWATCH_BATCH_WAIT":      "5ms",
		"FRAUDWATCH_REDIS_ADDRS":     redisAddr,
		"FRAUDWATCH_REDIS_PREFIX":    uniqueName("fwreload:") + ":",
		"FRAUDWATCH_HMAC_SECRET":     testSecret,
		"FRAUDWATCH_OFFICIAL_LINES":  "+7 495 123-45-67",
		"FRAUDWATCH_HTTP_ADDR":       freeAddr(t),
		"FRAUDWATCH_LOG_FORMAT":      "text",
		"FRAUDWATCH_LOG_LEVEL":       "debug",
		"FRAUDWATCH_RULES":           rulesPath,
		"FRAUDWATCH_RELOAD_INTERVAL": "100ms",
	}
	ctx, stop, done, logs := startRunWithReloads(t, env, nil, 90*time.Second)
	waitLog(t, ctx, logs, "fraudwatch running")

	prod, err := kafkaio.NewProducer(kafkaio.WriterConfig{Connection: kafkaio.Connection{Brokers: cluster.ListenAddrs()}, Topic: in})
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	sent := 0
	send := func(id, text string) {
		t.Helper()
		ev := fmt.Sprintf(`{"id":%q,"kind":"message","ts":%q,"from":"+79169876543","to":"emp-7","text":%q}`, id, time.Now().UTC().Format(time.RFC3339), text)
		if err := prod.Produce(ctx, []byte(ev)); err != nil {
			t.Fatal(err)
		}
		sent++
	}
	scam := "Здравствуйте, это служба безопасности банка. Продиктуйте код из СМС, чтобы отменить перевод."
	// alertsSoFar reads the alerts topic until n alerts are there.
	alertsSoFar := func(n int) []models.Alert {
		t.Helper()
		msgs, err := kafkaio.ReadTopic(ctx, kafkaio.Connection{Brokers: cluster.ListenAddrs()}, alerts, n)
		if err != nil {
			t.Fatalf("fewer than %d alerts: %v\nlogs:\n%s", n, err, logs.String())
		}
		out := make([]models.Alert, len(msgs))
		for i, m := range msgs {
			if err := json.Unmarshal(m.Value, &out[i]); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}

	send("reload-a", scam)
	if a := alertsSoFar(1); a[0].RulesVersion != "reload-1" {
		t.Fatalf("first alert made by rules %q, want reload-1", a[0].RulesVersion)
	}

	// A valid edit: a new version with a shadow rule.
	writeAtomically(t, rulesPath, ruleFile(t, "reload-2", shadowGreeting))
	waitLog(t, ctx, logs, "rules reloaded", "rules_version=reload-2", "trial.greeting")
	send("reload-b", "Привет, как дела?") // fires only the shadow rule
	send("reload-c", scam)
	got := alertsSoFar(2)
	if got[1].EventID != "reload-c" || got[1].RulesVersion != "reload-2" {
		t.Fatalf("second alert %s by rules %q; want reload-c by reload-2 (the greeting must not alert)", got[1].EventID, got[1].RulesVersion)
	}
	waitLog(t, ctx, logs, "shadow rules fired", "trial.greeting")

	// A broken edit: rejected, naming the file, the rule and the problem.
	writeAtomically(t, rulesPath, ruleFile(t, "reload-3", brokenRule))
	waitLog(t, ctx, logs, "reload rejected", rulesPath, `broken.rule`, `unknown feature \"no_such_feature\"`)
	send("reload-d", scam)
	got = alertsSoFar(3)
	if got[2].EventID != "reload-d" || got[2].RulesVersion != "reload-2" {
		t.Fatalf("third alert %s by rules %q; want reload-d by reload-2, the rules that were running", got[2].EventID, got[2].RulesVersion)
	}

	stop()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("run exited %d:\n%s", code, logs.String())
		}
	case <-ctx.Done():
		t.Fatal("run did not stop")
	}
	if strings.Contains(logs.String(), "Продиктуйте") {
		t.Errorf("logs leak a message body:\n%s", logs.String())
	}
}

// startRunWithReloads is startRun with a channel of reload requests in
// the context, as main passes SIGHUP.
func startRunWithReloads(t *testing.T, env map[string]string, hup <-chan os.Signal, timeout time.Duration) (ctx context.Context, stop context.CancelFunc, done <-chan int, stderr *syncBuffer) {
	t.Helper()
	for _, v := range EnvVars() {
		t.Setenv(v.Name, env[v.Name])
	}
	clearEmptyEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	runCtx, stop := context.WithCancel(withReloadRequests(ctx, hup))
	t.Cleanup(stop)
	stderr = &syncBuffer{}
	ch := make(chan int, 1)
	go func() { ch <- dispatch(runCtx, []string{"run"}, nil, &bytes.Buffer{}, stderr) }()
	return ctx, stop, ch, stderr
}

// newReloadPipeline builds the scoring path over files in a temporary
// directory, with in-memory reputation.
func newReloadPipeline(t *testing.T, rulesPath string) (*pipeline, settings) {
	t.Helper()
	s := settings{region: "RU", officialLines: []string{"+74951234567"}, rulesPath: rulesPath, hmacVersion: "v1", hmacSecret: testSecret, minSeverity: models.SeverityMedium}
	p, err := newPipeline(context.Background(), s, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, s
}

// With polling off, SIGHUP alone reloads; a file touched without a
// change of content is not reloaded; a broken file is rejected and the
// next SIGHUP after it is fixed applies it.
func TestSIGHUPReloadsAndUnchangedContentIsNotReloaded(t *testing.T) {
	rulesPath := filepath.Join(t.TempDir(), "rules.yaml")
	writeAtomically(t, rulesPath, ruleFile(t, "hup-1", ""))
	p, s := newReloadPipeline(t, rulesPath)
	var logs syncBuffer
	r := newReloader(p, s, ReloadConfig{Interval: 0}, slog.New(slog.NewTextHandler(&logs, nil)))

	cases := []struct {
		name     string
		content  []byte
		force    bool
		reloaded bool
		version  string
	}{
		{"a poll sees nothing new", nil, false, false, "hup-1"},
		{"the same content rewritten is no change", ruleFile(t, "hup-1", ""), false, false, "hup-1"},
		{"a new version is applied on SIGHUP", ruleFile(t, "hup-2", ""), true, true, "hup-2"},
		{"a broken file is rejected", ruleFile(t, "hup-3", brokenRule), true, false, "hup-2"},
		{"the fixed file is applied", ruleFile(t, "hup-4", shadowGreeting), true, true, "hup-4"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.content != nil {
				writeAtomically(t, rulesPath, tc.content)
			}
			if got := r.reload(tc.force); got != tc.reloaded {
				t.Errorf("reload = %v, want %v\nlogs:\n%s", got, tc.reloaded, logs.String())
			}
			if v := p.engine.Rules().Version(); v != tc.version {
				t.Errorf("rules in use %q, want %q", v, tc.version)
			}
		})
	}

	// And through Run: a request on the channel reloads.
	writeAtomically(t, rulesPath, ruleFile(t, "hup-5", ""))
	hup := make(chan os.Signal, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, hup) }()
	hup <- syscall.SIGHUP
	deadline := time.Now().Add(30 * time.Second)
	for p.engine.Rules().Version() != "hup-5" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v := p.engine.Rules().Version(); v != "hup-5" {
		t.Errorf("after SIGHUP rules %q, want hup-5", v)
	}
}

// A changed model file is read, validated and swapped in with a new
// extractor; a corrupt one is rejected and the model in use stays.
func TestModelFileReloadsWithItsExtractor(t *testing.T) {
	dir := t.TempDir()
	modelPath := filepath.Join(dir, "model.json")
	p0, _ := newReloadPipeline(t, "")
	m := p0.extractor.Model()
	if m == nil {
		t.Skip("no built-in model to copy")
	}
	var buf bytes.Buffer
	if err := m.Write(&buf); err != nil {
		t.Skipf("the model cannot be written: %v", err)
	}
	writeAtomically(t, modelPath, buf.Bytes())
	s := settings{region: "RU", officialLines: []string{"+74951234567"}, modelPath: modelPath, hmacVersion: "v1", hmacSecret: testSecret, minSeverity: models.SeverityMedium}
	p, err := newPipeline(context.Background(), s, false)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var logs syncBuffer
	r := newReloader(p, s, ReloadConfig{}, slog.New(slog.NewTextHandler(&logs, nil)))
	before := p.engine.Scoring().Extractor

	writeAtomically(t, modelPath, []byte(`{"not": "a model"}`))
	if r.reload(false) {
		t.Fatalf("a corrupt model was accepted")
	}
	if p.engine.Scoring().Extractor != before || !strings.Contains(logs.String(), modelPath) {
		t.Errorf("the extractor changed or the log does not name %s:\n%s", modelPath, logs.String())
	}
	writeAtomically(t, modelPath, buf.Bytes())
	if !r.reload(false) {
		t.Fatalf("the valid model was not reloaded:\n%s", logs.String())
	}
	if p.engine.Scoring().Extractor == before {
		t.Error("the extractor was not replaced")
	}
}

// Shadow hits are logged per batch at debug level and as totals at info
// level, and the verdicts pass through unchanged.
func TestShadowRuleHitsAreLogged(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	inner := detector.BatchHandlerFunc(func(ctx context.Context, recs []detector.Record) (detector.Result, error) {
		return detector.Result{Verdicts: []models.Verdict{
			{EventID: "a", Reasons: []models.Reason{{Rule: "trial.x", Shadow: true}, {Rule: "counted", Weight: 1}}},
			{EventID: "b", Reasons: []models.Reason{{Rule: "trial.x", Shadow: true}}},
		}}, nil
	})
	h := newShadowLog(inner, logger, time.Hour)
	res, err := h.HandleBatch(context.Background(), make([]detector.Record, 2))
	if err != nil || len(res.Verdicts) != 2 || len(res.Alerts) != 0 {
		t.Fatalf("result %+v, %v", res, err)
	}
	out := logs.String()
	for _, want := range []string{"level=DEBUG msg=\"shadow rules fired\"", "hits=map[trial.x:2]", "level=INFO msg=\"shadow rule hits since start (they never alert)\""} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "counted") {
		t.Errorf("a counting rule was logged as shadow:\n%s", out)
	}
}
