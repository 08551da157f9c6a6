package triage_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"fraudwatch/detector/triage"
	"fraudwatch/detector/triage/triagetest"
	"fraudwatch/models"
)

// t0 is the test's wall clock start; events happen around it.
var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

type env struct {
	tr       *triage.Triage
	clock    *triagetest.Clock
	feedback *triagetest.FeedbackLog
	notified *[]triage.Notification
}

var (
	analyst  = triage.Actor{Name: "soc-anna", Role: triage.RoleAnalyst}
	analyst2 = triage.Actor{Name: "soc-boris", Role: triage.RoleAnalyst}
	viewer   = triage.Actor{Name: "auditor", Role: triage.RoleViewer}
)

// newEnv returns a Triage over a real redis-server, with keys under a
// prefix of the test's own.
func newEnv(t *testing.T, cfg triage.Config) *env { return newEnvTB(t, cfg) }

// newEnvTB is newEnv for tests and benchmarks.
func newEnvTB(t testing.TB, cfg triage.Config) *env {
	t.Helper()
	store := triagetest.Store(t, "triage")
	e := &env{clock: triagetest.NewClock(t0), feedback: &triagetest.FeedbackLog{}, notified: &[]triage.Notification{}}
	var mu sync.Mutex
	cfg.Clock = e.clock.Now
	cfg.Notifier = triage.NotifierFunc(func(_ context.Context, ns []triage.Notification) error {
		mu.Lock()
		defer mu.Unlock()
		*e.notified = append(*e.notified, ns...)
		return nil
	})
	var err error
	e.tr, err = triage.New(store, e.feedback, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// hash makes a sender hash of the detector's form.
func hash(sender string) string {
	sum := sha256.Sum256([]byte(sender))
	return "v1:" + hex.EncodeToString(sum[:16])
}

// alert makes an alert from sender to employee, at minute min after t0.
func alert(id, sender, campaign, employee string, min int, rules ...string) models.Alert {
	a := models.Alert{
		ID: "fa_" + id, EventID: id, EventKind: models.KindMessage, EventTime: t0.Add(time.Duration(min) * time.Minute),
		Employee: employee, Sender: models.MaskNumber(sender), SenderHash: hash(sender),
		Severity: models.SeverityHigh, Categories: []models.Category{models.CategoryCredential}, Campaign: campaign, TextID: campaign,
	}
	if len(rules) == 0 {
		rules = []string{"credential.sms_code"}
	}
	for _, r := range rules {
		a.Reasons = append(a.Reasons, models.Reason{Rule: r, Category: models.CategoryCredential, Weight: 2, Evidence: "назовите код из смс"})
	}
	return a
}

func ingest(t *testing.T, e *env, alerts ...models.Alert) []triage.IngestResult {
	t.Helper()
	var out []triage.IngestResult
	for _, a := range alerts {
		r, err := e.tr.Ingest(context.Background(), a)
		if err != nil {
			t.Fatalf("ingest %s: %v", a.ID, err)
		}
		out = append(out, r)
	}
	return out
}

func list(t *testing.T, e *env, f triage.Filter) []models.Incident {
	t.Helper()
	p, err := e.tr.List(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return p.Incidents
}

func TestACampaignIsOneIncidentThatCoversItsFirstSendersIncident(t *testing.T) {
	e := newEnv(t, triage.Config{})
	ctx := context.Background()
	// The campaign's first message carries no campaign id (the text had
	// reached one employee only); the next ones do, from three numbers.
	ingest(t, e,
		alert("m1", "+79160000001", "", "emp-1", 0),
		alert("m2", "+79160000001", "camp_x", "emp-2", 1),
		alert("m3", "+79160000002", "camp_x", "emp-3", 2),
		alert("m4", "+79160000003", "camp_x", "emp-4", 3),
	)
	visible := list(t, e, triage.Filter{})
	if len(visible) != 1 || visible[0].Campaign != "camp_x" {
		t.Fatalf("queue = %+v, want the one campaign incident", visible)
	}
	c := visible[0]
	if c.AlertCount != 3 || len(c.Employees) != 3 || len(c.Senders) != 3 || len(c.Covers) != 1 {
		t.Fatalf("campaign incident = %+v, want 3 alerts, 3 employees, 3 senders, covering 1 incident", c)
	}
	all := list(t, e, triage.Filter{Inhibited: true})
	if len(all) != 2 {
		t.Fatalf("with inhibited: %d incidents, want 2", len(all))
	}
	d, err := e.tr.Detail(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Alerts) != 4 || d.Alerts[0].Alert.ID != "fa_m1" || len(d.Covered) != 1 || d.Covered[0].InhibitedBy != c.ID {
		t.Fatalf("detail: %d alerts (first %s), covered %+v; want the 4 alerts in event order and the inhibited sender incident", len(d.Alerts), d.Alerts[0].Alert.ID, d.Covered)
	}

	// A later message from the first number without a campaign id joins
	// its sender incident, which stays covered.
	ingest(t, e, alert("m5", "+79160000001", "", "emp-5", 4))
	if got := list(t, e, triage.Filter{}); len(got) != 1 {
		t.Fatalf("after a sender-only alert the queue has %d incidents, want 1", len(got))
	}

	res, err := e.tr.Resolve(ctx, analyst, c.ID, "fraud", "same script, three numbers")
	if err != nil || res.Pending {
		t.Fatalf("resolve: %+v, %v", res, err)
	}
	if res.Feedback != 5 {
		t.Fatalf("feedback records = %d, want one per alert (5) including the covered incident's", res.Feedback)
	}
	recs := e.feedback.Records()
	ids := map[string]bool{}
	for _, r := range recs {
		if r.Verdict != "fraud" || r.Analyst != analyst.Name || r.SenderHash == "" || r.ID == "" {
			t.Fatalf("feedback record %+v", r)
		}
		if _, err := models.DecodeFeedback(mustJSON(t, r)); err != nil {
			t.Fatalf("the detector would dead-letter %+v: %v", r, err)
		}
		ids[r.ID] = true
	}
	if len(ids) != 5 {
		t.Fatalf("%d distinct feedback ids, want 5", len(ids))
	}
	covered, err := e.tr.Detail(ctx, c.Covers[0])
	if err != nil {
		t.Fatal(err)
	}
	if covered.Incident.Status != models.StatusResolved {
		t.Fatalf("covered incident is %s, want resolved with the campaign", covered.Incident.Status)
	}
	stats, err := e.tr.RuleStats(ctx, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != 1 || stats[0].Hits != 5 || stats[0].Fraud != 5 || stats[0].Precision != 1 {
		t.Fatalf("rule stats = %+v, want 5 hits, 5 fraud, precision 1", stats)
	}
}

func TestACampaignsFirstMessageFromANumberNotSeenAgainIsCovered(t *testing.T) {
	e := newEnv(t, triage.Config{})
	first := alert("p1", "+79160000101", "", "emp-1", 0)
	first.TextID = "camp_p" // the detector knew the text, not yet as a campaign
	unrelated := alert("p0", "+79160000109", "", "emp-1", 0)
	unrelated.TextID = "camp_other"
	ingest(t, e, first, unrelated,
		alert("p2", "+79160000102", "camp_p", "emp-2", 1),
		alert("p3", "+79160000103", "camp_p", "emp-3", 2),
	)
	visible := list(t, e, triage.Filter{})
	if len(visible) != 2 {
		t.Fatalf("queue has %d incidents, want the campaign and the unrelated sender", len(visible))
	}
	for _, inc := range visible {
		if inc.Campaign == "camp_p" && len(inc.Covers) != 1 {
			t.Fatalf("campaign incident %+v does not cover the first message's incident", inc)
		}
	}
}

func TestARedeliveredAlertChangesNothing(t *testing.T) {
	e := newEnv(t, triage.Config{})
	a := alert("r1", "+79160000011", "", "emp-1", 0)
	first := ingest(t, e, a, alert("r2", "+79160000011", "", "emp-2", 1))
	again := ingest(t, e, a)
	if !again[0].Duplicate || first[0].Duplicate {
		t.Fatalf("first %+v, again %+v", first[0], again[0])
	}
	incs := list(t, e, triage.Filter{})
	if len(incs) != 1 || incs[0].AlertCount != 2 {
		t.Fatalf("incidents %+v, want one with 2 alerts", incs)
	}
	stats, _ := e.tr.RuleStats(context.Background(), time.Time{}, time.Time{})
	if stats[0].Hits != 2 {
		t.Fatalf("hits = %d, want 2", stats[0].Hits)
	}
}

func TestAlertsGroupWithinTheWindowAndNotIntoAResolvedIncident(t *testing.T) {
	e := newEnv(t, triage.Config{Window: time.Hour})
	ctx := context.Background()
	r := ingest(t, e,
		alert("w1", "+79160000021", "", "emp-1", 0),
		alert("w2", "+79160000021", "", "emp-1", 30),
		alert("w3", "+79160000021", "", "emp-1", 200), // 170 min after the last: a new incident
	)
	if r[0].IncidentID != r[1].IncidentID || r[2].IncidentID == r[1].IncidentID || !r[2].NewIncident {
		t.Fatalf("results %+v: want w1, w2 together and w3 apart", r)
	}
	if _, err := e.tr.Resolve(ctx, analyst, r[2].IncidentID, "fraud", ""); err != nil {
		t.Fatal(err)
	}
	r4 := ingest(t, e, alert("w4", "+79160000021", "", "emp-1", 201))
	if r4[0].IncidentID == r[2].IncidentID {
		t.Fatal("an alert joined a resolved incident")
	}
}

func TestASilenceKeepsAlertsFromBeingRaisedButStoresThem(t *testing.T) {
	e := newEnv(t, triage.Config{GroupWait: time.Minute, GroupInterval: time.Minute})
	ctx := context.Background()
	sender := "+79160000031"
	r := ingest(t, e, alert("s1", sender, "", "emp-1", 0))
	e.clock.Advance(2 * time.Minute)
	if err := e.tr.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(*e.notified) != 1 || (*e.notified)[0].Reason != "new" {
		t.Fatalf("notifications %+v, want one new", *e.notified)
	}
	sil, err := e.tr.CreateSilence(ctx, analyst, models.Silence{
		Matchers: []models.Matcher{{Name: models.MatchSenderHash, Value: hash(sender)}},
		EndsAt:   e.clock.Now().Add(time.Hour), Comment: "known test number",
	})
	if err != nil {
		t.Fatal(err)
	}
	r2 := ingest(t, e, alert("s2", sender, "", "emp-2", 5))
	if !r2[0].Silenced || r2[0].IncidentID != r[0].IncidentID {
		t.Fatalf("second alert %+v: want silenced, in the same incident", r2[0])
	}
	e.clock.Advance(2 * time.Minute)
	if err := e.tr.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(*e.notified) != 1 {
		t.Fatalf("a silenced alert raised the incident again: %+v", *e.notified)
	}
	d, err := e.tr.Detail(ctx, r[0].IncidentID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Incident.AlertCount != 2 || d.Incident.SilencedCount != 1 || d.Alerts[1].SilencedBy != sil.ID {
		t.Fatalf("incident %+v, alerts %+v: want 2 alerts, 1 silenced by %s", d.Incident, d.Alerts, sil.ID)
	}

	// A sender judged and silenced: a new incident of only silenced
	// alerts stays out of the queue.
	other := "+79160000032"
	if _, err := e.tr.CreateSilence(ctx, analyst, models.Silence{
		Matchers: []models.Matcher{{Name: models.MatchSenderHash, Value: hash(other)}}, EndsAt: e.clock.Now().Add(time.Hour), Comment: "courier",
	}); err != nil {
		t.Fatal(err)
	}
	ingest(t, e, alert("s3", other, "", "emp-3", 6))
	if got := list(t, e, triage.Filter{SenderHash: hash(other)}); len(got) != 0 {
		t.Fatalf("a fully silenced incident is in the queue: %+v", got)
	}
	if got := list(t, e, triage.Filter{SenderHash: hash(other), Silenced: true}); len(got) != 1 {
		t.Fatalf("silenced=true shows %d incidents, want 1", len(got))
	}

	// Expired early, the silence stops applying.
	if _, err := e.tr.ExpireSilence(ctx, analyst, sil.ID); err != nil {
		t.Fatal(err)
	}
	if r := ingest(t, e, alert("s4", sender, "", "emp-4", 7)); r[0].Silenced {
		t.Fatal("an expired silence still applies")
	}
	if _, err := e.tr.ExpireSilence(ctx, analyst, sil.ID); !triage.IsState(err) {
		t.Fatalf("expiring an ended silence: %v, want a state error", err)
	}
}

func TestIncidentsAreRaisedOnAlertmanagersSchedule(t *testing.T) {
	e := newEnv(t, triage.Config{GroupWait: 30 * time.Second, GroupInterval: 5 * time.Minute, RepeatInterval: time.Hour})
	ctx := context.Background()
	flush := func() []string {
		t.Helper()
		n := len(*e.notified)
		if err := e.tr.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		var reasons []string
		for _, x := range (*e.notified)[n:] {
			reasons = append(reasons, x.Reason)
		}
		return reasons
	}
	r := ingest(t, e, alert("n1", "+79160000041", "", "emp-1", 0))
	steps := []struct {
		name    string
		advance time.Duration
		alert   *models.Alert
		want    []string
	}{
		{"nothing is raised during group_wait", 10 * time.Second, nil, nil},
		{"the incident is raised once group_wait has passed", 25 * time.Second, nil, []string{"new"}},
		{"a new alert waits for group_interval", time.Minute, ptr(alert("n2", "+79160000041", "", "emp-2", 1)), nil},
		{"after group_interval the update is raised", 5 * time.Minute, nil, []string{"update"}},
		{"nothing new: nothing raised", 10 * time.Minute, nil, nil},
		{"an open incident is raised again after repeat_interval", time.Hour, nil, []string{"repeat"}},
	}
	for _, s := range steps {
		e.clock.Advance(s.advance)
		if s.alert != nil {
			ingest(t, e, *s.alert)
		}
		if got := flush(); !slices.Equal(got, s.want) {
			t.Fatalf("%s: raised %v, want %v", s.name, got, s.want)
		}
	}
	if _, err := e.tr.Acknowledge(ctx, analyst, r[0].IncidentID); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Hour)
	if got := flush(); len(got) != 0 {
		t.Fatalf("an acknowledged incident was repeated: %v", got)
	}
}

func ptr[T any](v T) *T { return &v }

func TestALegitVerdictOnAReportedSenderNeedsASecondAnalyst(t *testing.T) {
	e := newEnv(t, triage.Config{})
	ctx := context.Background()
	sender := "+79160000051"
	// Two incidents of the sender resolved as fraud.
	for i := range 2 {
		r := ingest(t, e, alert(fmt.Sprintf("f%d", i), sender, "", "emp-1", i*2000))
		if _, err := e.tr.Resolve(ctx, analyst2, r[0].IncidentID, "fraud", ""); err != nil {
			t.Fatal(err)
		}
	}
	r := ingest(t, e, alert("f9", sender, "", "emp-1", 9000))
	before := len(e.feedback.Records())
	res, err := e.tr.Resolve(ctx, analyst, r[0].IncidentID, "legit", "says he is a customer")
	if err != nil || !res.Pending || res.Reason == "" {
		t.Fatalf("first legit: %+v, %v; want pending with a reason", res, err)
	}
	if len(e.feedback.Records()) != before {
		t.Fatal("a pending verdict was sent to the detector")
	}
	if _, err := e.tr.Resolve(ctx, analyst, r[0].IncidentID, "legit", ""); !triage.IsState(err) {
		t.Fatalf("the same analyst approving again: %v, want a state error", err)
	}
	res, err = e.tr.Resolve(ctx, analyst2, r[0].IncidentID, "legit", "")
	if err != nil || res.Pending {
		t.Fatalf("second analyst: %+v, %v", res, err)
	}
	got := res.Incident.Resolution
	if got.Analyst != analyst.Name || !slices.Equal(got.ApprovedBy, []string{analyst2.Name}) || got.Comment != "says he is a customer" {
		t.Fatalf("resolution %+v", got)
	}
	// analyst2's two fraud verdicts on this sender are now contradicted.
	st, err := e.tr.Analyst(ctx, analyst2.Name)
	if err != nil {
		t.Fatal(err)
	}
	if st.Verdicts != 3 || st.Contradicted != 2 || st.Trust >= 1 {
		t.Fatalf("analyst2 = %+v, want 3 verdicts, 2 contradicted, trust below 1", st)
	}
}

func TestAnAnalystWhoseVerdictWasContradictedCountsForLess(t *testing.T) {
	e := newEnv(t, triage.Config{})
	ctx := context.Background()
	a := ingest(t, e, alert("c1", "+79160000061", "", "emp-1", 0))
	if res, err := e.tr.Resolve(ctx, analyst, a[0].IncidentID, "legit", "colleague"); err != nil || res.Pending {
		t.Fatalf("a trusted analyst's legit: %+v, %v", res, err)
	}
	b := ingest(t, e, alert("c2", "+79160000061", "", "emp-1", 10))
	if _, err := e.tr.Resolve(ctx, analyst2, b[0].IncidentID, "fraud", "hijacked account"); err != nil {
		t.Fatal(err)
	}
	st, _ := e.tr.Analyst(ctx, analyst.Name)
	if st.Contradicted != 1 || st.Trust >= triage.DefaultMinTrust {
		t.Fatalf("analyst after a contradiction: %+v, want trust below %v", st, triage.DefaultMinTrust)
	}
	c := ingest(t, e, alert("c3", "+79160000062", "", "emp-2", 20))
	res, err := e.tr.Resolve(ctx, analyst, c[0].IncidentID, "legit", "")
	if err != nil || !res.Pending {
		t.Fatalf("legit from a contradicted analyst: %+v, %v; want pending", res, err)
	}
	// A fraud verdict replaces a pending legit at once.
	res, err = e.tr.Resolve(ctx, analyst2, c[0].IncidentID, "fraud", "")
	if err != nil || res.Pending || res.Incident.Resolution.Verdict != "fraud" || res.Incident.PendingVerdict != nil {
		t.Fatalf("fraud over a pending legit: %+v, %v", res, err)
	}
}

func TestAViewerCannotChangeAnythingAndEveryChangeIsAudited(t *testing.T) {
	e := newEnv(t, triage.Config{})
	ctx := context.Background()
	r := ingest(t, e, alert("v1", "+79160000071", "", "emp-1", 0))
	id := r[0].IncidentID
	denied := map[string]error{}
	_, denied["acknowledge"] = e.tr.Acknowledge(ctx, viewer, id)
	_, denied["assign"] = e.tr.Assign(ctx, viewer, id, "x")
	_, denied["note"] = e.tr.AddNote(ctx, viewer, id, "x")
	_, denied["resolve"] = e.tr.Resolve(ctx, viewer, id, "fraud", "")
	_, denied["silence"] = e.tr.CreateSilence(ctx, viewer, models.Silence{Matchers: []models.Matcher{{Name: "employee", Value: "emp-1"}}, EndsAt: t0.Add(time.Hour), Comment: "x"})
	for what, err := range denied {
		if !errors.Is(err, triage.ErrForbidden) {
			t.Errorf("viewer %s: %v, want ErrForbidden", what, err)
		}
	}
	if entries, _ := e.tr.Audit(ctx, time.Time{}, 0); len(entries) != 0 {
		t.Fatalf("denied requests were audited as changes: %+v", entries)
	}

	steps := []func() error{
		func() error { _, err := e.tr.Acknowledge(ctx, analyst, id); return err },
		func() error { _, err := e.tr.Acknowledge(ctx, analyst, id); return err }, // no change: not audited
		func() error { _, err := e.tr.Assign(ctx, analyst, id, "soc-boris"); return err },
		func() error { _, err := e.tr.AddNote(ctx, analyst, id, "called the employee"); return err },
		func() error { _, err := e.tr.Resolve(ctx, analyst, id, "fraud", "confirmed"); return err },
	}
	for i, s := range steps {
		e.clock.Advance(time.Second)
		if err := s(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	entries, err := e.tr.Audit(ctx, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, en := range entries {
		actions = append(actions, en.Action)
		if en.Actor != analyst.Name || en.Target != id || len(en.Before) == 0 || len(en.After) == 0 || en.ID == "" {
			t.Errorf("audit entry %+v: want actor, target, before and after", en)
		}
	}
	want := []string{"incident.acknowledge", "incident.assign", "incident.note", "incident.resolve"}
	if !slices.Equal(actions, want) {
		t.Fatalf("audit actions %v, want %v", actions, want)
	}
}

func TestAVerdictThatCouldNotBePublishedIsPublishedLaterWithTheSameIDs(t *testing.T) {
	e := newEnv(t, triage.Config{})
	ctx := context.Background()
	r := ingest(t, e, alert("o1", "+79160000081", "", "emp-1", 0), alert("o2", "+79160000081", "", "emp-2", 1))
	e.feedback.SetFail(errors.New("broker down"))
	res, err := e.tr.Resolve(ctx, analyst, r[0].IncidentID, "fraud", "")
	if err != nil || !res.Incident.FeedbackPending || res.Incident.Status != models.StatusResolved {
		t.Fatalf("resolve with the topic down: %+v, %v; want resolved with feedback pending", res, err)
	}
	if err := e.tr.Flush(ctx); err == nil {
		t.Fatal("flush with the topic still down reported no error")
	}
	e.feedback.SetFail(nil)
	if err := e.tr.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.tr.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	recs := e.feedback.Records()
	if len(recs) != 2 {
		t.Fatalf("%d records after recovery, want 2 (once)", len(recs))
	}
	d, _ := e.tr.Detail(ctx, r[0].IncidentID)
	if d.Incident.FeedbackPending {
		t.Fatal("the outbox flag is still set")
	}
}

func TestConcurrentAlertsOfOneCampaignAllLandInOneIncident(t *testing.T) {
	e := newEnv(t, triage.Config{})
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Go(func() {
			_, err := e.tr.Ingest(context.Background(), alert(fmt.Sprintf("k%d", i), fmt.Sprintf("+7916100%04d", i), "camp_k", fmt.Sprintf("emp-%d", i), i))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	incs := list(t, e, triage.Filter{Inhibited: true})
	if len(incs) != 1 || incs[0].AlertCount != 40 || len(incs[0].Employees) != 40 {
		t.Fatalf("incidents %d (first %+v), want one with 40 alerts and employees", len(incs), incs[0])
	}
}

func TestTheQueueFilters(t *testing.T) {
	e := newEnv(t, triage.Config{})
	ctx := context.Background()
	a := alert("q1", "+79160000091", "", "emp-1", 0)
	a.Reasons[0].Evidence = "Ваш заказ OZON-4411 задержан"
	a.Categories = []models.Category{models.CategoryPurchase}
	b := alert("q2", "+79160000092", "", "emp-2", 10)
	b.Severity = models.SeverityCritical
	r := ingest(t, e, a, b)
	if _, err := e.tr.Acknowledge(ctx, analyst, r[1].IncidentID); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		f    triage.Filter
		want []string
	}{
		{"no filter lists both, latest first", triage.Filter{}, []string{r[1].IncidentID, r[0].IncidentID}},
		{"by status", triage.Filter{Status: []models.IncidentStatus{models.StatusOpen}}, []string{r[0].IncidentID}},
		{"by severity", triage.Filter{Severity: []models.Severity{models.SeverityCritical}}, []string{r[1].IncidentID}},
		{"by category", triage.Filter{Category: models.CategoryPurchase}, []string{r[0].IncidentID}},
		{"by employee", triage.Filter{Employee: "emp-2"}, []string{r[1].IncidentID}},
		{"by sender", triage.Filter{SenderHash: hash("+79160000091")}, []string{r[0].IncidentID}},
		{"free text over evidence, any case", triage.Filter{Text: "ozon-4411"}, []string{r[0].IncidentID}},
		{"by time range", triage.Filter{From: t0.Add(5 * time.Minute)}, []string{r[1].IncidentID}},
		{"paged", triage.Filter{Offset: 1, Limit: 1}, []string{r[0].IncidentID}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, inc := range list(t, e, c.f) {
				got = append(got, inc.ID)
				if inc.Search != "" {
					t.Error("the search text leaked into the API")
				}
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
