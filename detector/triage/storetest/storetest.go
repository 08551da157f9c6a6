// Package storetest is the conformance suite of triage.Store: every
// implementation runs Run against a fresh store per case, so that they
// all keep the same promises (atomic commits, version checks, orders,
// not-found errors, concurrent writers).
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"fraudwatch/detector/triage"
	"fraudwatch/models"
)

// Run runs the suite. newStore returns an empty store, used by t only;
// it registers its own cleanup.
func Run(t *testing.T, newStore func(t *testing.T) triage.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s triage.Store)
	}{
		{"a committed change reads back whole", testRoundTrip},
		{"a missing incident or alert is not found and a missing group points nowhere", testNotFound},
		{"incident versions must follow the stored version", testVersions},
		{"a rejected change writes nothing of itself", testAtomicity},
		{"the same alert twice is a duplicate and stored once", testDuplicateAlert},
		{"an incident's alerts come in event-time order, ties by alert id", testAlertOrder},
		{"incidents are listed by last seen within the range, most recent first", testIncidentRange},
		{"an updated last seen moves an incident in the listing", testIncidentMoves},
		{"group pointers are set and repointed one key at a time", testGroups},
		{"silences are created and replaced by id", testSilences},
		{"counters add, negative amounts too", testCounters},
		{"the audit log appends oldest first and assigns increasing ids", testAuditIDs},
		{"the audit log reads from a time and up to a limit", testAuditRange},
		{"concurrent writers of one incident: exactly one per version wins", testConcurrentVersions},
		{"concurrent creators of one incident: exactly one wins", testConcurrentCreate},
		{"concurrent commits of one alert: exactly one wins", testConcurrentAlert},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newStore(t)) })
	}
}

var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func incident(id string, version int64, lastSeen time.Time) models.Incident {
	return models.Incident{
		ID: id, Group: "sender:" + id, Status: models.StatusOpen, Severity: models.SeverityHigh,
		Categories: []models.Category{}, Rules: []string{"r1"},
		FirstSeen: lastSeen.Add(-time.Minute), LastSeen: lastSeen,
		CreatedAt: t0, UpdatedAt: t0, Employees: []string{"e1"}, Version: version,
	}
}

func create(inc models.Incident) triage.IncidentWrite {
	return triage.IncidentWrite{Incident: inc, PrevVersion: 0}
}

func update(inc models.Incident) triage.IncidentWrite {
	return triage.IncidentWrite{Incident: inc, PrevVersion: inc.Version - 1}
}

func alert(id, incidentID string, at time.Time) *models.StoredAlert {
	return &models.StoredAlert{
		Alert: models.Alert{
			ID: id, EventID: "ev-" + id, EventKind: models.KindMessage, EventTime: at, Employee: "e1",
			SenderHash: "h1", Severity: models.SeverityHigh, Score: 0.9,
			Categories: []models.Category{}, Reasons: []models.Reason{}, CreatedAt: at,
		},
		IncidentID: incidentID, ReceivedAt: at.Add(time.Second),
	}
}

func silence(id, value string, ends time.Time) models.Silence {
	return models.Silence{
		ID: id, Matchers: []models.Matcher{{Name: models.MatchSenderHash, Value: value}},
		StartsAt: t0, EndsAt: ends, CreatedBy: "ann", Comment: "known", CreatedAt: t0,
	}
}

func entry(action, target string, at time.Time) models.AuditEntry {
	return models.AuditEntry{At: at, Actor: "ann", Role: "analyst", Action: action, Target: target,
		After: json.RawMessage(`{"k":1}`)}
}

func mustCommit(t *testing.T, s triage.Store, c triage.Change) {
	t.Helper()
	if err := s.Commit(context.Background(), c); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func mustIncident(t *testing.T, s triage.Store, id string) models.Incident {
	t.Helper()
	inc, err := s.Incident(context.Background(), id)
	if err != nil {
		t.Fatalf("Incident(%q): %v", id, err)
	}
	return inc
}

func ids(incs []models.Incident) []string {
	out := make([]string, len(incs))
	for i, inc := range incs {
		out[i] = inc.ID
	}
	return out
}

func alertIDs(as []models.StoredAlert) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Alert.ID
	}
	return out
}

// equalJSON compares a and b by their JSON forms: stores may keep
// records as JSON, which drops monotonic clock readings and locations.
func equalJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func testRoundTrip(t *testing.T, s triage.Store) {
	ctx := context.Background()
	inc := incident("inc-1", 1, t0)
	inc.Senders = []models.IncidentSender{{Hash: "h1", Masked: "+7916***4567", Name: "Bank"}}
	inc.Notes = []models.Note{{Author: "ann", Text: "looks like the CEO scam", At: t0}}
	inc.Resolution = &models.Resolution{Verdict: "fraud", Analyst: "ann", At: t0, ApprovedBy: []string{"bob"}}
	a := alert("al-1", "inc-1", t0)
	a.SilencedBy = "sil-1"
	sl := silence("sil-1", "h1", t0.Add(time.Hour))
	mustCommit(t, s, triage.Change{
		Incidents: []triage.IncidentWrite{create(inc)},
		Alert:     a,
		Groups:    map[string]string{"sender:h1": "inc-1"},
		Silences:  []models.Silence{sl},
		Counters:  []triage.CounterAdd{{Key: "rules:2026-11-26", Field: "r1", By: 3}},
		Audit:     []models.AuditEntry{entry("incident.open", "inc-1", t0)},
	})
	equalJSON(t, "incident", mustIncident(t, s, "inc-1"), inc)
	got, err := s.Alert(ctx, "al-1")
	if err != nil {
		t.Fatalf("Alert: %v", err)
	}
	equalJSON(t, "alert", got, *a)
	list, err := s.IncidentAlerts(ctx, "inc-1")
	if err != nil || len(list) != 1 {
		t.Fatalf("IncidentAlerts = %v, %v; want the one alert", alertIDs(list), err)
	}
	equalJSON(t, "incident alert", list[0], *a)
	if g, err := s.Group(ctx, "sender:h1"); err != nil || g != "inc-1" {
		t.Errorf("Group = %q, %v; want inc-1", g, err)
	}
	sls, err := s.Silences(ctx)
	if err != nil || len(sls) != 1 {
		t.Fatalf("Silences = %v, %v; want one", sls, err)
	}
	equalJSON(t, "silence", sls[0], sl)
	if c, err := s.Counters(ctx, "rules:2026-11-26"); err != nil || !reflect.DeepEqual(c, map[string]int64{"r1": 3}) {
		t.Errorf("Counters = %v, %v; want r1=3", c, err)
	}
	es, err := s.Audit(ctx, time.Time{}, 0)
	if err != nil || len(es) != 1 {
		t.Fatalf("Audit = %v, %v; want one entry", es, err)
	}
	if es[0].ID == "" {
		t.Error("audit entry has no id: the store assigns one")
	}
	want := entry("incident.open", "inc-1", t0)
	want.ID = es[0].ID
	equalJSON(t, "audit entry", es[0], want)
	all, err := s.Incidents(ctx, time.Time{}, time.Time{})
	if err != nil || !slices.Equal(ids(all), []string{"inc-1"}) {
		t.Errorf("Incidents = %v, %v; want [inc-1]", ids(all), err)
	}
}

func testNotFound(t *testing.T, s triage.Store) {
	ctx := context.Background()
	if _, err := s.Incident(ctx, "nope"); !errors.Is(err, triage.ErrNotFound) {
		t.Errorf("Incident(nope) error = %v, want ErrNotFound", err)
	}
	if _, err := s.Alert(ctx, "nope"); !errors.Is(err, triage.ErrNotFound) {
		t.Errorf("Alert(nope) error = %v, want ErrNotFound", err)
	}
	if g, err := s.Group(ctx, "sender:nope"); err != nil || g != "" {
		t.Errorf("Group(nope) = %q, %v; want \"\", nil", g, err)
	}
	if as, err := s.IncidentAlerts(ctx, "nope"); err != nil || len(as) != 0 {
		t.Errorf("IncidentAlerts(nope) = %v, %v; want none", alertIDs(as), err)
	}
	if c, err := s.Counters(ctx, "nope"); err != nil || len(c) != 0 {
		t.Errorf("Counters(nope) = %v, %v; want empty", c, err)
	}
	if sl, err := s.Silences(ctx); err != nil || len(sl) != 0 {
		t.Errorf("Silences = %v, %v; want none", sl, err)
	}
	if es, err := s.Audit(ctx, time.Time{}, 0); err != nil || len(es) != 0 {
		t.Errorf("Audit = %v, %v; want none", es, err)
	}
	if is, err := s.Incidents(ctx, time.Time{}, time.Time{}); err != nil || len(is) != 0 {
		t.Errorf("Incidents = %v, %v; want none", ids(is), err)
	}
	if err := s.Commit(ctx, triage.Change{}); err != nil {
		t.Errorf("Commit of an empty change: %v", err)
	}
}

func testVersions(t *testing.T, s triage.Store) {
	ctx := context.Background()
	mustCommit(t, s, triage.Change{Incidents: []triage.IncidentWrite{create(incident("v", 1, t0))}})
	mustCommit(t, s, triage.Change{Incidents: []triage.IncidentWrite{update(incident("v", 2, t0))}})
	for _, tc := range []struct {
		name    string
		write   triage.IncidentWrite
		wantErr error
		want    int64 // the stored version of "v" afterwards
	}{
		{"creating an incident whose id is taken conflicts", create(incident("v", 1, t0)), triage.ErrConflict, 2},
		{"an update from a stale version conflicts", update(incident("v", 2, t0)), triage.ErrConflict, 2},
		{"an update from a version not yet reached conflicts", update(incident("v", 4, t0)), triage.ErrConflict, 2},
		{"an update of a missing incident conflicts", update(incident("missing", 2, t0)), triage.ErrConflict, 2},
		{"an update from the stored version is written", update(incident("v", 3, t0)), nil, 3},
		{"creating a new incident is written", create(incident("new", 1, t0)), nil, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Commit(ctx, triage.Change{Incidents: []triage.IncidentWrite{tc.write}})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Commit error = %v, want %v", err, tc.wantErr)
			}
			if got := mustIncident(t, s, "v").Version; got != tc.want {
				t.Errorf("stored version of v = %d, want %d", got, tc.want)
			}
			if tc.write.Incident.ID == "missing" {
				if _, err := s.Incident(ctx, "missing"); !errors.Is(err, triage.ErrNotFound) {
					t.Errorf("a conflicting update created the incident: %v", err)
				}
			}
		})
	}
	if got := mustIncident(t, s, "new").Version; got != 1 {
		t.Errorf("new incident version = %d, want 1", got)
	}
}

// snapshot is everything a store holds that testAtomicity's changes touch.
type snapshot struct {
	Incidents []models.Incident
	Alerts    map[string][]string
	Alert     string
	Groups    map[string]string
	Silences  []models.Silence
	Counters  map[string]map[string]int64
	Audit     []models.AuditEntry
}

func take(t *testing.T, s triage.Store) snapshot {
	t.Helper()
	ctx := context.Background()
	var sn snapshot
	var err error
	if sn.Incidents, err = s.Incidents(ctx, time.Time{}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	sn.Alerts = map[string][]string{}
	for _, id := range []string{"a", "b", "c"} {
		as, err := s.IncidentAlerts(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		sn.Alerts[id] = alertIDs(as)
	}
	if _, err := s.Alert(ctx, "al-new"); err == nil {
		sn.Alert = "al-new stored"
	} else if !errors.Is(err, triage.ErrNotFound) {
		t.Fatal(err)
	}
	sn.Groups = map[string]string{}
	for _, k := range []string{"sender:a", "sender:c"} {
		if sn.Groups[k], err = s.Group(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if sn.Silences, err = s.Silences(ctx); err != nil {
		t.Fatal(err)
	}
	sort.Slice(sn.Silences, func(i, j int) bool { return sn.Silences[i].ID < sn.Silences[j].ID })
	sn.Counters = map[string]map[string]int64{}
	for _, k := range []string{"rules:x", "analyst:ann"} {
		if sn.Counters[k], err = s.Counters(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if sn.Audit, err = s.Audit(ctx, time.Time{}, 0); err != nil {
		t.Fatal(err)
	}
	return sn
}

func testAtomicity(t *testing.T, s triage.Store) {
	ctx := context.Background()
	mustCommit(t, s, triage.Change{
		Incidents: []triage.IncidentWrite{create(incident("a", 1, t0)), create(incident("b", 1, t0))},
		Alert:     alert("al-old", "a", t0),
		Groups:    map[string]string{"sender:a": "a"},
		Silences:  []models.Silence{silence("s1", "h1", t0.Add(time.Hour))},
		Counters:  []triage.CounterAdd{{Key: "rules:x", Field: "r1", By: 1}},
		Audit:     []models.AuditEntry{entry("incident.open", "a", t0)},
	})
	// everything builds a change that would touch every kind of record.
	everything := func(writes ...triage.IncidentWrite) triage.Change {
		return triage.Change{
			Incidents: writes,
			Alert:     alert("al-new", "a", t0.Add(time.Minute)),
			Groups:    map[string]string{"sender:a": "c", "sender:c": "c"},
			Silences:  []models.Silence{silence("s1", "h2", t0.Add(2*time.Hour)), silence("s2", "h3", t0.Add(time.Hour))},
			Counters:  []triage.CounterAdd{{Key: "rules:x", Field: "r1", By: 5}, {Key: "analyst:ann", Field: "fraud", By: 1}},
			Audit:     []models.AuditEntry{entry("incident.update", "a", t0.Add(time.Minute))},
		}
	}
	dupAlert := everything(update(incident("a", 2, t0.Add(time.Minute))))
	dupAlert.Alert = alert("al-old", "a", t0)
	for _, tc := range []struct {
		name    string
		change  triage.Change
		wantErr error
	}{
		{"a stale version on the last of three incidents", everything(
			update(incident("a", 2, t0.Add(time.Minute))), create(incident("c", 1, t0)), update(incident("b", 3, t0))), triage.ErrConflict},
		{"a stale version on the first of three incidents", everything(
			update(incident("b", 3, t0)), update(incident("a", 2, t0.Add(time.Minute))), create(incident("c", 1, t0))), triage.ErrConflict},
		{"creating an incident that exists", everything(
			update(incident("a", 2, t0.Add(time.Minute))), create(incident("b", 1, t0))), triage.ErrConflict},
		{"an alert that is already stored", dupAlert, triage.ErrDuplicateAlert},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := take(t, s)
			err := s.Commit(ctx, tc.change)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Commit error = %v, want %v", err, tc.wantErr)
			}
			after := take(t, s)
			equalJSON(t, "store after the rejected change", after, before)
			if _, err := s.Incident(ctx, "c"); !errors.Is(err, triage.ErrNotFound) {
				t.Errorf("incident c was created by a rejected change (error %v)", err)
			}
		})
	}
	// The same change without its conflict goes through: the suite's
	// rejections came from the conflict, not from the rest.
	mustCommit(t, s, everything(update(incident("a", 2, t0.Add(time.Minute))), create(incident("c", 1, t0))))
	if as, _ := s.IncidentAlerts(ctx, "a"); !slices.Equal(alertIDs(as), []string{"al-old", "al-new"}) {
		t.Errorf("alerts of a = %v, want [al-old al-new]", alertIDs(as))
	}
	if c, _ := s.Counters(ctx, "rules:x"); c["r1"] != 6 {
		t.Errorf("rules:x r1 = %d, want 6", c["r1"])
	}
}

func testDuplicateAlert(t *testing.T, s triage.Store) {
	ctx := context.Background()
	mustCommit(t, s, triage.Change{Incidents: []triage.IncidentWrite{create(incident("i", 1, t0))}, Alert: alert("al", "i", t0)})
	err := s.Commit(ctx, triage.Change{Alert: alert("al", "i", t0)})
	if !errors.Is(err, triage.ErrDuplicateAlert) {
		t.Fatalf("second commit of the alert: error %v, want ErrDuplicateAlert", err)
	}
	if errors.Is(err, triage.ErrConflict) {
		t.Errorf("a duplicate is not a conflict: %v", err)
	}
	// Filed under another incident, it is still the same alert.
	err = s.Commit(ctx, triage.Change{Incidents: []triage.IncidentWrite{create(incident("j", 1, t0))}, Alert: alert("al", "j", t0)})
	if !errors.Is(err, triage.ErrDuplicateAlert) {
		t.Fatalf("the alert under another incident: error %v, want ErrDuplicateAlert", err)
	}
	as, err := s.IncidentAlerts(ctx, "i")
	if err != nil || !slices.Equal(alertIDs(as), []string{"al"}) {
		t.Errorf("alerts of i = %v, %v; want [al]", alertIDs(as), err)
	}
	if as, _ := s.IncidentAlerts(ctx, "j"); len(as) != 0 {
		t.Errorf("alerts of j = %v, want none", alertIDs(as))
	}
	if a, err := s.Alert(ctx, "al"); err != nil || a.IncidentID != "i" {
		t.Errorf("Alert(al) = incident %q, %v; want i", a.IncidentID, err)
	}
}

func testAlertOrder(t *testing.T, s triage.Store) {
	ctx := context.Background()
	mustCommit(t, s, triage.Change{Incidents: []triage.IncidentWrite{create(incident("i", 1, t0))}})
	// Committed out of order; "b" and "a" share a time, "A-later" is 1µs
	// later than both (and sorts first by id), "late" is the earliest
	// event but arrives last.
	for _, a := range []*models.StoredAlert{
		alert("d", "i", t0.Add(time.Hour)),
		alert("b", "i", t0),
		alert("A-later", "i", t0.Add(time.Microsecond)),
		alert("a", "i", t0),
		alert("other", "o", t0.Add(-time.Hour)),
		alert("late", "i", t0.Add(-time.Minute)),
	} {
		mustCommit(t, s, triage.Change{Alert: a})
	}
	as, err := s.IncidentAlerts(ctx, "i")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"late", "a", "b", "A-later", "d"}; !slices.Equal(alertIDs(as), want) {
		t.Errorf("IncidentAlerts = %v, want %v", alertIDs(as), want)
	}
}

func testIncidentRange(t *testing.T, s triage.Store) {
	ctx := context.Background()
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	mustCommit(t, s, triage.Change{Incidents: []triage.IncidentWrite{
		create(incident("m10", 1, at(10))),
		create(incident("m0", 1, at(0))),
		create(incident("m20", 1, at(20))),
		create(incident("m30", 1, at(30).Add(time.Microsecond))),
		create(incident("m5", 1, at(5))),
	}})
	for _, tc := range []struct {
		name     string
		from, to time.Time
		want     []string
	}{
		{"both ends open lists all", time.Time{}, time.Time{}, []string{"m30", "m20", "m10", "m5", "m0"}},
		{"the start is included", at(10), time.Time{}, []string{"m30", "m20", "m10"}},
		{"the end is excluded", time.Time{}, at(10), []string{"m5", "m0"}},
		{"a closed range", at(5), at(20), []string{"m10", "m5"}},
		{"an end within the millisecond of a time excludes it when earlier", at(30), at(30).Add(500 * time.Nanosecond), nil},
		{"a start within the millisecond of a time excludes it when later", at(30).Add(2 * time.Microsecond), time.Time{}, nil},
		{"an empty range lists nothing", at(11), at(19), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Incidents(ctx, tc.from, tc.to)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tc.want) {
				t.Errorf("Incidents(%v, %v) = %v, want %v", tc.from, tc.to, ids(got), tc.want)
			}
		})
	}
}

func testIncidentMoves(t *testing.T, s triage.Store) {
	ctx := context.Background()
	mustCommit(t, s, triage.Change{Incidents: []triage.IncidentWrite{
		create(incident("x", 1, t0)), create(incident("y", 1, t0.Add(time.Hour)))}})
	mustCommit(t, s, triage.Change{Incidents: []triage.IncidentWrite{update(incident("x", 2, t0.Add(2*time.Hour)))}})
	if got, _ := s.Incidents(ctx, time.Time{}, t0.Add(time.Minute)); len(got) != 0 {
		t.Errorf("x is still listed at its old last seen: %v", ids(got))
	}
	got, err := s.Incidents(ctx, time.Time{}, time.Time{})
	if err != nil || !slices.Equal(ids(got), []string{"x", "y"}) {
		t.Fatalf("Incidents = %v, %v; want [x y]", ids(got), err)
	}
	if got[0].Version != 2 || !got[0].LastSeen.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("listed x = version %d last seen %v, want the update", got[0].Version, got[0].LastSeen)
	}
}

func testGroups(t *testing.T, s triage.Store) {
	ctx := context.Background()
	mustCommit(t, s, triage.Change{Groups: map[string]string{"campaign:c1": "i1", "sender:h1": "i2", "covered:h1": "i1"}})
	mustCommit(t, s, triage.Change{Groups: map[string]string{"campaign:c1": "i3"}})
	for key, want := range map[string]string{"campaign:c1": "i3", "sender:h1": "i2", "covered:h1": "i1", "sender:h2": ""} {
		if got, err := s.Group(ctx, key); err != nil || got != want {
			t.Errorf("Group(%q) = %q, %v; want %q", key, got, err, want)
		}
	}
}

func testSilences(t *testing.T, s triage.Store) {
	ctx := context.Background()
	mustCommit(t, s, triage.Change{Silences: []models.Silence{silence("s1", "h1", t0.Add(time.Hour)), silence("s2", "h2", t0.Add(time.Hour))}})
	ended := silence("s1", "h1", t0.Add(time.Minute))
	ended.ExpiredBy = "bob"
	mustCommit(t, s, triage.Change{Silences: []models.Silence{ended}})
	got, err := s.Silences(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].ID < got[j].ID })
	equalJSON(t, "silences", got, []models.Silence{ended, silence("s2", "h2", t0.Add(time.Hour))})
}

func testCounters(t *testing.T, s triage.Store) {
	ctx := context.Background()
	mustCommit(t, s, triage.Change{Counters: []triage.CounterAdd{
		{Key: "analyst:ann", Field: "fraud", By: 2}, {Key: "analyst:ann", Field: "legit", By: 1}, {Key: "sender:h1", Field: "fraud", By: 1}}})
	mustCommit(t, s, triage.Change{Counters: []triage.CounterAdd{
		{Key: "analyst:ann", Field: "fraud", By: -3}, {Key: "analyst:ann", Field: "fraud", By: 1}}})
	for key, want := range map[string]map[string]int64{
		"analyst:ann": {"fraud": 0, "legit": 1},
		"sender:h1":   {"fraud": 1},
	} {
		if got, err := s.Counters(ctx, key); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Counters(%q) = %v, %v; want %v", key, got, err, want)
		}
	}
}

func testAuditIDs(t *testing.T, s triage.Store) {
	ctx := context.Background()
	// Several entries in one change, several changes at one time, and a
	// caller-chosen id, which is kept.
	mustCommit(t, s, triage.Change{Audit: []models.AuditEntry{entry("a1", "i", t0), entry("a2", "i", t0)}})
	for i := range 12 {
		mustCommit(t, s, triage.Change{Audit: []models.AuditEntry{entry(fmt.Sprintf("b%02d", i), "i", t0)}})
	}
	mine := entry("c", "i", t0.Add(time.Second))
	mine.ID = "mine"
	mustCommit(t, s, triage.Change{Audit: []models.AuditEntry{entry("b12", "i", t0.Add(time.Second)), mine}})
	es, err := s.Audit(ctx, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	var assigned []string
	for _, e := range es {
		actions = append(actions, e.Action)
		if e.Action == "c" {
			if e.ID != "mine" {
				t.Errorf("the caller's id became %q", e.ID)
			}
			continue
		}
		assigned = append(assigned, e.ID)
	}
	want := []string{"a1", "a2"}
	for i := range 13 {
		want = append(want, fmt.Sprintf("b%02d", i))
	}
	want = append(want, "c")
	if !slices.Equal(actions, want) {
		t.Errorf("audit order = %v, want %v", actions, want)
	}
	for i := 1; i < len(assigned); i++ {
		if assigned[i-1] >= assigned[i] {
			t.Errorf("assigned ids do not increase: %q then %q", assigned[i-1], assigned[i])
		}
	}
}

func testAuditRange(t *testing.T, s triage.Store) {
	ctx := context.Background()
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	for m := range 6 {
		mustCommit(t, s, triage.Change{Audit: []models.AuditEntry{entry(fmt.Sprintf("m%d", m), "i", at(m))}})
	}
	for _, tc := range []struct {
		name  string
		since time.Time
		limit int
		want  []string
	}{
		{"no start and no limit reads all", time.Time{}, 0, []string{"m0", "m1", "m2", "m3", "m4", "m5"}},
		{"the start is included", at(3), 0, []string{"m3", "m4", "m5"}},
		{"a start just after an entry excludes it", at(3).Add(time.Microsecond), 0, []string{"m4", "m5"}},
		{"a limit keeps the oldest", time.Time{}, 2, []string{"m0", "m1"}},
		{"a start and a limit", at(2), 3, []string{"m2", "m3", "m4"}},
		{"a limit beyond the end reads to the end", at(4), 10, []string{"m4", "m5"}},
		{"a start after the end reads nothing", at(6), 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es, err := s.Audit(ctx, tc.since, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range es {
				got = append(got, e.Action)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Audit(%v, %d) = %v, want %v", tc.since, tc.limit, got, tc.want)
			}
		})
	}
}

const writers = 6

// race runs f in writers goroutines released together and returns their
// errors.
func race(f func(w int) error) []error {
	var start, done sync.WaitGroup
	start.Add(1)
	errs := make([]error, writers)
	for w := range writers {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			errs[w] = f(w)
		}()
	}
	start.Done()
	done.Wait()
	return errs
}

// oneWins checks that exactly one of errs is nil and the others are want.
func oneWins(t *testing.T, errs []error, want error) int {
	t.Helper()
	winner := -1
	for w, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("writers %d and %d both won", winner, w)
		case err == nil:
			winner = w
		case !errors.Is(err, want):
			t.Errorf("writer %d: error %v, want %v", w, err, want)
		}
	}
	if winner < 0 {
		t.Errorf("no writer won: %v", errs)
	}
	return winner
}

func testConcurrentVersions(t *testing.T, s triage.Store) {
	ctx := context.Background()
	mustCommit(t, s, triage.Change{Incidents: []triage.IncidentWrite{create(incident("hot", 1, t0))}})
	const rounds = 8
	for r := int64(1); r <= rounds; r++ {
		errs := race(func(w int) error {
			inc := incident("hot", r+1, t0)
			inc.Owner = fmt.Sprintf("w%d", w)
			return s.Commit(ctx, triage.Change{
				Incidents: []triage.IncidentWrite{update(inc)},
				Counters:  []triage.CounterAdd{{Key: "wins", Field: fmt.Sprintf("w%d", w), By: 1}, {Key: "wins", Field: "all", By: 1}},
				Audit:     []models.AuditEntry{entry(fmt.Sprintf("r%d-w%d", r, w), "hot", t0)},
			})
		})
		winner := oneWins(t, errs, triage.ErrConflict)
		got := mustIncident(t, s, "hot")
		if got.Version != r+1 || (winner >= 0 && got.Owner != fmt.Sprintf("w%d", winner)) {
			t.Errorf("round %d: stored version %d owner %q, want %d w%d", r, got.Version, got.Owner, r+1, winner)
		}
	}
	c, err := s.Counters(ctx, "wins")
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for f, n := range c {
		if f != "all" {
			sum += n
		}
	}
	if c["all"] != rounds || sum != rounds {
		t.Errorf("counters %v: want all=%d and the writers' wins summing to it", c, rounds)
	}
	if es, _ := s.Audit(ctx, time.Time{}, 0); len(es) != rounds {
		t.Errorf("%d audit entries, want one per round (%d)", len(es), rounds)
	}
}

func testConcurrentCreate(t *testing.T, s triage.Store) {
	ctx := context.Background()
	errs := race(func(w int) error {
		inc := incident("fresh", 1, t0)
		inc.Owner = fmt.Sprintf("w%d", w)
		return s.Commit(ctx, triage.Change{
			Incidents: []triage.IncidentWrite{create(inc)},
			Groups:    map[string]string{"sender:fresh": fmt.Sprintf("w%d", w)},
		})
	})
	winner := oneWins(t, errs, triage.ErrConflict)
	want := fmt.Sprintf("w%d", winner)
	if got := mustIncident(t, s, "fresh"); got.Owner != want {
		t.Errorf("stored owner %q, want the winner %s", got.Owner, want)
	}
	if g, _ := s.Group(ctx, "sender:fresh"); g != want {
		t.Errorf("group points at %q, want the winner %s", g, want)
	}
}

func testConcurrentAlert(t *testing.T, s triage.Store) {
	ctx := context.Background()
	errs := race(func(w int) error {
		id := fmt.Sprintf("inc-w%d", w)
		return s.Commit(ctx, triage.Change{
			Incidents: []triage.IncidentWrite{create(incident(id, 1, t0))},
			Alert:     alert("same", id, t0),
		})
	})
	winner := oneWins(t, errs, triage.ErrDuplicateAlert)
	all, err := s.Incidents(ctx, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{fmt.Sprintf("inc-w%d", winner)}; !slices.Equal(ids(all), want) {
		t.Errorf("incidents %v, want only the winner's %v", ids(all), want)
	}
}
