package detector

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"fraudwatch/detector/rules"
	"fraudwatch/features"
	"fraudwatch/models"
)

// keywordExtractor is a tiny stand-in for features.Extractor: it sets a
// few features from literal words, so engine tests do not depend on the
// lexicons.
type keywordExtractor struct{}

func (keywordExtractor) Extract(ev *models.Event, rep models.Snapshot) features.Set {
	s := features.Set{Evidence: map[string]string{}, HasSender: ev.From != "", IsCall: ev.Kind == models.KindCall}
	if i := strings.Index(ev.Text, "code"); i >= 0 {
		s.LexCredential = 1
		s.Evidence["lex_credential"] = ev.Text
	}
	s.Cards = len(models.FindCardNumbers(ev.Text))
	if s.Cards > 0 {
		s.Evidence["cards"] = ev.Text
	}
	s.RepEvents = int(rep.Events)
	return s
}

const testRules = `
version: test-1
thresholds: {low: 1, medium: 4, high: 7, critical: 10}
advice:
  default: {ru: "Перезвоните: {lines}", en: "Call back: {lines}"}
  credential_request: {ru: "Не сообщайте код. {lines}", en: "Never share codes. {lines}"}
rules:
  - id: credential.code
    category: credential_request
    description: asks for a code
    when: lex_credential > 0
    weight: 5
  - id: sensitive.card
    category: sensitive_data
    description: card number
    when: cards > 0
    weight: 4
  - id: unknown.sender
    category: unknown_number
    description: any sender
    when: has_sender
    weight: 6
  - id: shadow.calls
    category: call_pattern
    description: shadow
    when: is_call
    weight: 9
    shadow: true
`

type countingRep struct {
	calls int
	err   error
	seen  map[string]models.Snapshot
	n     map[string]int64
}

func (r *countingRep) Observe(_ context.Context, obs []models.Observation) ([]models.Snapshot, error) {
	r.calls++
	if r.err != nil {
		return nil, r.err
	}
	out := make([]models.Snapshot, len(obs))
	for i, o := range obs {
		if o.SenderHash == "" {
			continue
		}
		if s, ok := r.seen[o.EventID]; ok {
			s.Replayed = true
			out[i] = s
			continue
		}
		r.n[o.SenderHash]++
		s := models.Snapshot{Events: r.n[o.SenderHash], FirstSeen: o.TS, LastSeen: o.TS}
		r.seen[o.EventID] = s
		out[i] = s
	}
	return out, nil
}

func newTestEngine(t *testing.T, rep Reputation, now time.Time) *Engine {
	t.Helper()
	rs, err := rules.Parse("test", []byte(testRules))
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewSenderHasher("v1", []byte("0123456789abcdef0123"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(EngineConfig{OfficialLines: []string{"+7 495 123-45-67"}, Now: func() time.Time { return now }},
		models.DecodeOptions{}, keywordExtractor{}, rep, h, rs)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func rec(off int64, v string) Record { return Record{Topic: "in", Offset: off, Value: []byte(v)} }

func TestHandleBatchGivesEveryRecordOneOutcome(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	rep := &countingRep{seen: map[string]models.Snapshot{}, n: map[string]int64{}}
	e := newTestEngine(t, rep, now)
	recs := []Record{
		rec(0, `{"id":"a","kind":"message","ts":"2026-11-26T09:59:00Z","to":"emp-1","from":"+79161234567","text":"tell me the code, card 4111 1111 1111 1111"}`),
		rec(1, `not json`),
		rec(2, `{"id":"b","kind":"message","ts":"2026-11-26T09:59:00Z","to":"emp-2","text":"hello"}`),
		rec(3, `{"id":"c","kind":"sms","ts":"2026-11-26T09:59:00Z","to":"emp-2"}`),
		rec(4, `{"id":"d","kind":"message","ts":"2026-11-26T09:59:00Z","to":"emp-3","from":"+79161234567","text":"hi"}`),
	}
	res, err := e.HandleBatch(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	want := []Outcome{OutcomeAlert, OutcomeDeadLetter, OutcomeScored, OutcomeDeadLetter, OutcomeScored}
	for i, o := range want {
		if res.Outcomes[i] != o {
			t.Errorf("record %d: outcome %s, want %s", i, res.Outcomes[i], o)
		}
	}
	if rep.calls != 1 {
		t.Errorf("reputation called %d times for one batch, want 1", rep.calls)
	}
	if len(res.DeadLetters) != 2 || !strings.Contains(res.DeadLetters[1].Reason, `unknown kind "sms"`) || res.DeadLetters[0].Record.Offset != 1 {
		t.Errorf("dead letters = %+v", res.DeadLetters)
	}
	if len(res.Alerts) != 1 {
		t.Fatalf("alerts = %+v", res.Alerts)
	}
	a := res.Alerts[0]
	t.Run("the alert id is derived from the event id", func(t *testing.T) {
		if a.ID != models.AlertID("a") || a.EventID != "a" {
			t.Errorf("alert id %q for event %q", a.ID, a.EventID)
		}
	})
	t.Run("the sender is masked and hashed, never raw", func(t *testing.T) {
		if a.Sender != "+7916***4567" || !strings.HasPrefix(a.SenderHash, "v1:") || strings.Contains(a.SenderHash, "9161234567") {
			t.Errorf("sender %q hash %q", a.Sender, a.SenderHash)
		}
	})
	t.Run("card numbers in evidence are masked to 6 and 4", func(t *testing.T) {
		for _, r := range a.Reasons {
			if strings.Contains(r.Evidence, "4111 1111 1111 1111") || strings.Contains(r.Evidence, "4111111111111111") {
				t.Errorf("reason %s leaks the card: %q", r.Rule, r.Evidence)
			}
		}
		if r := reasonOf(a, "credential.code"); !strings.Contains(r.Evidence, "411111******1111") {
			t.Errorf("evidence %q", r.Evidence)
		}
	})
	t.Run("advice names the official line in both languages", func(t *testing.T) {
		if !strings.Contains(a.Advice.RU, "+7 495 123-45-67") || !strings.Contains(a.Advice.EN, "+7 495 123-45-67") || !strings.Contains(a.Advice.EN, "Never share codes") {
			t.Errorf("advice %+v", a.Advice)
		}
	})
	t.Run("age and versions are set", func(t *testing.T) {
		if a.AgeSeconds != 60 || a.RulesVersion != "test-1" || a.ModelVersion != "none" || a.Severity != models.SeverityCritical {
			t.Errorf("alert %+v", a)
		}
	})
	t.Run("reasons run from the heaviest; unknown_number is the last category", func(t *testing.T) {
		var rules []string
		for _, r := range a.Reasons {
			rules = append(rules, r.Rule)
		}
		if strings.Join(rules, ",") != "unknown.sender,credential.code,sensitive.card" {
			t.Errorf("reasons %v", rules)
		}
		if fmt.Sprint(a.Categories) != "[credential_request sensitive_data unknown_number]" {
			t.Errorf("categories %v", a.Categories)
		}
	})
	t.Run("unknown_number alone never alerts, whatever its weight", func(t *testing.T) {
		v := res.Verdicts[2] // event d: only unknown.sender fired (weight 6 ≥ medium)
		if v.EventID != "d" || v.Score != 6 || v.Severity != models.SeverityNone || v.Flagged {
			t.Errorf("verdict %+v", v)
		}
	})
}

func TestRedeliveredBatchYieldsTheSameVerdictsAndIDs(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	rep := &countingRep{seen: map[string]models.Snapshot{}, n: map[string]int64{}}
	e := newTestEngine(t, rep, now)
	recs := []Record{
		rec(0, `{"id":"a","kind":"message","ts":"2026-11-26T09:59:00Z","to":"emp-1","from":"+79161234567","text":"send the code"}`),
		rec(1, `{"id":"b","kind":"message","ts":"2026-11-26T09:59:30Z","to":"emp-2","from":"+79161234567","text":"send the code"}`),
	}
	first, err := e.HandleBatch(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.HandleBatch(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range first.Alerts {
		if first.Alerts[i].ID != again.Alerts[i].ID || first.Alerts[i].Score != again.Alerts[i].Score {
			t.Errorf("alert %d changed on redelivery: %+v vs %+v", i, first.Alerts[i], again.Alerts[i])
		}
	}
	if rep.n[first.Alerts[0].SenderHash] != 2 {
		t.Errorf("redelivery counted again: %d events", rep.n[first.Alerts[0].SenderHash])
	}
}

func TestShadowRulesAreReportedButNeverCounted(t *testing.T) {
	e := newTestEngine(t, &countingRep{seen: map[string]models.Snapshot{}, n: map[string]int64{}}, time.Now())
	res, err := e.HandleBatch(context.Background(), []Record{rec(0, `{"id":"c1","kind":"call","ts":"2026-11-26T09:59:00Z","to":"emp-1","call":{"missed":true}}`)})
	if err != nil {
		t.Fatal(err)
	}
	v := res.Verdicts[0]
	if v.Score != 0 || v.Flagged || len(v.Reasons) != 1 || !v.Reasons[0].Shadow || v.Reasons[0].Rule != "shadow.calls" {
		t.Errorf("verdict %+v", v)
	}
}

func TestReputationErrorsFailTheBatch(t *testing.T) {
	boom := errors.New("connection refused")
	e := newTestEngine(t, &countingRep{err: boom}, time.Now())
	_, err := e.HandleBatch(context.Background(), []Record{rec(0, `{"id":"a","kind":"message","ts":"2026-11-26T09:59:00Z","to":"emp-1","text":"x"}`)})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want it to wrap %v", err, boom)
	}
}

func TestEventTimesAreClampedBeforeReputation(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	var got []time.Time
	rep := ReputationFunc(func(_ context.Context, obs []models.Observation) ([]models.Snapshot, error) {
		for _, o := range obs {
			got = append(got, o.TS)
		}
		return make([]models.Snapshot, len(obs)), nil
	})
	e := newTestEngine(t, rep, now)
	_, err := e.HandleBatch(context.Background(), []Record{
		rec(0, `{"id":"future","kind":"message","ts":"2030-01-01T00:00:00Z","to":"e","from":"+79161234567"}`),
		rec(1, `{"id":"past","kind":"message","ts":"2001-01-01T00:00:00Z","to":"e","from":"+79161234567"}`),
		rec(2, `{"id":"ok","kind":"message","ts":"2026-11-26T09:00:00Z","to":"e","from":"+79161234567"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Time{now.Add(5 * time.Minute), now.Add(-7 * 24 * time.Hour), time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Errorf("observation %d at %v, want %v", i, got[i], want[i])
		}
	}
}

func TestNewEngineRefusesToStartWithoutOfficialLines(t *testing.T) {
	rs, err := rules.Parse("test", []byte(testRules))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := NewSenderHasher("v1", []byte("0123456789abcdef"))
	_, err = NewEngine(EngineConfig{}, models.DecodeOptions{}, keywordExtractor{}, ReputationFunc(nil), h, rs)
	if err == nil || !strings.Contains(err.Error(), "official lines") {
		t.Fatalf("err = %v", err)
	}
}

func TestSenderHasher(t *testing.T) {
	h1, err := NewSenderHasher("v1", []byte("0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := NewSenderHasher("v2", []byte("another secret of 16+"))
	a, b := h1.Hash("+79161234567"), h1.Hash("+79161234567")
	if a != b || !strings.HasPrefix(a, "v1:") || len(a) != 3+32 {
		t.Errorf("hash %q / %q", a, b)
	}
	if h2.Hash("+79161234567") == a || !strings.HasPrefix(h2.Hash("+79161234567"), "v2:") {
		t.Error("a rotated key must give a different, differently labelled hash")
	}
	if h1.Hash("") != "" {
		t.Error("no sender must hash to nothing")
	}
	for _, tc := range []struct{ version, secret string }{{"v1", "short"}, {"V 1", "0123456789abcdef"}, {"", "0123456789abcdef"}} {
		if _, err := NewSenderHasher(tc.version, []byte(tc.secret)); err == nil {
			t.Errorf("NewSenderHasher(%q, %q) accepted", tc.version, tc.secret)
		}
	}
}

type panickyExtractor struct{ keywordExtractor }

func (p panickyExtractor) Extract(ev *models.Event, rep models.Snapshot) features.Set {
	if ev.Text == "boom" {
		panic("index out of range")
	}
	return p.keywordExtractor.Extract(ev, rep)
}

// A bug triggered by one event must neither crash the consumer nor stall
// its partition: that event is dead-lettered with the error, the rest of
// the batch is scored.
func TestAPanicWhileScoringDeadLettersOnlyThatEvent(t *testing.T) {
	rs, err := rules.Parse("test", []byte(testRules))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := NewSenderHasher("v1", []byte("0123456789abcdef"))
	e, err := NewEngine(EngineConfig{OfficialLines: []string{"+74951234567"}}, models.DecodeOptions{}, panickyExtractor{},
		&countingRep{seen: map[string]models.Snapshot{}, n: map[string]int64{}}, h, rs)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.HandleBatch(context.Background(), []Record{
		rec(0, `{"id":"a","kind":"message","ts":"2026-11-26T09:59:00Z","to":"emp-1","text":"boom"}`),
		rec(1, `{"id":"b","kind":"message","ts":"2026-11-26T09:59:00Z","to":"emp-1","text":"send the code"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcomes[0] != OutcomeDeadLetter || res.Outcomes[1] != OutcomeAlert {
		t.Fatalf("outcomes %v", res.Outcomes)
	}
	if len(res.DeadLetters) != 1 || !strings.Contains(res.DeadLetters[0].Reason, "internal error") || res.DeadLetters[0].Record.Offset != 0 {
		t.Errorf("dead letters %+v", res.DeadLetters)
	}
}

func reasonOf(a models.Alert, rule string) models.Reason {
	for _, r := range a.Reasons {
		if r.Rule == rule {
			return r
		}
	}
	return models.Reason{}
}

func TestAPanicWhileDecodingDeadLettersOnlyThatRecord(t *testing.T) {
	rs, err := rules.Parse("test", []byte(testRules))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := NewSenderHasher("v1", []byte("0123456789abcdef"))
	norm := func(raw string) (string, bool) {
		if raw == "+70000000000" {
			panic("normaliser bug")
		}
		return raw, true
	}
	e, err := NewEngine(EngineConfig{OfficialLines: []string{"+74951234567"}}, models.DecodeOptions{NormalizeSender: norm}, keywordExtractor{},
		&countingRep{seen: map[string]models.Snapshot{}, n: map[string]int64{}}, h, rs)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.HandleBatch(context.Background(), []Record{
		rec(0, `{"id":"a","kind":"message","ts":"2026-11-26T09:59:00Z","to":"emp-1","from":"+70000000000","text":"hi"}`),
		rec(1, `{"id":"b","kind":"message","ts":"2026-11-26T09:59:00Z","to":"emp-1","text":"send the code"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcomes[0] != OutcomeDeadLetter || res.Outcomes[1] != OutcomeAlert || !strings.Contains(res.DeadLetters[0].Reason, "internal error while decoding") {
		t.Fatalf("outcomes %v, dead letters %+v", res.Outcomes, res.DeadLetters)
	}
}
