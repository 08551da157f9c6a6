package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"fraudwatch/detector/kafkaio"
	"fraudwatch/detector/triage"
	"fraudwatch/features/redisrep"
	"fraudwatch/models"
)

// triageStack is the production wiring end to end: `run` and `triage`
// started as commands over one Kafka-protocol broker (kfake, over TCP)
// and the test's redis-server.
type triageStack struct {
	ctx     context.Context
	conn    kafkaio.Connection
	inbound string
	// notifyTopic receives the incidents triage raises.
	notifyTopic string
	runURL      string
	triageURL   string
	redisAddr   string
	repPrefix   string
	tokens      map[triage.Role]string
	runErr      *syncBuffer
	triageErr   *syncBuffer
	stopRun     context.CancelFunc
	stopTriage  context.CancelFunc
	runDone     <-chan int
	triageDone  <-chan int
}

// startTriageStack starts run and triage and waits until both are ready.
func startTriageStack(t *testing.T) *triageStack {
	t.Helper()
	redisAddr := testRedis(t)
	in, alerts, dlq, fb, notify := uniqueName("in-"), uniqueName("alerts-"), uniqueName("dlq-"), uniqueName("feedback-"), uniqueName("incidents-")
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, in, alerts, dlq, fb, notify), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	s := &triageStack{
		conn: kafkaio.Connection{Brokers: cluster.ListenAddrs()}, inbound: in, notifyTopic: notify, redisAddr: redisAddr,
		repPrefix: uniqueName("fwtr:") + ":",
		tokens: map[triage.Role]string{
			triage.RoleViewer:  uniqueName("viewer-token-"),
			triage.RoleAnalyst: uniqueName("analyst-token-"),
			triage.RoleAdmin:   uniqueName("admin-token-"),
		},
	}
	runAddr, triageAddr := freeAddr(t), freeAddr(t)
	s.runURL, s.triageURL = "http://"+runAddr, "http://"+triageAddr
	env := map[string]string{
		"FRAUDWATCH_KAFKA_BROKERS":       strings.Join(cluster.ListenAddrs(), ","),
		"FRAUDWATCH_KAFKA_GROUP_ID":      uniqueName("g-"),
		"FRAUDWATCH_INBOUND_TOPIC":       in,
		"FRAUDWATCH_ALERTS_TOPIC":        alerts,
		"FRAUDWATCH_DLQ_TOPIC":           dlq,
		"FRAUDWATCH_FEEDBACK_TOPIC":      fb,
		"FRAUDWATCH_BATCH_WAIT":          "5ms",
		"FRAUDWATCH_REDIS_ADDRS":         redisAddr,
		"FRAUDWATCH_REDIS_PREFIX":        s.repPrefix,
		"FRAUDWATCH_HMAC_SECRET":         testSecret,
		"FRAUDWATCH_OFFICIAL_LINES":      "+74951234567",
		"FRAUDWATCH_DIRECTORY":           "../../fixtures/directory.yaml",
		"FRAUDWATCH_HTTP_ADDR":           runAddr,
		"FRAUDWATCH_LOG_FORMAT":          "text",
		"FRAUDWATCH_TRIAGE_ADDR":         triageAddr,
		"FRAUDWATCH_TRIAGE_PREFIX":       uniqueName("fwtt"),
		"FRAUDWATCH_TRIAGE_GROUP_WAIT":   "1s",
		"FRAUDWATCH_TRIAGE_NOTIFY_TOPIC": notify,
		"FRAUDWATCH_TRIAGE_TOKENS": fmt.Sprintf("soc-viewer:viewer:%s,soc-anna:analyst:%s,soc-admin:admin:%s",
			s.tokens[triage.RoleViewer], s.tokens[triage.RoleAnalyst], s.tokens[triage.RoleAdmin]),
	}
	var ctx context.Context
	ctx, s.stopRun, s.runDone, s.runErr = startRun(t, env, 3*time.Minute)
	_, s.stopTriage, s.triageDone, s.triageErr = startCommand(t, "triage", 3*time.Minute)
	s.ctx = ctx
	waitHTTP(t, ctx, s.runURL+"/readyz", 200)
	waitHTTP(t, ctx, s.triageURL+"/readyz", 200)
	return s
}

// stop stops both commands and checks they exit cleanly.
func (s *triageStack) stop(t *testing.T) {
	t.Helper()
	s.stopTriage()
	s.stopRun()
	if code := <-s.triageDone; code != 0 {
		t.Errorf("triage exited %d:\n%s", code, s.triageErr)
	}
	if code := <-s.runDone; code != 0 {
		t.Errorf("run exited %d:\n%s", code, s.runErr)
	}
}

func (s *triageStack) produce(t *testing.T, values ...[]byte) {
	t.Helper()
	p, err := kafkaio.NewProducer(kafkaio.WriterConfig{Connection: s.conn, Topic: s.inbound})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Produce(s.ctx, values...); err != nil {
		t.Fatal(err)
	}
}

// call makes an API request with the token of role and decodes the JSON
// answer into out (when not nil); it returns the status.
func (s *triageStack) call(t *testing.T, role triage.Role, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(s.ctx, method, s.triageURL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.tokens[role])
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return resp.StatusCode
}

// metric reads one series from a /metrics endpoint (0 when absent).
func metric(t *testing.T, ctx context.Context, url, series string) float64 {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(raw)
	if m == nil {
		return 0
	}
	return metricValue(string(m[1]))
}

func metricValue(s string) float64 {
	v, _ := strconv.ParseFloat(s, 64)
	return v
}

// waitFor polls cond until it holds or the stack's time is up.
func (s *triageStack) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-s.ctx.Done():
			t.Fatalf("timed out waiting for %s\nrun:\n%s\ntriage:\n%s", what, s.runErr, s.triageErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// settled waits until run has handled n inbound records and triage has
// stored every alert run made; it returns the number of alerts.
func (s *triageStack) settled(t *testing.T, n int) int {
	t.Helper()
	var alerts float64
	s.waitFor(t, fmt.Sprintf("run to handle %d records", n), func() bool {
		var total float64
		for _, o := range []string{"alert", "scored", "dead_letter"} {
			total += metric(t, s.ctx, s.runURL+"/metrics", `fraudwatch_events_total{outcome="`+o+`"}`)
		}
		alerts = metric(t, s.ctx, s.runURL+"/metrics", `fraudwatch_events_total{outcome="alert"}`)
		return int(total) >= n
	})
	s.waitFor(t, fmt.Sprintf("triage to store %v alerts", alerts), func() bool {
		stored := metric(t, s.ctx, s.triageURL+"/metrics", `fraudwatch_triage_alerts_total{outcome="stored"}`) +
			metric(t, s.ctx, s.triageURL+"/metrics", `fraudwatch_triage_alerts_total{outcome="silenced"}`)
		return stored >= alerts
	})
	return int(alerts)
}

// incidents lists every incident (covered and silenced ones with "all").
func (s *triageStack) incidents(t *testing.T, all bool) []models.Incident {
	t.Helper()
	path := "/api/incidents?limit=500"
	if all {
		path += "&inhibited=true&silenced=true"
	}
	var p triage.Page
	if code := s.call(t, triage.RoleViewer, http.MethodGet, path, nil, &p); code != 200 {
		t.Fatalf("GET %s: %d", path, code)
	}
	return p.Incidents
}

func (s *triageStack) detail(t *testing.T, id string) triage.Detail {
	t.Helper()
	var d triage.Detail
	if code := s.call(t, triage.RoleViewer, http.MethodGet, "/api/incidents/"+id, nil, &d); code != 200 {
		t.Fatalf("GET incident %s: %d", id, code)
	}
	return d
}

// fraudReports reads a sender's fraud counter from the detector's Redis.
func (s *triageStack) fraudReports(t *testing.T, senderHash string) int64 {
	t.Helper()
	st, err := redisrep.Dial(s.ctx, redisrep.Options{Addrs: []string{s.redisAddr}}, redisrep.Config{Prefix: s.repPrefix})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fr, _, _, err := st.Reports(s.ctx, senderHash)
	if err != nil {
		t.Fatal(err)
	}
	return fr
}

// visibleIncidentOf maps each alerted event id to the incident the queue
// shows it under: its own, or the campaign incident covering it.
func visibleIncidentOf(t *testing.T, s *triageStack) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, inc := range s.incidents(t, false) {
		for _, a := range s.detail(t, inc.ID).Alerts {
			out[a.Alert.EventID] = inc.ID
		}
	}
	return out
}

// The fixture replay: the fixtures through `run` into `triage`.
// The fan-out fixtures (one number, many employees) and each campaign's
// fixtures (one text, several numbers) are each one incident in the
// queue; a silence created through the API on the fan-out sender keeps
// its next alert from being raised while still storing it; and a fraud
// verdict given through the API reaches the sender's fraud counter in
// Redis through the feedback topic.
func TestFixtureReplayThroughRunAndTriage(t *testing.T) {
	s := startTriageStack(t)
	lines := fixtureLines(t)
	s.produce(t, lines...)
	alerts := s.settled(t, len(lines))
	if alerts < 100 {
		t.Fatalf("only %d alerts from the fixtures", alerts)
	}
	// Triage raised its incidents at least once (group_wait 1s), and
	// counted as many alerts as run made.
	var total int
	for _, inc := range s.incidents(t, true) {
		total += inc.AlertCount
	}
	if total != alerts {
		t.Fatalf("incidents hold %d alerts, run made %d", total, alerts)
	}
	// After group_wait the incidents are raised to the notification topic.
	raised, err := kafkaio.ReadTopic(s.ctx, s.conn, s.notifyTopic, 1)
	if err != nil {
		t.Fatalf("no incident raised to %s: %v\n%s", s.notifyTopic, err, s.triageErr)
	}
	var first struct {
		Reason   string          `json:"reason"`
		Incident models.Incident `json:"incident"`
	}
	if err := json.Unmarshal(raised[0].Value, &first); err != nil || first.Reason != "new" || first.Incident.ID == "" || string(raised[0].Key) != first.Incident.ID {
		t.Fatalf("raised %s keyed %q (%v)", raised[0].Value, raised[0].Key, err)
	}

	fanout := oneIncidentPerFixtureGroup(t, s)

	// Silence the fan-out sender, then it writes to one more employee.
	d := s.detail(t, fanout)
	sender := d.Incident.Senders[0].Hash
	var sil models.Silence
	if code := s.call(t, triage.RoleAnalyst, http.MethodPost, "/api/silences", map[string]any{
		"matchers": []map[string]string{{"name": "sender_hash", "value": sender}},
		"duration": "1h", "comment": "judged: fan-out test number",
	}, &sil); code != http.StatusCreated {
		t.Fatalf("creating a silence: %d", code)
	}
	var fx struct {
		From string `json:"from"`
		Text string `json:"text"`
		TS   string `json:"ts"`
	}
	for _, l := range lines {
		if bytes.Contains(l, []byte(`"fx-en-fanout-02"`)) {
			if err := json.Unmarshal(l, &fx); err != nil {
				t.Fatal(err)
			}
		}
	}
	next, _ := json.Marshal(map[string]string{"id": "fx-en-fanout-after-silence", "kind": "message", "ts": fx.TS, "from": fx.From, "to": "emp-2099", "text": fx.Text})
	queueBefore := len(s.incidents(t, false))
	s.produce(t, next)
	s.settled(t, len(lines)+1)
	after := s.detail(t, fanout)
	if after.Incident.AlertCount != d.Incident.AlertCount+1 || after.Incident.SilencedCount != d.Incident.SilencedCount+1 {
		t.Fatalf("fan-out incident after the silenced alert: %d alerts, %d silenced; want %d and %d",
			after.Incident.AlertCount, after.Incident.SilencedCount, d.Incident.AlertCount+1, d.Incident.SilencedCount+1)
	}
	i := slices.IndexFunc(after.Alerts, func(a models.StoredAlert) bool { return a.Alert.EventID == "fx-en-fanout-after-silence" })
	if i < 0 || after.Alerts[i].SilencedBy != sil.ID {
		t.Fatalf("the new alert is not stored as silenced by %s: %+v", sil.ID, after.Alerts)
	}
	if got := len(s.incidents(t, false)); got != queueBefore {
		t.Fatalf("the silenced alert changed the queue: %d incidents, was %d", got, queueBefore)
	}
	if n := metric(t, s.ctx, s.triageURL+"/metrics", `fraudwatch_triage_alerts_total{outcome="silenced"}`); n != 1 {
		t.Fatalf("silenced alerts metric = %v, want 1", n)
	}

	// A fraud verdict through the API reaches the detector's reputation.
	before := s.fraudReports(t, sender)
	if code := s.call(t, triage.RoleAnalyst, http.MethodPost, "/api/incidents/"+fanout+"/acknowledge", nil, nil); code != 200 {
		t.Fatalf("acknowledge: %d", code)
	}
	var res triage.ResolveResult
	if code := s.call(t, triage.RoleAnalyst, http.MethodPost, "/api/incidents/"+fanout+"/resolve", map[string]string{"verdict": "fraud", "comment": "mule recruitment fan-out"}, &res); code != 200 {
		t.Fatalf("resolve: %d", code)
	}
	if res.Feedback != len(after.Alerts) {
		t.Fatalf("%d feedback records for a timeline of %d alerts: want one per alert", res.Feedback, len(after.Alerts))
	}
	s.waitFor(t, "the fraud verdict to reach the sender's counter", func() bool { return s.fraudReports(t, sender) > before })
	if n := metric(t, s.ctx, s.triageURL+"/metrics", `fraudwatch_triage_time_to_resolve_seconds_count`); n != 1 {
		t.Fatalf("time-to-resolve observations = %v, want 1", n)
	}
	s.stop(t)
}

// oneIncidentPerFixtureGroup checks that the fan-out fixtures and each
// campaign's fixtures are one incident each in the queue, and returns the
// fan-out's.
func oneIncidentPerFixtureGroup(t *testing.T, s *triageStack) string {
	t.Helper()
	shown := visibleIncidentOf(t, s)
	groups := map[string]*regexp.Regexp{
		"fan-out":            regexp.MustCompile(`^fx-en-fanout-`),
		"Russian campaign":   regexp.MustCompile(`^fx-ru-camp-`),
		"English campaign":   regexp.MustCompile(`^fx-en-camp-`),
		"Russian campaign 2": regexp.MustCompile(`^fx-ru-campaign-`),
		"English campaign 2": regexp.MustCompile(`^fx-en-campaign-`),
	}
	var fanout string
	for name, re := range groups {
		ids := map[string][]string{}
		for ev, inc := range shown {
			if re.MatchString(ev) {
				ids[inc] = append(ids[inc], ev)
			}
		}
		if len(ids) != 1 {
			t.Errorf("the %s fixtures are in %d incidents of the queue, want 1: %v", name, len(ids), ids)
			continue
		}
		for inc, evs := range ids {
			if len(evs) < 2 {
				t.Errorf("the %s incident holds %v: want several alerts", name, evs)
			}
			if name == "fan-out" {
				fanout = inc
			}
		}
	}
	if fanout == "" {
		t.FailNow()
	}
	return fanout
}
