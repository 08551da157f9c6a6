package httpapi_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"fraudwatch/internal/testbrowser"
	"fraudwatch/models"
)

// TestTheConsoleEndToEnd drives the console in a real headless Chromium
// against the real triage service: sign in, see the queue, open an
// incident, acknowledge and resolve it as fraud (the verdict reaches the
// feedback sink), silence a sender from its incident, read the rule
// statistics and, as an admin, the audit log. With FW_SCREENSHOTS=<dir>
// it saves a screenshot of each page there.
func TestTheConsoleEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no browser")
	}
	e := newEnv(t)
	m, ev, _ := seed(t, e)
	cids := e.ingest(t, campaignAlerts()...)
	campaign := cids[len(cids)-1]
	ctx, console := testbrowser.Start(t)
	row := func(id string) chromedp.CSS { return chromedp.CSS(`table#queue tr[data-incident-id="` + id + `"]`) }
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel chromedp.CSS) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.TextContent(sel))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}

	do("signing in",
		chromedp.EmulateViewport(1366, 768),
		chromedp.Navigate(e.srv.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), analystToken),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(row(m)),
		chromedp.WaitVisible(row(campaign)),
	)
	if s := text(row(m) + " td.status"); s != "open" {
		t.Fatalf("queue status of %s: %q, want open", m, s)
	}
	testbrowser.Screenshot(t, ctx, "queue")

	do("opening the incident",
		chromedp.Click(row(m)+" button"),
		chromedp.WaitVisible(chromedp.ID("detail")),
		testbrowser.Until("the detail shows 2 alerts", `document.querySelector("#detail-alert-count").textContent === "2"`),
	)
	if s := text("#detail-status"); s != "open" {
		t.Errorf("detail status %q", s)
	}
	// The evidence "<img src=x onerror=…>" is attacker text: shown, not parsed.
	xss, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#timeline img") === null && document.querySelector("#timeline").textContent.includes("<img src=x onerror=alert(1)>")`))
	if err != nil || !xss {
		t.Errorf("the evidence is not rendered as plain text (%v)", err)
	}
	testbrowser.Screenshot(t, ctx, "detail")

	do("acknowledging",
		chromedp.Click(chromedp.ID("ack")),
		testbrowser.Until("the detail says acknowledged", `document.querySelector("#detail-status").textContent === "acknowledged"`),
		testbrowser.Until("the queue says acknowledged", `(document.querySelector('table#queue tr[data-incident-id="`+m+`"] td.status') || {}).textContent === "acknowledged"`),
	)
	do("resolving as fraud",
		chromedp.SetValue(chromedp.ID("verdict"), "fraud"),
		chromedp.SendKeys(chromedp.ID("resolve-comment"), "asked for the SMS code"),
		chromedp.Click(chromedp.ID("resolve")),
		testbrowser.Until("the result says resolved", `document.querySelector("#resolve-result").textContent.startsWith("Resolved as fraud")`),
		testbrowser.Until("the detail says resolved", `document.querySelector("#detail-status").textContent === "resolved"`),
	)
	d, err := e.tr.Detail(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if d.Incident.Status != models.StatusResolved || d.Incident.Resolution.Verdict != "fraud" || d.Incident.Resolution.Analyst != "soc-anna" || d.Incident.Resolution.Comment != "asked for the SMS code" {
		t.Errorf("stored incident %+v", d.Incident)
	}
	if recs := e.feedback.Records(); len(recs) != 2 || recs[0].Verdict != "fraud" || recs[0].SenderHash != hash(mallory) {
		t.Errorf("feedback records %+v, want two fraud verdicts on mallory", recs)
	}

	do("moving in the queue with j and opening with Enter",
		testbrowser.Until("the resolved incident leaves the queue", `document.querySelector('table#queue tr[data-incident-id="`+m+`"]') === null`),
		chromedp.KeyEvent("j"),
		testbrowser.Until("a row is selected", `document.querySelector("table#queue tr.selected") !== null`),
		chromedp.KeyEvent("\r"),
		testbrowser.Until("the selected row is open", `location.hash === "#queue/" + document.querySelector("table#queue tr.selected").dataset.incidentId`),
	)

	do("silencing a sender from its incident",
		chromedp.Click(row(ev)+" button"),
		testbrowser.Until("eve's incident is open", `location.hash === "#queue/`+ev+`" && document.querySelector("#detail-group").textContent === "sender:`+hash(eve)+`"`),
		chromedp.Click(chromedp.ID("silence-sender")),
		chromedp.WaitVisible(chromedp.ID("silence-form")),
		testbrowser.Until("the matcher is prefilled", `document.querySelector("#matchers .matcher input").value === "`+hash(eve)+`"`),
		chromedp.Click(chromedp.ID("silence-submit")),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-silence-id]`)),
	)
	sils, err := e.tr.Silences(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(sils) != 1 || sils[0].Matchers[0] != (models.Matcher{Name: models.MatchSenderHash, Value: hash(eve)}) || sils[0].CreatedBy != "soc-anna" || sils[0].Comment != "Judged in "+ev {
		t.Errorf("silences %+v", sils)
	}
	testbrowser.Screenshot(t, ctx, "silences")

	do("reading the rule statistics",
		chromedp.Click(chromedp.ID("nav-rules")),
		chromedp.WaitVisible(chromedp.CSS(`table#rule-stats tr[data-rule="credential.sms_code"]`)),
	)
	if s := text(`table#rule-stats tr[data-rule="credential.sms_code"]`); !strings.Contains(s, "100.0 %") {
		t.Errorf("credential.sms_code row %q, want a precision of 100.0 %%", s)
	}
	testbrowser.Screenshot(t, ctx, "rules")

	do("reading the audit log as an admin",
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), adminToken),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("nav-audit")),
		chromedp.Click(chromedp.ID("nav-audit")),
		chromedp.WaitVisible(chromedp.CSS(`table#audit tr[data-audit-id]`)),
		testbrowser.Until("three entries", `document.querySelectorAll("table#audit tr[data-audit-id]").length === 3`),
	)
	if s := text(`table#audit tbody`); !strings.Contains(s, "incident.acknowledge") || !strings.Contains(s, "incident.resolve") || !strings.Contains(s, "silence.create") {
		t.Errorf("audit table %q", s)
	}
	testbrowser.Screenshot(t, ctx, "audit")

	t.Run("a viewer sees the queue and cannot act", func(t *testing.T) {
		do("signing in as a viewer",
			chromedp.Click(chromedp.ID("logout")),
			chromedp.WaitVisible(chromedp.ID("token")),
			chromedp.SendKeys(chromedp.ID("token"), viewerToken),
			chromedp.Click(chromedp.ID("login")),
			chromedp.WaitVisible(row(campaign)),
			chromedp.Click(row(campaign)+" button"),
			testbrowser.Until("the campaign shows the incidents it covers", `document.querySelectorAll("#detail-covered li").length >= 1`),
		)
		testbrowser.Screenshot(t, ctx, "campaign")
		hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#nav-audit").hidden && document.querySelector("#ack").disabled && document.querySelector("#resolve").disabled && document.querySelector("#silence-form").hidden`))
		if err != nil || !hidden {
			t.Errorf("a viewer sees the audit link or enabled actions (%v)", err)
		}
	})

	for _, msg := range console() {
		if msg.IsException() || strings.Contains(msg.Text, "Content Security Policy") || strings.Contains(msg.Text, "Refused to") {
			t.Errorf("browser console: %s", msg)
		}
	}
}

// campaignAlerts are one text from three numbers to three employees: a
// campaign incident covering the first sender's incident.
func campaignAlerts() []models.Alert {
	var out []models.Alert
	for i, sender := range []string{"+79260000001", "+79260000002", "+79260000003"} {
		a := alert(fmt.Sprintf("c%d", i), sender, fmt.Sprintf("emp-%d", 10+i), 20+i, models.SeverityHigh, models.CategoryImpersonation, "impersonation.bank_security", "Служба безопасности банка: ваш счёт заблокирован")
		a.TextID = "cmp_7f31"
		if i > 0 {
			a.Campaign = "cmp_7f31"
			a.Categories = append(a.Categories, models.CategoryCampaign)
		}
		out = append(out, a)
	}
	return out
}
