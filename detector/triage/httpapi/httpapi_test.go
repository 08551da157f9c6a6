package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"fraudwatch/detector/triage"
	"fraudwatch/detector/triage/httpapi"
	"fraudwatch/models"
)

const (
	mallory = "+79161234567"
	eve     = "+79035550101"
	trudy   = "+380501112233"
)

// seed files a few incidents: mallory (critical credential request, two
// employees), eve (high investment scam), trudy (medium lottery).
func seed(t *testing.T, e *env) (malloryInc, eveInc, trudyInc string) {
	t.Helper()
	ids := e.ingest(t,
		alert("m1", mallory, "emp-1", 1, models.SeverityCritical, models.CategoryCredential, "credential.sms_code", "назовите код из смс 12**"),
		alert("m2", mallory, "emp-2", 2, models.SeverityHigh, models.CategoryCredential, "credential.sms_code", "<img src=x onerror=alert(1)> код"),
		alert("e1", eve, "emp-1", 5, models.SeverityHigh, models.CategoryInvestment, "investment.guaranteed_return", "guaranteed 30% monthly return"),
		alert("t1", trudy, "emp-3", 9, models.SeverityMedium, models.CategoryLottery, "lottery.prize", "you won an iPhone"),
	)
	if ids[0] != ids[1] {
		t.Fatalf("mallory's alerts went to two incidents %v", ids)
	}
	return ids[0], ids[2], ids[3]
}

func TestTheDescriptionIsServedWithoutATokenAndIsTheEmbeddedFile(t *testing.T) {
	e := newEnv(t)
	res := e.send(t, call{method: "GET", path: "/api/openapi.yaml"})
	if res.status != http.StatusOK || !bytes.Equal(res.body, httpapi.OpenAPI) {
		t.Fatalf("GET /api/openapi.yaml: %d, %d bytes; want 200 and the embedded %d bytes", res.status, len(res.body), len(httpapi.OpenAPI))
	}
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/yaml") {
		t.Errorf("content type %q, want application/yaml", ct)
	}
}

func TestTokens(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name   string
		header string
		path   string
	}{
		{"no Authorization header is refused", "", "/api/incidents"},
		{"an unknown token is refused", "Bearer not-a-configured-token-at-all", "/api/incidents"},
		{"a configured token's prefix is refused", "Bearer " + analystToken[:len(analystToken)-1], "/api/incidents"},
		{"a configured token with a suffix is refused", "Bearer " + analystToken + "x", "/api/incidents"},
		{"another scheme is refused", "Basic " + analystToken, "/api/incidents"},
		{"an empty bearer is refused", "Bearer ", "/api/me"},
		{"an unknown endpoint answers 401 before 404", "", "/api/nothing-here"},
		{"the audit log is refused", "", "/api/audit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.srv.URL+tc.path, nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("got %d, want 401", resp.StatusCode)
			}
			if h := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
				t.Errorf("WWW-Authenticate %q, want Bearer", h)
			}
		})
	}
	// The same through the validator: 401 is a documented answer.
	e.send(t, call{method: "GET", path: "/api/incidents"})
	e.send(t, call{method: "POST", path: "/api/silences", body: `{}`})

	t.Run("each token is its holder, with its role", func(t *testing.T) {
		for _, tok := range testTokens {
			me := decode[map[string]string](t, e.do(t, tok.Token, "GET", "/api/me", nil, http.StatusOK))
			if me["name"] != tok.Name || me["role"] != string(tok.Role) {
				t.Errorf("token of %s: /api/me says %v", tok.Name, me)
			}
		}
	})
	t.Run("the scheme is case-insensitive", func(t *testing.T) {
		req, _ := http.NewRequest("GET", e.srv.URL+"/api/me", nil)
		req.Header.Set("Authorization", "bearer "+viewerToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("got %d", resp.StatusCode)
		}
	})
	t.Run("an unknown endpoint with a token is a JSON 404", func(t *testing.T) {
		res := e.send(t, call{token: viewerToken, method: "GET", path: "/api/nothing-here"})
		if res.status != http.StatusNotFound {
			t.Fatalf("got %s", res)
		}
	})
	t.Run("a known path with another method is a JSON 405", func(t *testing.T) {
		res := e.send(t, call{token: analystToken, method: "DELETE", path: "/api/silences"})
		if res.status != http.StatusMethodNotAllowed || res.header.Get("Allow") != "GET, POST" {
			t.Fatalf("got %s, Allow %q", res, res.header.Get("Allow"))
		}
	})
}

// mutations are every request that changes state, for one incident and
// one silence.
func mutations(inc, sil string) []call {
	p := "/api/incidents/" + inc
	return []call{
		{method: "POST", path: p + "/acknowledge"},
		{method: "POST", path: p + "/assign", body: `{"owner":"auditor"}`},
		{method: "POST", path: p + "/notes", body: `{"text":"looks fine to me"}`},
		{method: "POST", path: p + "/resolve", body: `{"verdict":"legit","comment":"my cousin"}`},
		{method: "POST", path: "/api/silences", body: `{"matchers":[{"name":"sender_hash","value":"` + hash(mallory) + `"}],"duration":"24h","comment":"noise"}`},
		{method: "POST", path: "/api/silences/" + sil + "/expire"},
	}
}

func TestAViewerCannotChangeAnything(t *testing.T) {
	e := newEnv(t)
	inc, _, _ := seed(t, e)
	sil := decode[models.Silence](t, e.do(t, analystToken, "POST", "/api/silences",
		map[string]any{"matchers": []map[string]string{{"name": "employee", "value": "emp-9"}}, "duration": "2h", "comment": "maintenance"}, http.StatusCreated))

	before := e.do(t, viewerToken, "GET", "/api/incidents/"+inc, nil, http.StatusOK).body
	silencesBefore := e.do(t, viewerToken, "GET", "/api/silences?ended=true", nil, http.StatusOK).body
	auditBefore := e.audit(t)
	fbBefore := len(e.feedback.Records())

	for _, c := range mutations(inc, sil.ID) {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			c.token = viewerToken
			res := e.send(t, c)
			if res.reqErr != nil {
				t.Fatalf("the request itself is invalid: %v", res.reqErr)
			}
			if res.status != http.StatusForbidden {
				t.Fatalf("viewer: got %s, want 403", res)
			}
		})
	}
	t.Run("nothing changed", func(t *testing.T) {
		if after := e.do(t, viewerToken, "GET", "/api/incidents/"+inc, nil, http.StatusOK).body; !bytes.Equal(before, after) {
			t.Errorf("the incident changed:\n%s\n%s", before, after)
		}
		if after := e.do(t, viewerToken, "GET", "/api/silences?ended=true", nil, http.StatusOK).body; !bytes.Equal(silencesBefore, after) {
			t.Errorf("the silences changed:\n%s\n%s", silencesBefore, after)
		}
		if after := e.audit(t); len(after) != len(auditBefore) {
			t.Errorf("the audit log grew from %d to %d entries: %+v", len(auditBefore), len(after), after[len(auditBefore):])
		}
		if n := len(e.feedback.Records()); n != fbBefore {
			t.Errorf("%d feedback records written", n-fbBefore)
		}
	})
	t.Run("a viewer reads everything but the audit log", func(t *testing.T) {
		e.do(t, viewerToken, "GET", "/api/incidents", nil, http.StatusOK)
		e.do(t, viewerToken, "GET", "/api/rules/stats", nil, http.StatusOK)
		e.do(t, viewerToken, "GET", "/api/analysts/soc-anna", nil, http.StatusOK)
		e.do(t, viewerToken, "GET", "/api/audit", nil, http.StatusForbidden)
		e.do(t, analystToken, "GET", "/api/audit", nil, http.StatusForbidden)
	})
}

func TestEveryChangeMadeWithAnAnalystTokenIsInTheAuditLog(t *testing.T) {
	e := newEnv(t)
	inc, _, _ := seed(t, e)
	start := len(e.audit(t))
	if start != 0 {
		t.Fatalf("the audit log has %d entries before any change", start)
	}

	p := "/api/incidents/" + inc
	acked := decode[models.Incident](t, e.do(t, analystToken, "POST", p+"/acknowledge", nil, http.StatusOK))
	if acked.Status != models.StatusAcknowledged || acked.Owner != "soc-anna" {
		t.Errorf("acknowledged: status %s owner %q", acked.Status, acked.Owner)
	}
	e.do(t, analystToken, "POST", p+"/acknowledge", map[string]any{}, http.StatusOK) // again: no change, no entry
	e.do(t, analystToken, "POST", p+"/assign", map[string]string{"owner": "soc-boris"}, http.StatusOK)
	noted := decode[models.Incident](t, e.do(t, analystToken, "POST", p+"/notes", map[string]string{"text": "called emp-1: <b>they</b> gave no code"}, http.StatusOK))
	if len(noted.Notes) != 1 || noted.Notes[0].Author != "soc-anna" || noted.Notes[0].Text != "called emp-1: <b>they</b> gave no code" {
		t.Errorf("notes %+v", noted.Notes)
	}
	res := decode[triage.ResolveResult](t, e.do(t, analystToken, "POST", p+"/resolve", map[string]string{"verdict": "fraud", "comment": "classic code theft"}, http.StatusOK))
	if res.Pending || res.Incident.Status != models.StatusResolved || res.Feedback != 2 {
		t.Errorf("resolve: %+v", res)
	}
	sil := decode[models.Silence](t, e.do(t, analystToken, "POST", "/api/silences",
		map[string]any{"matchers": []map[string]string{{"name": "sender_hash", "value": hash(mallory)}}, "duration": "24h", "comment": "judged fraud in " + inc}, http.StatusCreated))
	e.do(t, analystToken, "POST", "/api/silences/"+sil.ID+"/expire", nil, http.StatusOK)

	got := e.audit(t)
	var actions []string
	for _, a := range got {
		actions = append(actions, a.Action+" "+a.Target)
		if a.Actor != "soc-anna" || a.Role != "analyst" || a.At.IsZero() || a.ID == "" || len(a.After) == 0 {
			t.Errorf("entry %+v: want soc-anna, analyst, a time, an id and the state after", a)
		}
	}
	want := []string{
		"incident.acknowledge " + inc, "incident.assign " + inc, "incident.note " + inc, "incident.resolve " + inc,
		"silence.create " + sil.ID, "silence.expire " + sil.ID,
	}
	if !slices.Equal(actions, want) {
		t.Fatalf("audit log:\n%s\nwant:\n%s", strings.Join(actions, "\n"), strings.Join(want, "\n"))
	}
	var before, after models.Incident
	if err := json.Unmarshal(got[1].Before, &before); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got[1].After, &after); err != nil {
		t.Fatal(err)
	}
	if before.Owner != "soc-anna" || after.Owner != "soc-boris" {
		t.Errorf("assign entry: owner %q → %q, want soc-anna → soc-boris", before.Owner, after.Owner)
	}
	recs := e.feedback.Records()
	if len(recs) != 2 || recs[0].Verdict != "fraud" || recs[0].Analyst != "soc-anna" || recs[0].SenderHash != hash(mallory) {
		t.Errorf("feedback records %+v, want two fraud verdicts on mallory by soc-anna", recs)
	}

	t.Run("since and limit page the log", func(t *testing.T) {
		two := decode[[]models.AuditEntry](t, e.do(t, adminToken, "GET", "/api/audit?limit=2", nil, http.StatusOK))
		if len(two) != 2 || two[0].ID != got[0].ID {
			t.Errorf("limit=2: %d entries", len(two))
		}
		later := decode[[]models.AuditEntry](t, e.do(t, adminToken, "GET", "/api/audit?since="+url.QueryEscape(t0.Add(2*time.Hour).Format(time.RFC3339)), nil, http.StatusOK))
		if len(later) != 0 {
			t.Errorf("since after every entry: %d entries", len(later))
		}
	})
	t.Run("a resolved incident cannot be acknowledged or resolved again", func(t *testing.T) {
		res := e.send(t, call{token: analystToken, method: "POST", path: p + "/acknowledge"})
		if res.status != http.StatusConflict || !strings.Contains(string(res.body), "resolved") {
			t.Errorf("acknowledge: %s", res)
		}
		res = e.send(t, call{token: analystToken, method: "POST", path: p + "/resolve", body: `{"verdict":"fraud"}`})
		if res.status != http.StatusConflict {
			t.Errorf("resolve: %s", res)
		}
	})
	t.Run("the rule statistics count the hits and the verdict", func(t *testing.T) {
		stats := decode[[]triage.RuleStat](t, e.do(t, viewerToken, "GET", "/api/rules/stats", nil, http.StatusOK))
		i := slices.IndexFunc(stats, func(s triage.RuleStat) bool { return s.Rule == "credential.sms_code" })
		if i < 0 || stats[i].Hits != 2 || stats[i].Fraud != 2 || stats[i].Precision != 1 {
			t.Fatalf("stats %+v", stats)
		}
		j := slices.IndexFunc(stats, func(s triage.RuleStat) bool { return s.Rule == "lottery.prize" })
		if j < 0 || stats[j].Hits != 1 || stats[j].Precision != -1 {
			t.Errorf("lottery.prize %+v", stats)
		}
		q := "/api/rules/stats?from=" + url.QueryEscape(t0.AddDate(0, 0, -60).Format(time.RFC3339)) + "&to=" + url.QueryEscape(t0.AddDate(0, 0, -40).Format(time.RFC3339))
		if old := decode[[]triage.RuleStat](t, e.do(t, viewerToken, "GET", q, nil, http.StatusOK)); len(old) != 0 {
			t.Errorf("two months ago: %+v", old)
		}
		a := decode[triage.AnalystStat](t, e.do(t, viewerToken, "GET", "/api/analysts/soc-anna", nil, http.StatusOK))
		if a.Analyst != "soc-anna" || a.Verdicts != 1 || a.Trust != 1 {
			t.Errorf("analyst %+v", a)
		}
	})
}

func TestALegitVerdictOnASenderJudgedFraudWaitsForASecondAnalyst(t *testing.T) {
	e := newEnv(t)
	// Two incidents of mallory resolved as fraud (a resolved incident
	// takes no more alerts: the next one opens a new incident).
	for i := range 2 {
		inc := e.ingest(t, alert(fmt.Sprintf("r%d", i), mallory, "emp-1", 10*i, models.SeverityHigh, models.CategoryCredential, "credential.sms_code", "код"))[0]
		e.do(t, analystToken, "POST", "/api/incidents/"+inc+"/resolve", map[string]string{"verdict": "fraud"}, http.StatusOK)
	}
	inc := e.ingest(t, alert("r9", mallory, "emp-1", 30, models.SeverityHigh, models.CategoryCredential, "credential.sms_code", "код"))[0]
	p := "/api/incidents/" + inc + "/resolve"

	res := decode[triage.ResolveResult](t, e.do(t, analystToken, "POST", p, map[string]string{"verdict": "legit", "comment": "it is her new number"}, http.StatusAccepted))
	if !res.Pending || res.Reason == "" || res.Incident.PendingVerdict == nil || res.Incident.Status == models.StatusResolved {
		t.Fatalf("first legit: %+v", res)
	}
	if r := e.send(t, call{token: analystToken, method: "POST", path: p, body: `{"verdict":"legit"}`}); r.status != http.StatusConflict {
		t.Fatalf("the same analyst again: %s, want 409", r)
	}
	res = decode[triage.ResolveResult](t, e.do(t, analyst2Token, "POST", p, map[string]string{"verdict": "legit"}, http.StatusOK))
	if res.Pending || res.Incident.Status != models.StatusResolved || !slices.Equal(res.Incident.Resolution.ApprovedBy, []string{"soc-boris"}) {
		t.Fatalf("second analyst: %+v", res)
	}
	actions := []string{}
	for _, a := range e.audit(t) {
		if a.Target == inc {
			actions = append(actions, a.Actor+" "+a.Action)
		}
	}
	if want := []string{"soc-anna incident.verdict_pending", "soc-boris incident.resolve"}; !slices.Equal(actions, want) {
		t.Errorf("audit of %s: %v, want %v", inc, actions, want)
	}
}

func TestBadRequestsAreRejectedWithAUsefulMessage(t *testing.T) {
	e := newEnv(t)
	inc, _, _ := seed(t, e)
	p := "/api/incidents/" + inc
	future := t0.Add(48 * time.Hour).Format(time.RFC3339)
	for _, tc := range []struct {
		name string
		c    call
		// specRejects: openapi.yaml itself says the request is invalid.
		specRejects bool
		status      int
		message     string
	}{
		{"an unknown field in a note", call{method: "POST", path: p + "/notes", body: `{"text":"x","txet":"y"}`}, true, 400, `unknown field "txet"`},
		{"broken JSON", call{method: "POST", path: p + "/notes", body: `{"text":`}, true, 400, "JSON"},
		{"a note that is not an object", call{method: "POST", path: p + "/notes", body: `["x"]`}, true, 400, "want an object"},
		{"a number for the text", call{method: "POST", path: p + "/notes", body: `{"text":5}`}, true, 400, `field "text"`},
		{"two JSON values", call{method: "POST", path: p + "/notes", body: `{"text":"a"} {"text":"b"}`}, false, 400, "single object"},
		{"an empty note", call{method: "POST", path: p + "/notes", body: `{"text":"   "}`}, false, 400, "empty"},
		{"no body for a note", call{method: "POST", path: p + "/notes"}, true, 400, "empty"},
		{"an unknown verdict", call{method: "POST", path: p + "/resolve", body: `{"verdict":"maybe"}`}, true, 400, "fraud, legit or unsure"},
		{"no verdict", call{method: "POST", path: p + "/resolve", body: `{"comment":"hm"}`}, true, 400, "verdict"},
		{"assign without owner", call{method: "POST", path: p + "/assign", body: `{}`}, true, 400, "owner"},
		{"a body for acknowledge", call{method: "POST", path: p + "/acknowledge", body: `{"force":true}`}, true, 400, `unknown field "force"`},
		{"text/plain", call{method: "POST", path: p + "/notes", body: `{"text":"x"}`, ctype: "text/plain"}, true, 415, "application/json"},
		{"a body over 64 KiB", call{method: "POST", path: p + "/notes", body: `{"text":"` + strings.Repeat("a", 70<<10) + `"}`}, true, 413, "larger than 65536"},
		{"a silence without matchers", call{method: "POST", path: "/api/silences", body: `{"matchers":[],"duration":"1h","comment":"x"}`}, true, 400, "matcher"},
		{"a silence on an unknown field", call{method: "POST", path: "/api/silences", body: `{"matchers":[{"name":"phone","value":"+7916"}],"duration":"1h","comment":"x"}`}, true, 400, "phone"},
		{"a silence with an end and a duration", call{method: "POST", path: "/api/silences", body: `{"matchers":[{"name":"employee","value":"emp-1"}],"ends_at":"` + future + `","duration":"1h","comment":"x"}`}, false, 400, "not both"},
		{"a silence without an end", call{method: "POST", path: "/api/silences", body: `{"matchers":[{"name":"employee","value":"emp-1"}],"comment":"x"}`}, false, 400, "ends_at"},
		{"a silence with a day count", call{method: "POST", path: "/api/silences", body: `{"matchers":[{"name":"employee","value":"emp-1"}],"duration":"3d","comment":"x"}`}, true, 400, `"2h"`},
		{"a silence that ended already", call{method: "POST", path: "/api/silences", body: `{"matchers":[{"name":"employee","value":"emp-1"}],"ends_at":"2020-01-01T00:00:00Z","comment":"x"}`}, false, 400, "is not after starts_at"},
		{"a silence without a comment", call{method: "POST", path: "/api/silences", body: `{"matchers":[{"name":"employee","value":"emp-1"}],"duration":"1h","comment":""}`}, true, 400, "comment"},
		{"a silence with a date that is not RFC 3339", call{method: "POST", path: "/api/silences", body: `{"matchers":[{"name":"employee","value":"emp-1"}],"ends_at":"tomorrow","comment":"x"}`}, true, 400, "tomorrow"},
		{"an unknown status", call{method: "GET", path: "/api/incidents?status=closed"}, true, 400, "open, acknowledged or resolved"},
		{"an unknown severity", call{method: "GET", path: "/api/incidents?severity=urgent"}, true, 400, "urgent"},
		{"an unknown category", call{method: "GET", path: "/api/incidents?category=phishing"}, true, 400, "phishing"},
		{"a limit over 500", call{method: "GET", path: "/api/incidents?limit=501"}, true, 400, "0 to 500"},
		{"a negative offset", call{method: "GET", path: "/api/incidents?offset=-1"}, true, 400, "offset"},
		{"a time that is not RFC 3339", call{method: "GET", path: "/api/incidents?from=yesterday"}, true, 400, "RFC 3339"},
		{"an empty time range", call{method: "GET", path: "/api/incidents?from=2026-11-26T10:00:00Z&to=2026-11-26T09:00:00Z"}, false, 400, "after from"},
		{"inhibited=yes", call{method: "GET", path: "/api/incidents?inhibited=yes"}, true, 400, "true or false"},
		{"a misspelt parameter", call{method: "GET", path: "/api/incidents?stauts=open"}, false, 400, `unknown query parameter "stauts"`},
		{"an audit limit over 1000", call{method: "GET", path: "/api/audit?limit=5000"}, true, 400, "0 to 1000"},
		{"rule statistics over more than 400 days", call{method: "GET", path: "/api/rules/stats?from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z"}, false, 400, "400 days"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.token = adminToken
			res := e.send(t, tc.c)
			if tc.specRejects && res.reqErr == nil {
				t.Errorf("openapi.yaml accepts this request; it should describe why it is refused")
			}
			if !tc.specRejects && res.reqErr != nil {
				t.Errorf("openapi.yaml refuses this request (%v); the test expected only the server to", res.reqErr)
			}
			if msg := errorMessage(t, res); res.status != tc.status || !strings.Contains(msg, tc.message) {
				t.Fatalf("got %s, want %d with %q", res, tc.status, tc.message)
			}
		})
	}
	t.Run("nothing changed", func(t *testing.T) {
		if n := len(e.audit(t)); n != 0 {
			t.Errorf("%d audit entries after refused requests", n)
		}
	})
}

// errorMessage returns the message of an error response.
func errorMessage(t *testing.T, r result) string {
	t.Helper()
	var eb struct{ Error string }
	if err := json.Unmarshal(r.body, &eb); err != nil {
		t.Fatalf("error body %s: %v", r, err)
	}
	return eb.Error
}

func TestAnUnknownIncidentOrSilenceIs404(t *testing.T) {
	e := newEnv(t)
	seed(t, e)
	for _, c := range []call{
		{method: "GET", path: "/api/incidents/inc_000000000000000000000000"},
		{method: "POST", path: "/api/incidents/inc_000000000000000000000000/acknowledge"},
		{method: "POST", path: "/api/incidents/inc_000000000000000000000000/assign", body: `{"owner":"x"}`},
		{method: "POST", path: "/api/incidents/inc_000000000000000000000000/notes", body: `{"text":"x"}`},
		{method: "POST", path: "/api/incidents/inc_000000000000000000000000/resolve", body: `{"verdict":"fraud"}`},
		{method: "POST", path: "/api/silences/sil_0000/expire"},
	} {
		c.token = analystToken
		res := e.send(t, c)
		if res.reqErr != nil {
			t.Errorf("%s %s: invalid request: %v", c.method, c.path, res.reqErr)
		}
		if res.status != http.StatusNotFound || !strings.Contains(string(res.body), "not found") {
			t.Errorf("%s %s: got %s, want 404", c.method, c.path, res)
		}
	}
}

func TestTheQueueFiltersAndPages(t *testing.T) {
	e := newEnv(t)
	m, ev, tr := seed(t, e)
	e.do(t, analystToken, "POST", "/api/incidents/"+ev+"/acknowledge", nil, http.StatusOK)
	e.do(t, analystToken, "POST", "/api/incidents/"+tr+"/resolve", map[string]string{"verdict": "unsure"}, http.StatusOK)

	ids := func(path string) []string {
		t.Helper()
		page := decode[triage.Page](t, e.do(t, viewerToken, "GET", path, nil, http.StatusOK))
		out := []string{}
		for _, inc := range page.Incidents {
			out = append(out, inc.ID)
		}
		if page.Total < len(out) {
			t.Errorf("%s: total %d < %d on the page", path, page.Total, len(out))
		}
		return out
	}
	iso := func(min int) string {
		return url.QueryEscape(t0.Add(time.Duration(min) * time.Minute).Format(time.RFC3339))
	}
	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"no filter lists every incident, most recently seen first", "", []string{tr, ev, m}},
		{"a status", "status=open", []string{m}},
		{"a comma list of statuses", "status=open,acknowledged", []string{ev, m}},
		{"repeated statuses", "status=resolved&status=open", []string{tr, m}},
		{"a severity", "severity=critical", []string{m}},
		{"several severities", "severity=high,medium", []string{tr, ev}},
		{"a category", "category=investment_scam", []string{ev}},
		{"an employee", "employee=emp-2", []string{m}},
		{"a sender hash", "sender_hash=" + url.QueryEscape(hash(trudy)), []string{tr}},
		{"free text over evidence, any case", "q=GUARANTEED", []string{ev}},
		{"free text over rule ids", "q=lottery.prize", []string{tr}},
		{"free text over the sender's name", "q=" + url.QueryEscape("служба"), []string{tr, ev, m}},
		{"free text matching nothing", "q=nothing-like-this", []string{}},
		{"a time range on last seen", "from=" + iso(3) + "&to=" + iso(6), []string{ev}},
		{"from alone", "from=" + iso(5), []string{tr, ev}},
		{"filters combine", "status=open,acknowledged&employee=emp-1", []string{ev, m}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ids("/api/incidents?" + tc.query); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("pages", func(t *testing.T) {
		p1 := decode[triage.Page](t, e.do(t, viewerToken, "GET", "/api/incidents?limit=2", nil, http.StatusOK))
		p2 := decode[triage.Page](t, e.do(t, viewerToken, "GET", "/api/incidents?limit=2&offset=2", nil, http.StatusOK))
		p3 := decode[triage.Page](t, e.do(t, viewerToken, "GET", "/api/incidents?limit=2&offset=4", nil, http.StatusOK))
		if p1.Total != 3 || p2.Total != 3 || len(p1.Incidents) != 2 || len(p2.Incidents) != 1 || len(p3.Incidents) != 0 {
			t.Fatalf("pages of 2: %d+%d+%d of %d", len(p1.Incidents), len(p2.Incidents), len(p3.Incidents), p1.Total)
		}
		if p1.Incidents[0].ID != tr || p2.Incidents[0].ID != m || p2.Offset != 2 || p2.Limit != 2 {
			t.Errorf("page 2 %+v", p2)
		}
		if d := decode[triage.Page](t, e.do(t, viewerToken, "GET", "/api/incidents", nil, http.StatusOK)); d.Limit != triage.DefaultPageLimit {
			t.Errorf("default limit %d", d.Limit)
		}
	})
	t.Run("the detail holds the timeline, senders and employees", func(t *testing.T) {
		d := decode[triage.Detail](t, e.do(t, viewerToken, "GET", "/api/incidents/"+m, nil, http.StatusOK))
		if d.Incident.AlertCount != 2 || len(d.Alerts) != 2 || d.Alerts[0].Alert.ID != "fa_m1" || d.Alerts[1].Alert.ID != "fa_m2" {
			t.Fatalf("detail %+v", d)
		}
		if !slices.Equal(d.Incident.Employees, []string{"emp-1", "emp-2"}) || len(d.Incident.Senders) != 1 || d.Incident.Senders[0].Masked != models.MaskNumber(mallory) {
			t.Errorf("employees %v senders %+v", d.Incident.Employees, d.Incident.Senders)
		}
		if strings.Contains(string(e.do(t, viewerToken, "GET", "/api/incidents/"+m, nil, http.StatusOK).body), mallory) {
			t.Error("the detail holds the raw number")
		}
	})
}

func TestASilenceCreatedThroughTheAPISilencesTheNextAlertButStoresIt(t *testing.T) {
	e := newEnv(t)
	m, _, _ := seed(t, e)
	e.do(t, analystToken, "POST", "/api/incidents/"+m+"/resolve", map[string]string{"verdict": "fraud"}, http.StatusOK)
	res := e.do(t, analystToken, "POST", "/api/silences",
		map[string]any{"matchers": []map[string]string{{"name": "sender_hash", "value": hash(mallory)}}, "duration": "2h", "comment": "judged fraud"}, http.StatusCreated)
	sil := decode[models.Silence](t, res)
	if loc := res.header.Get("Location"); loc != "/api/silences/"+sil.ID {
		t.Errorf("Location %q", loc)
	}
	if !sil.StartsAt.Equal(e.clock.Now()) || !sil.EndsAt.Equal(e.clock.Now().Add(2*time.Hour)) || sil.CreatedBy != "soc-anna" {
		t.Errorf("silence %+v: want from now for 2h, by soc-anna", sil)
	}
	next := e.ingest(t, alert("m3", mallory, "emp-4", 40, models.SeverityHigh, models.CategoryCredential, "credential.sms_code", "код"))[0]
	if next == m {
		t.Fatal("the alert joined the resolved incident")
	}
	page := decode[triage.Page](t, e.do(t, viewerToken, "GET", "/api/incidents?sender_hash="+url.QueryEscape(hash(mallory)), nil, http.StatusOK))
	if len(page.Incidents) != 1 || page.Incidents[0].ID != m {
		t.Errorf("the queue shows %+v; the silenced incident should be hidden", page.Incidents)
	}
	page = decode[triage.Page](t, e.do(t, viewerToken, "GET", "/api/incidents?silenced=true&status=open", nil, http.StatusOK))
	if len(page.Incidents) == 0 || page.Incidents[0].ID != next || page.Incidents[0].SilencedCount != 1 {
		t.Fatalf("silenced=true: %+v", page.Incidents)
	}
	d := decode[triage.Detail](t, e.do(t, viewerToken, "GET", "/api/incidents/"+next, nil, http.StatusOK))
	if len(d.Alerts) != 1 || d.Alerts[0].SilencedBy != sil.ID {
		t.Errorf("stored alert %+v, want silenced by %s", d.Alerts, sil.ID)
	}

	list := decode[[]models.Silence](t, e.do(t, viewerToken, "GET", "/api/silences", nil, http.StatusOK))
	if len(list) != 1 || list[0].ID != sil.ID {
		t.Fatalf("silences %+v", list)
	}
	exp := decode[models.Silence](t, e.do(t, analystToken, "POST", "/api/silences/"+sil.ID+"/expire", nil, http.StatusOK))
	if exp.ExpiredBy != "soc-anna" {
		t.Errorf("expired %+v", exp)
	}
	e.do(t, analystToken, "POST", "/api/silences/"+sil.ID+"/expire", nil, http.StatusConflict)
	if l := decode[[]models.Silence](t, e.do(t, viewerToken, "GET", "/api/silences", nil, http.StatusOK)); len(l) != 0 {
		t.Errorf("ended silence still listed: %+v", l)
	}
	if l := decode[[]models.Silence](t, e.do(t, viewerToken, "GET", "/api/silences?ended=true", nil, http.StatusOK)); len(l) != 1 {
		t.Errorf("ended=true: %+v", l)
	}

	t.Run("a silence from a given start with an end", func(t *testing.T) {
		start := e.clock.Now().Add(time.Hour)
		s := decode[models.Silence](t, e.do(t, analystToken, "POST", "/api/silences", map[string]any{
			"matchers":  []map[string]string{{"name": "campaign", "value": "cmp_1"}, {"name": "rule", "value": "credential.sms_code"}},
			"starts_at": start.Format(time.RFC3339), "ends_at": start.Add(time.Hour).Format(time.RFC3339), "comment": "maintenance window",
		}, http.StatusCreated))
		if !s.StartsAt.Equal(start) || !s.EndsAt.Equal(start.Add(time.Hour)) || len(s.Matchers) != 2 {
			t.Errorf("silence %+v", s)
		}
	})
}

func TestAStoreFailureIsA503WithoutItsDetails(t *testing.T) {
	e := newEnv(t)
	seed(t, e)
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []call{
		{method: "GET", path: "/api/incidents"},
		{method: "GET", path: "/api/incidents/inc_x"},
		{method: "POST", path: "/api/incidents/inc_x/acknowledge"},
		{method: "GET", path: "/api/silences"},
		{method: "GET", path: "/api/audit"},
	} {
		c.token = adminToken
		res := e.send(t, c)
		if res.status != http.StatusServiceUnavailable {
			t.Errorf("%s %s: got %s, want 503", c.method, c.path, res)
		}
		if b := strings.ToLower(string(res.body)); strings.Contains(b, "redis") || strings.Contains(b, "closed") || strings.Contains(b, "fwtest") {
			t.Errorf("%s %s: the message gives internals away: %s", c.method, c.path, res.body)
		}
	}
}

func TestEveryResponseCarriesTheSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	for _, c := range []call{
		{method: "GET", path: "/"},
		{method: "GET", path: "/api/openapi.yaml"},
		{method: "GET", path: "/api/incidents"},
		{method: "GET", path: "/api/incidents", token: viewerToken},
	} {
		res := e.send(t, c)
		h := res.header
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", c.path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", c.path, h)
		}
		if strings.HasPrefix(c.path, "/api/") && h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", c.path, h.Get("Cache-Control"))
		}
	}
}
