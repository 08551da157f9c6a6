package detector_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"fraudwatch/detector/rules"
	"fraudwatch/features/textmodel"
	"fraudwatch/models"
)

// Alerts name the text model that judged them: the built-in model's
// version id when the config names none.
func TestAlertsCarryTheModelVersion(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	eng, _ := newFixtureEngine(t, now)
	m, err := textmodel.Default()
	if err != nil {
		t.Fatal(err)
	}
	ev := models.Event{ID: "mv-1", Kind: models.KindMessage, TS: now, From: "+79161239999", To: "emp-1",
		Text: "Здравствуйте, это служба безопасности банка. Назовите код из СМС, чтобы отменить перевод"}
	scored, err := eng.Score(context.Background(), []models.Event{ev})
	if err != nil {
		t.Fatal(err)
	}
	a := scored[0].Alert
	if a == nil {
		t.Fatalf("a code request from an unknown number made no alert: %+v", scored[0].Verdict)
	}
	if a.ModelVersion != m.Version() || !strings.HasPrefix(a.ModelVersion, "tm-") {
		t.Errorf("alert model_version = %q, want the built-in model's %q", a.ModelVersion, m.Version())
	}
}

// The text model alone never makes a high-severity verdict: every rule
// that weighs model_score firing at once stays below the high threshold,
// so reaching high takes rules that see the mechanics of a scam.
func TestTheModelAloneCannotMakeAHighAlert(t *testing.T) {
	rs, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	var names []string
	for _, r := range rs.Rules() {
		if strings.Contains(r.When, "model_score") && !r.Shadow && r.Weight > 0 {
			sum += r.Weight
			names = append(names, r.ID)
		}
	}
	if len(names) == 0 {
		t.Fatal("no built-in rule weighs model_score: the model is unused")
	}
	if high := rs.Thresholds().High; sum >= high {
		t.Errorf("the rules on model_score (%s) weigh %v together, reaching high (%v)", strings.Join(names, ", "), sum, high)
	}
}
