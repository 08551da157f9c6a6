package detector_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"fraudwatch/detector"
	"fraudwatch/detector/rules"
	"fraudwatch/features"
	"fraudwatch/features/memrep"
	"fraudwatch/fixtures"
	"fraudwatch/models"
)

// crossEnv is the real scoring path with its in-memory store at hand, for
// scenarios that span events.
type crossEnv struct {
	eng   *detector.Engine
	store *memrep.Store
	hash  *detector.SenderHasher
	now   time.Time
}

func newCrossEnv(t *testing.T) *crossEnv {
	t.Helper()
	dir, err := features.ParseDirectory(fixtures.Directory())
	if err != nil {
		t.Fatal(err)
	}
	x, err := features.NewExtractor(features.Config{DefaultRegion: "RU", Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	h, err := detector.NewSenderHasher("v1", []byte("cross-event-test-secret"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := memrep.New(memrep.Config{})
	if err != nil {
		t.Fatal(err)
	}
	env := &crossEnv{store: st, hash: h, now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	env.eng, err = detector.NewEngine(detector.EngineConfig{OfficialLines: officialNumbers(dir), Now: func() time.Time { return env.now }},
		models.DecodeOptions{}, x, st, h, rs)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func (e *crossEnv) score(t *testing.T, evs ...models.Event) []detector.Scored {
	t.Helper()
	out, err := e.eng.Score(context.Background(), evs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func message(id, from, to string, ago time.Duration, text string, now time.Time) models.Event {
	return models.Event{ID: id, Kind: models.KindMessage, From: from, To: to, TS: now.Add(-ago), Text: text}
}

func call(id, from, to string, ago time.Duration, missed bool, dur float64, now time.Time) models.Event {
	return models.Event{ID: id, Kind: models.KindCall, From: from, To: to, TS: now.Add(-ago), Call: &models.Call{Missed: missed, DurationS: dur}}
}

func scoredHas(sc detector.Scored, c models.Category) bool {
	return slices.Contains(sc.Verdict.Categories, c)
}

func TestCallThenMessageIsACallPattern(t *testing.T) {
	env := newCrossEnv(t)
	const scammer = "+79035550101"
	text := "Здравствуйте, это служба безопасности банка. Перезвонить не получилось: срочно подтвердите операцию, иначе карта будет заблокирована."
	got := env.score(t,
		call("c1", scammer, "emp-1", 20*time.Minute, true, 0, env.now),
		message("m1", scammer, "emp-1", 10*time.Minute, text, env.now),
		message("m2", scammer, "emp-2", 9*time.Minute, text, env.now),
	)
	if !got[1].Verdict.Flagged || !scoredHas(got[1], models.CategoryCallPattern) {
		t.Errorf("message after the missed call: flagged %v categories %v, want a call_pattern alert", got[1].Verdict.Flagged, got[1].Verdict.Categories)
	}
	if scoredHas(got[2], models.CategoryCallPattern) {
		t.Errorf("message to an employee who got no call: categories %v, want no call_pattern", got[2].Verdict.Categories)
	}
	if !got[1].Features.CallThenMessage || got[1].Features.ShortCallAgoMin != 10 {
		t.Errorf("features: call_then_message %v, short_call_ago_min %v; want true, 10", got[1].Features.CallThenMessage, got[1].Features.ShortCallAgoMin)
	}
}

func TestWangiriCallsToManyEmployees(t *testing.T) {
	env := newCrossEnv(t)
	var evs []models.Event
	for i := range 6 {
		evs = append(evs, call(fmt.Sprint("w", i), "+2693555010", fmt.Sprint("emp-", i), time.Duration(30-i)*time.Minute, i%2 == 0, 1, env.now))
	}
	got := env.score(t, evs...)
	for i, sc := range got {
		want := i >= 3 // the fourth employee reached makes it a pattern
		if sc.Verdict.Flagged != want || (want && !scoredHas(sc, models.CategoryCallPattern)) {
			t.Errorf("call %d: flagged %v categories %v (employees reached %d), want flagged call_pattern %v",
				i, sc.Verdict.Flagged, sc.Verdict.Categories, sc.Features.RepShortCallEmployees, want)
		}
	}
}

func TestCampaignFromRotatingNumbersSharesOneID(t *testing.T) {
	env := newCrossEnv(t)
	var evs []models.Event
	for i := range 5 {
		text := fmt.Sprintf("Поздравляем! Ваш номер выиграл %d 000 рублей в розыгрыше. Для получения приза оплатите комиссию по ссылке prize-%d.top", 50+i, i)
		evs = append(evs, message(fmt.Sprint("camp", i), fmt.Sprintf("+7903555%04d", 2000+i), fmt.Sprint("emp-", 10+i), time.Duration(50-i)*time.Minute, text, env.now))
	}
	got := env.score(t, evs...)
	ids := map[string]bool{}
	for i, sc := range got {
		if sc.Alert == nil {
			t.Fatalf("message %d not alerted: %v", i, sc.Verdict)
		}
		if i > 0 {
			ids[sc.Alert.Campaign] = true
		}
		if i >= 2 && !scoredHas(sc, models.CategoryCampaign) {
			t.Errorf("message %d from the third number on: categories %v, want campaign (senders %d, employees %d)",
				i, sc.Verdict.Categories, sc.Features.CampaignSenders, sc.Features.CampaignEmployees)
		}
	}
	if len(ids) != 1 || ids[""] {
		t.Errorf("campaign ids of the alerts after the first: %v, want one shared non-empty id", ids)
	}
	if got[0].Alert.Campaign != "" {
		t.Errorf("the first message named campaign %q before any other sender or employee got the text", got[0].Alert.Campaign)
	}
	if tid := got[0].Alert.TextID; tid == "" || !ids[tid] {
		t.Errorf("the first message's text id %q is not the campaign's %v: triage could not file it under the campaign", tid, ids)
	}
}

func TestSOCVerdictsChangeTheNextScore(t *testing.T) {
	env := newCrossEnv(t)
	const sender = "+79035550303"
	first := env.score(t, message("f1", sender, "emp-1", time.Hour, "Добрый день, подскажите, пожалуйста, реквизиты для оплаты по договору.", env.now))
	h, err := detector.NewFeedbackHandler(env.store, detector.FeedbackConfig{})
	if err != nil {
		t.Fatal(err)
	}
	fb := fmt.Sprintf(`{"alert_id": %q, "sender_hash": %q, "verdict": "fraud", "analyst": "soc-1"}`, models.AlertID("f1"), env.hash.Hash(sender))
	recs := []detector.Record{{Value: []byte(fb)}, {Value: []byte(fb)}, {Value: []byte(`{"alert_id": "x", "verdict": "maybe"}`)}}
	for range 2 { // a redelivered batch changes nothing twice
		res, err := h.HandleBatch(context.Background(), recs)
		if err != nil {
			t.Fatal(err)
		}
		if want := []detector.Outcome{detector.OutcomeScored, detector.OutcomeScored, detector.OutcomeDeadLetter}; !slices.Equal(res.Outcomes, want) {
			t.Fatalf("outcomes %v, want %v", res.Outcomes, want)
		}
	}
	next := env.score(t, message("f2", sender, "emp-2", 30*time.Minute, "Срочно переведите оплату по ссылке pay-now.top, иначе договор аннулируют.", env.now))
	if next[0].Features.RepFraudReports != 1 {
		t.Errorf("rep_fraud_reports = %d after one verdict delivered twice, want 1", next[0].Features.RepFraudReports)
	}
	if !slices.ContainsFunc(next[0].Verdict.Reasons, func(r models.Reason) bool { return r.Rule == "reputation.reported_fraud" }) {
		t.Errorf("reasons %v lack reputation.reported_fraud", next[0].Verdict.Reasons)
	}
	if next[0].Verdict.Score <= first[0].Verdict.Score {
		t.Errorf("score after a fraud verdict %v, want above the first message's %v", next[0].Verdict.Score, first[0].Verdict.Score)
	}
}

func TestStaleAlertsGoToTheSOCOnly(t *testing.T) {
	env := newCrossEnv(t)
	text := "Вы выиграли iPhone 17! Для получения приза оплатите доставку 990 руб по ссылке win-prize.top"
	got := env.score(t,
		message("fresh", "+79035550404", "emp-1", time.Minute, text, env.now),
		message("old", "+79035550405", "emp-2", 2*time.Hour, text, env.now),
	)
	if a := got[0].Alert; a == nil || a.Stale || !a.NotifyEmployee {
		t.Errorf("fresh alert %+v, want stale false, notify_employee true", a)
	}
	if a := got[1].Alert; a == nil || !a.Stale || a.NotifyEmployee {
		t.Errorf("two-hour-old alert %+v, want stale true, notify_employee false", a)
	}
}

func TestBankFormAttachmentFromAnUnknownNumber(t *testing.T) {
	env := newCrossEnv(t)
	ev := message("att", "+79035550505", "emp-1", time.Minute, "Заполните, пожалуйста", env.now)
	ev.Media = []models.Media{{Type: "document", Filename: "Анкета_службы_безопасности_банка.pdf", MIME: "application/pdf"}}
	got := env.score(t, ev)
	if !got[0].Verdict.Flagged || !scoredHas(got[0], models.CategoryAttachment) {
		t.Errorf("flagged %v categories %v, want a malicious_attachment alert", got[0].Verdict.Flagged, got[0].Verdict.Categories)
	}
}
