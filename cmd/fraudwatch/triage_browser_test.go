package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"fraudwatch/detector/triage"
	"fraudwatch/internal/testbrowser"
)

// The browser test, over the whole stack: events produced to
// Kafka pass through `run` and appear in `triage` as one incident; an
// analyst signs in to the console in a real headless Chromium,
// acknowledges it and resolves it as fraud; the verdict travels through
// the feedback topic to `run`, and the sender's fraud counter in Redis
// goes up. With FW_SCREENSHOTS=<dir> it saves the console's main pages
// (the README's screenshots) with the fixtures' incidents around it.
func TestConsoleResolvesAnIncidentEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no browser")
	}
	ctx, console := testbrowser.Start(t)
	s := startTriageStack(t)
	lines := fixtureLines(t)
	// One number asks three employees for their SMS code, now.
	now := time.Now().UTC()
	for i := range 3 {
		ev, _ := json.Marshal(map[string]string{
			"id": fmt.Sprintf("browser-ev-%d", i), "kind": "message", "ts": now.Add(time.Duration(i-3) * time.Minute).Format(time.RFC3339),
			"from": "+79035550777", "from_name": "Служба безопасности банка", "to": fmt.Sprintf("emp-30%d", i),
			"text": "Служба безопасности банка: по вашей карте подозрительная операция. Чтобы её отменить, назовите код из СМС.",
		})
		lines = append(lines, ev)
	}
	s.produce(t, lines...)
	s.settled(t, len(lines))

	var p triage.Page
	if code := s.call(t, triage.RoleViewer, http.MethodGet, "/api/incidents?employee=emp-301", nil, &p); code != 200 || p.Total != 1 {
		t.Fatalf("incidents of emp-301: %d, %+v", code, p)
	}
	inc := p.Incidents[0]
	if inc.AlertCount+len(inc.Covers) < 3 || len(inc.Employees) < 2 {
		t.Fatalf("the three events are not one incident: %+v", inc)
	}
	sender := inc.Senders[0].Hash
	before := s.fraudReports(t, sender)

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v\nbrowser console: %v", what, err, console())
		}
	}
	row := chromedp.CSS(`table#queue tr[data-incident-id="` + inc.ID + `"]`)

	do("signing in as an analyst",
		chromedp.EmulateViewport(1366, 768),
		chromedp.Navigate(s.triageURL+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), s.tokens[triage.RoleAnalyst]),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(row),
		testbrowser.Until("the row says open", `document.querySelector('table#queue tr[data-incident-id="`+inc.ID+`"] td.status').textContent === "open"`),
	)
	testbrowser.Screenshot(t, ctx, "queue")
	do("opening the incident",
		chromedp.Click(row+" button"),
		chromedp.WaitVisible(chromedp.ID("detail")),
		testbrowser.Until("the detail is this incident", `location.hash === "#queue/`+inc.ID+`"`),
		testbrowser.Until("the detail says open", `document.querySelector("#detail-status").textContent === "open"`),
	)
	testbrowser.Screenshot(t, ctx, "detail")
	do("acknowledging",
		chromedp.Click(chromedp.ID("ack")),
		testbrowser.Until("the detail says acknowledged", `document.querySelector("#detail-status").textContent === "acknowledged"`),
	)
	do("resolving as fraud",
		chromedp.SetValue(chromedp.ID("verdict"), "fraud"),
		chromedp.SendKeys(chromedp.ID("resolve-comment"), "asked three employees for SMS codes"),
		chromedp.Click(chromedp.ID("resolve")),
		testbrowser.Until("the detail says resolved", `document.querySelector("#detail-status").textContent === "resolved"`),
	)
	s.waitFor(t, "the verdict to reach the sender's fraud counter in Redis", func() bool { return s.fraudReports(t, sender) > before })

	var d triage.Detail
	if code := s.call(t, triage.RoleViewer, http.MethodGet, "/api/incidents/"+inc.ID, nil, &d); code != 200 {
		t.Fatalf("detail: %d", code)
	}
	if r := d.Incident.Resolution; r == nil || r.Verdict != "fraud" || r.Analyst != "soc-anna" || d.Incident.AcknowledgedAt.IsZero() {
		t.Fatalf("stored incident %+v", d.Incident)
	}

	if os.Getenv("FW_SCREENSHOTS") != "" {
		// The remaining pages, with the fixtures' incidents, for the README.
		var all triage.Page
		s.call(t, triage.RoleViewer, http.MethodGet, "/api/incidents?limit=500", nil, &all)
		for _, c := range all.Incidents {
			if c.Campaign != "" && len(c.Covers) > 0 && len(c.Senders) > 2 {
				do("opening a campaign",
					chromedp.Navigate(s.triageURL+"/#queue/"+c.ID),
					testbrowser.Until("the campaign shows what it covers", `document.querySelectorAll("#detail-covered li").length >= 1`))
				testbrowser.Screenshot(t, ctx, "campaign")
				break
			}
		}
		do("the silences page", chromedp.Click(chromedp.ID("nav-silences")), chromedp.WaitVisible(chromedp.ID("silence-form")))
		testbrowser.Screenshot(t, ctx, "silences")
		do("the rule statistics", chromedp.Click(chromedp.ID("nav-rules")), chromedp.WaitVisible(chromedp.CSS(`table#rule-stats tbody tr`)))
		testbrowser.Screenshot(t, ctx, "rules")
	}
	for _, m := range console() {
		if strings.Contains(strings.ToLower(m.Text), "error") || strings.Contains(m.Text, "Content Security Policy") {
			t.Errorf("browser console: %s", m.Text)
		}
	}
	s.stop(t)
}
