package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"fraudwatch/detector"
	"fraudwatch/detector/kafkaio"
	"fraudwatch/models"
)

// testKafka returns the bootstrap brokers of the Apache Kafka broker
// scripts/test started (FW_TEST_KAFKA_BROKERS, comma-separated).
func testKafka(t *testing.T) []string {
	t.Helper()
	v := os.Getenv("FW_TEST_KAFKA_BROKERS")
	if v == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("FW_TEST_KAFKA_BROKERS is not set and CI is: the real-Kafka tests must run in CI (run the suite through scripts/test)")
		}
		t.Skip("FW_TEST_KAFKA_BROKERS is not set: scripts/test starts Apache Kafka and sets it; or start one with scripts/kafka/start DIR")
	}
	return strings.Split(v, ",")
}

// kafkaScripts returns the directory of scripts/kafka/start and stop
// (FW_TEST_KAFKA_SCRIPTS, else the repository's), for tests that run a
// private broker they can restart.
func kafkaScripts(t *testing.T) string {
	t.Helper()
	testKafka(t) // the same gate: no real Kafka wanted, no private one either
	dir := os.Getenv("FW_TEST_KAFKA_SCRIPTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "scripts", "kafka")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(abs, "start")); err != nil {
		t.Fatalf("FW_TEST_KAFKA_SCRIPTS: %v", err)
	}
	return abs
}

// The fault tests' world: the real `fraudwatch run` binary started with
// environment configuration, real Apache Kafka, real redis-server. What a
// detector did is read back from where it is visible in production: the
// alerts and dead-letter topics and the group's committed offsets.

// faultRig is one fault test: its topics, group, Redis prefix, binary and
// expectations.
type faultRig struct {
	t       *testing.T
	ctx     context.Context
	dir     string
	bin     string
	brokers []string
	redis   string
	in      string
	alerts  string
	dlq     string
	group   string
	prefix  string
	sent    [][]byte // every record produced to the inbound topic, in order
}

// newFaultRig builds the binary and creates the topics (three partitions)
// on brokers. ctx bounds the whole test.
func newFaultRig(t *testing.T, ctx context.Context, brokers []string, redisAddr string) *faultRig {
	t.Helper()
	r := &faultRig{
		t: t, ctx: ctx, dir: t.TempDir(), brokers: brokers, redis: redisAddr,
		in: uniqueName("fault-in-"), alerts: uniqueName("fault-alerts-"), dlq: uniqueName("fault-dlq-"),
		group: uniqueName("fault-group-"), prefix: uniqueName("fwfault:") + ":",
	}
	r.bin = filepath.Join(r.dir, "fraudwatch")
	build := exec.CommandContext(ctx, "go", "build", "-o", r.bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if err := kafkaio.EnsureTopics(ctx, r.conn(), 3, 1, r.in, r.alerts, r.dlq); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *faultRig) conn() kafkaio.Connection { return kafkaio.Connection{Brokers: r.brokers} }

// env is the configuration of every detector of the test.
func (r *faultRig) env() map[string]string {
	dir, err := filepath.Abs(filepath.Join("..", "..", "fixtures", "directory.yaml"))
	if err != nil {
		r.t.Fatal(err)
	}
	return map[string]string{
		"FRAUDWATCH_KAFKA_BROKERS":    strings.Join(r.brokers, ","),
		"FRAUDWATCH_KAFKA_GROUP_ID":   r.group,
		"FRAUDWATCH_INBOUND_TOPIC":    r.in,
		"FRAUDWATCH_ALERTS_TOPIC":     r.alerts,
		"FRAUDWATCH_DLQ_TOPIC":        r.dlq,
		"FRAUDWATCH_FEEDBACK_TOPIC":   r.in + "-feedback", // never created: the feedback consumer only waits
		"FRAUDWATCH_BATCH_SIZE":       "50",
		"FRAUDWATCH_BATCH_WAIT":       "20ms",
		"FRAUDWATCH_SHUTDOWN_GRACE":   "5s",
		"FRAUDWATCH_REDIS_ADDRS":      r.redis,
		"FRAUDWATCH_REDIS_PREFIX":     r.prefix,
		"FRAUDWATCH_HMAC_SECRET":      testSecret,
		"FRAUDWATCH_OFFICIAL_LINES":   "+7 495 123-45-67",
		"FRAUDWATCH_OFFICIAL_DOMAINS": "vostokbank.ru",
		"FRAUDWATCH_DEFAULT_REGION":   "RU",
		"FRAUDWATCH_MIN_SEVERITY":     "medium",
		"FRAUDWATCH_DIRECTORY":        dir,
		"FRAUDWATCH_LOG_FORMAT":       "json",
	}
}

// detectorProc is one `fraudwatch run` process.
type detectorProc struct {
	name    string
	cmd     *exec.Cmd
	http    string
	logPath string
	exited  chan struct{}
	err     error // set before exited closes
}

// start runs the binary with env() and a free HTTP port and waits until
// /healthz answers. The process is killed at the end of the test if still
// running.
func (r *faultRig) start(name string) *detectorProc {
	r.t.Helper()
	d := &detectorProc{name: name, logPath: filepath.Join(r.dir, name+".log"), exited: make(chan struct{})}
	logf, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		r.t.Fatal(err)
	}
	d.cmd = exec.Command(r.bin, "run")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FRAUDWATCH_") {
			d.cmd.Env = append(d.cmd.Env, kv)
		}
	}
	for k, v := range r.env() {
		d.cmd.Env = append(d.cmd.Env, k+"="+v)
	}
	// Port 0: the kernel picks a free port, and the log says which (a
	// port picked here and passed on could be taken by another test first).
	d.cmd.Env = append(d.cmd.Env, "FRAUDWATCH_HTTP_ADDR=127.0.0.1:0")
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	go func() {
		d.err = d.cmd.Wait()
		logf.Close()
		close(d.exited)
	}()
	r.t.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			_ = d.cmd.Process.Kill()
			<-d.exited
		}
		if r.t.Failed() {
			b, _ := os.ReadFile(d.logPath)
			r.t.Logf("log of detector %s (last 4 KiB):\n%s", name, tail(b, 4096))
		}
	})
	for d.http == "" {
		select {
		case <-d.exited:
			b, _ := os.ReadFile(d.logPath)
			r.t.Fatalf("detector %s exited at start: %v\n%s", name, d.err, tail(b, 4096))
		case <-r.ctx.Done():
			r.t.Fatalf("detector %s never logged its HTTP address", name)
		case <-time.After(20 * time.Millisecond):
		}
		d.http = listeningAddr(d.logPath)
	}
	waitHTTP(r.t, r.ctx, "http://"+d.http+"/healthz", http.StatusOK)
	return d
}

// listeningAddr finds the health endpoint's address in a JSON log ("" if
// not logged yet).
func listeningAddr(logPath string) string {
	b, _ := os.ReadFile(logPath)
	for _, l := range bytes.Split(b, []byte("\n")) {
		var e struct{ Msg, Addr string }
		if json.Unmarshal(l, &e) == nil && e.Msg == "health and metrics endpoints listening" {
			return e.Addr
		}
	}
	return ""
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// stop sends SIGTERM and waits for a clean exit (the batch in flight is
// finished and committed within the shutdown grace).
func (d *detectorProc) stop(t *testing.T) {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("detector %s did not stop within 30s of SIGTERM", d.name)
	}
	if d.err != nil {
		b, _ := os.ReadFile(d.logPath)
		t.Fatalf("detector %s exited with %v:\n%s", d.name, d.err, tail(b, 4096))
	}
}

// kill sends SIGKILL: nothing is finished, nothing more is committed.
func (d *detectorProc) kill(t *testing.T) {
	t.Helper()
	_ = d.cmd.Process.Kill()
	<-d.exited
}

// rssKiB is the process's resident set size from /proc.
func (d *detectorProc) rssKiB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("reading RSS of detector %s: %v", d.name, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatalf("VmRSS %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatalf("no VmRSS for detector %s", d.name)
	return 0
}

// metric returns the sum over labels of the metric name on /metrics (0
// when absent or unreachable).
func (d *detectorProc) metric(name string) float64 {
	resp, err := http.Get("http://" + d.http + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, name+" ") || strings.HasPrefix(l, name+"{") {
			f := strings.Fields(l)
			if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
				sum += v
			}
		}
	}
	return sum
}

// ready reports /readyz's status code and body.
func (d *detectorProc) ready() (int, string) {
	resp, err := http.Get("http://" + d.http + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// produce writes records to the inbound topic and remembers them.
func (r *faultRig) produce(recs ...[]byte) {
	r.t.Helper()
	p, err := kafkaio.NewProducer(kafkaio.WriterConfig{Connection: r.conn(), Topic: r.in})
	if err != nil {
		r.t.Fatal(err)
	}
	defer p.Close()
	for len(recs) > 0 {
		n := min(len(recs), 500)
		if err := p.Produce(r.ctx, recs[:n]...); err != nil {
			r.t.Fatal(err)
		}
		r.sent = append(r.sent, recs[:n]...)
		recs = recs[n:]
	}
}

// committedAll waits until the group has committed every record of the
// inbound topic, tolerating errors while a broker restarts.
func (r *faultRig) committedAll() {
	r.t.Helper()
	var last string
	for r.ctx.Err() == nil {
		lag, err := kafkaio.GroupLag(r.ctx, r.conn(), r.group, r.in)
		total := int64(0)
		for _, l := range lag {
			total += l
		}
		if err == nil && total == 0 && len(lag) > 0 {
			return
		}
		last = fmt.Sprintf("lag %v, err %v", lag, err)
		time.Sleep(200 * time.Millisecond)
	}
	r.t.Fatalf("the group never committed every record (%d sent): %s", len(r.sent), last)
}

// lag returns the group's lag per partition now.
func (r *faultRig) lag() map[int]int64 {
	r.t.Helper()
	lag, err := kafkaio.GroupLag(r.ctx, r.conn(), r.group, r.in)
	if err != nil {
		r.t.Fatal(err)
	}
	return lag
}

// readAll reads every record of topic (there is no end marker: it reads
// until nothing more came for a while).
func (r *faultRig) readAll(topic string) []kafkaio.Message {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.ctx, 3*time.Second)
	defer cancel()
	msgs, err := kafkaio.ReadTopic(ctx, r.conn(), topic, 1<<30)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		r.t.Fatal(err)
	}
	return msgs
}

// faultReport is what a fault test found on the output topics.
type faultReport struct {
	Records, Alerts, Scored, DeadLetters int
	AlertRecords, DistinctAlertIDs       int
	Duplicates                           int                // alert records beyond the first per event
	Outcomes                             []detector.Outcome // live, per record sent
	Repeated                             map[int]int        // record index → extra copies of its output
}

// check asserts the invariant of every fault test against what offline
// scoring of the same records (same configuration, in-memory reputation)
// decides: each record sent has exactly one outcome, alert, scored or dead
// letter; no alert is missing or extra; every alert for an event carries
// the id derived from it; every dead letter has a reason; everything is
// committed. Raw duplicates are counted, not judged: the caller decides
// whether its fault may cause them.
func (r *faultRig) check() faultReport {
	t := r.t
	t.Helper()
	r.committedAll()

	// What offline scoring decides for each record sent.
	cfg, err := readConfig("", func(k string) (string, bool) { v, ok := r.env()[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	s, err := settingsFromConfig(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	offline, err := newPipeline(r.ctx, s, false)
	if err != nil {
		t.Fatal(err)
	}
	defer offline.Close()
	recs := make([]detector.Record, len(r.sent))
	for i, v := range r.sent {
		recs[i] = detector.Record{Topic: r.in, Offset: int64(i), Value: v}
	}
	want, err := offline.engine.HandleBatch(r.ctx, recs)
	if err != nil {
		t.Fatal(err)
	}

	var alertMsgs, dlqMsgs []kafkaio.Message
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); alertMsgs = r.readAll(r.alerts) }()
	go func() { defer wg.Done(); dlqMsgs = r.readAll(r.dlq) }()
	wg.Wait()

	rep := faultReport{Records: len(r.sent), AlertRecords: len(alertMsgs), Repeated: map[int]int{}}
	alertIDs := map[string]string{} // event id → alert id
	alertCopies := map[string]int{}
	for _, m := range alertMsgs {
		var a models.Alert
		if err := json.Unmarshal(m.Value, &a); err != nil {
			t.Fatalf("alert record is not JSON: %v", err)
		}
		if a.ID != models.AlertID(a.EventID) {
			t.Errorf("alert id %s is not derived from event %s", a.ID, a.EventID)
		}
		alertCopies[a.EventID]++
		if old, seen := alertIDs[a.EventID]; seen {
			rep.Duplicates++
			if old != a.ID {
				t.Errorf("event %s alerted twice with different ids %s and %s", a.EventID, old, a.ID)
			}
		}
		alertIDs[a.EventID] = a.ID
	}
	distinct := map[string]bool{}
	for _, id := range alertIDs {
		distinct[id] = true
	}
	rep.DistinctAlertIDs = len(distinct)

	// Dead letters are matched to the records sent by their value (a
	// truncated one by its prefix: every record sent differs in its
	// first 48 bytes, see faultRecords).
	byPrefix := map[string]int{}
	for i, v := range r.sent {
		byPrefix[string(v[:min(len(v), 48)])] = i
	}
	dead := map[int]int{} // record index → dead letters for it
	for _, m := range dlqMsgs {
		i, ok := byPrefix[string(m.Value[:min(len(m.Value), 48)])]
		if !ok || !bytes.HasPrefix(r.sent[i], m.Value) {
			t.Errorf("dead letter %.80q matches no record sent", m.Value)
			continue
		}
		if m.Headers[kafkaio.HeaderReason] == "" {
			t.Errorf("dead letter %.80q has no reason header", m.Value)
		}
		if len(m.Value) < len(r.sent[i]) && m.Headers[kafkaio.HeaderTruncated] != "true" {
			t.Errorf("dead letter %.40q is cut to %d of %d bytes but not marked truncated", m.Value, len(m.Value), len(r.sent[i]))
		}
		dead[i]++
	}

	wantAlert := map[string]bool{}
	for _, a := range want.Alerts {
		wantAlert[a.EventID] = true
	}
	eventID := func(i int) string {
		ev, err := decodeLine(r.sent[i], offline.decode)
		if err != nil {
			return ""
		}
		return ev.ID
	}
	mismatches := 0
	for i, w := range want.Outcomes {
		id := eventID(i)
		_, alerted := alertIDs[id]
		alerted = alerted && id != ""
		var got detector.Outcome
		switch {
		case alerted && dead[i] > 0:
			t.Errorf("record %d (%.60q) has two outcomes: an alert and a dead letter", i, r.sent[i])
			got = "two outcomes"
		case alerted:
			got = detector.OutcomeAlert
			rep.Alerts++
			if n := alertCopies[id]; n > 1 {
				rep.Repeated[i] = n - 1
			}
		case dead[i] > 0:
			got = detector.OutcomeDeadLetter
			rep.DeadLetters++
			if dead[i] > 1 {
				rep.Duplicates += dead[i] - 1
				rep.Repeated[i] = dead[i] - 1
			}
		default:
			got = detector.OutcomeScored
			rep.Scored++
		}
		rep.Outcomes = append(rep.Outcomes, got)
		if got != w {
			if mismatches++; mismatches <= 10 {
				t.Errorf("record %d (%.80q): %s live, %s offline", i, r.sent[i], got, w)
			}
		}
	}
	if mismatches > 10 {
		t.Errorf("… %d records in all judged differently live and offline", mismatches)
	}
	for id := range alertIDs {
		if !wantAlert[id] {
			t.Errorf("event %s alerted live but not offline", id)
		}
	}
	if rep.Alerts+rep.Scored+rep.DeadLetters != rep.Records {
		t.Errorf("outcomes %+v do not add up to the records sent", rep)
	}
	t.Logf("%d records: %d alerts (%d alert records, %d distinct alert ids), %d scored without alert, %d dead letters; %d raw duplicates",
		rep.Records, rep.Alerts, rep.AlertRecords, rep.DistinctAlertIDs, rep.Scored, rep.DeadLetters, rep.Duplicates)
	return rep
}

// faultRecords returns n good inbound events: the fixtures, copied with
// fresh ids (round i of the copy in the id), so that the mix of scams and
// ordinary traffic is realistic and every record differs early on.
func faultRecords(t *testing.T, n int) [][]byte {
	t.Helper()
	lines := fixtureLines(t)
	var out [][]byte
	for round := 0; len(out) < n; round++ {
		for _, l := range lines {
			if len(out) == n {
				break
			}
			var m map[string]any
			if err := json.Unmarshal(l, &m); err != nil {
				t.Fatal(err)
			}
			// The id first, so the first bytes of every record differ.
			id, err := json.Marshal(fmt.Sprintf("f%d-%v", round, m["id"]))
			if err != nil {
				t.Fatal(err)
			}
			delete(m, "id")
			rest, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, append(append([]byte(`{"id":`), id...), append([]byte(","), rest[1:]...)...))
		}
	}
	return out
}

// redisProc is a private redis-server the test can stop and start again
// on the same port, with its data kept (append-only file) as a production
// Redis would.
type redisProc struct {
	t    *testing.T
	dir  string
	port string
	cmd  *exec.Cmd
	done chan struct{}
}

func startPrivateRedis(t *testing.T) *redisProc {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server not installed: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	r := &redisProc{t: t, dir: t.TempDir(), port: port}
	r.start()
	t.Cleanup(func() { r.stop() })
	return r
}

func (r *redisProc) addr() string { return "127.0.0.1:" + r.port }

func (r *redisProc) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", r.port, "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "yes", "--appendfsync", "always", "--dir", r.dir, "--logfile", filepath.Join(r.dir, "redis.log"))
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.done = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(r.cmd, r.done)
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", r.addr())
		if err == nil {
			_, _ = c.Write([]byte("PING\r\n"))
			buf := make([]byte, 7)
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := c.Read(buf)
			c.Close()
			if strings.HasPrefix(string(buf[:n]), "+PONG") {
				return
			}
		}
		if i > 100 {
			b, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
			r.t.Fatalf("redis-server on %s did not answer: %v\n%s", r.addr(), err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *redisProc) stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
	r.cmd = nil
}

// kafkaBroker is a private Apache Kafka broker (scripts/kafka/start) the
// test can restart on the same ports and data.
type kafkaBroker struct {
	t       *testing.T
	scripts string
	dir     string
	addr    string
}

func startPrivateKafka(t *testing.T) *kafkaBroker {
	t.Helper()
	b := &kafkaBroker{t: t, scripts: kafkaScripts(t), dir: t.TempDir()}
	b.start()
	t.Cleanup(b.stop)
	return b
}

func (b *kafkaBroker) start() {
	b.t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(filepath.Join(b.scripts, "start"), b.dir)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.t.Fatalf("scripts/kafka/start: %v\n%s", err, stderr.String())
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		b.t.Fatalf("scripts/kafka/start printed %q", out)
	}
	if b.addr != "" && b.addr != f[0] {
		b.t.Fatalf("broker restarted on %s, not on its old address %s", f[0], b.addr)
	}
	b.addr = f[0]
}

func (b *kafkaBroker) stop() {
	if out, err := exec.Command(filepath.Join(b.scripts, "stop"), b.dir).CombinedOutput(); err != nil {
		b.t.Errorf("scripts/kafka/stop: %v\n%s", err, out)
	}
}
