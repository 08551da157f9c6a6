package rules

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fraudwatch/features"
	"fraudwatch/models"
)

// Every file in testdata/invalid states, on its first line, the error it
// must produce ("# wantErr: ..."): a rule file with a mistake is rejected
// at load with the file, the rule and the reason.
func TestInvalidRuleFilesAreRejectedWithTheirReason(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no invalid fixtures: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := bufio.NewReader(bytes.NewReader(b)).ReadLine()
			want, ok := strings.CutPrefix(string(first), "# wantErr: ")
			if !ok {
				t.Fatalf("%s: first line must be '# wantErr: <text>'", path)
			}
			_, err = LoadFile(path)
			if err == nil {
				t.Fatalf("LoadFile(%s) accepted an invalid file", path)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q\n does not contain %q", err, want)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestTheBuiltInRulesCompile(t *testing.T) {
	rs, err := Default()
	if err != nil {
		t.Fatalf("built-in rules: %v", err)
	}
	if rs.Version() == "" || len(rs.Rules()) < 20 {
		t.Errorf("version %q, %d rules", rs.Version(), len(rs.Rules()))
	}
	covered := map[models.Category]bool{}
	for _, r := range rs.Rules() {
		if r.Weight > 0 {
			covered[r.Category] = true
		}
	}
	for _, c := range models.AllCategories() {
		if !covered[c] {
			t.Errorf("no rule raises category %s", c)
		}
	}
}

const evalRules = `
version: t-1
thresholds: {low: 2, medium: 4, high: 7, critical: 10}
advice:
  default: {ru: "Звоните {lines}", en: "Call {lines}"}
  safe_account: {ru: "Нет безопасных счетов. {lines}", en: "No safe accounts. {lines}"}
rules:
  - id: a.safe
    category: safe_account
    description: d
    when: lex_safe_account > 0
    weight: 6
  - id: b.urgency
    category: credential_request
    description: d
    when: lex_urgency > 0
    weight: 1.5
  - id: c.known
    category: unknown_number
    description: context
    when: sender_known
    weight: -3
  - id: d.unknown
    category: unknown_number
    description: d
    when: has_sender && !sender_known
    weight: 1
  - id: f.ads
    category: spam
    description: d
    when: lex_spam > 0
    weight: 4
  - id: e.shadow
    category: campaign
    description: d
    when: rep_employees_1h >= 2
    weight: 5
    shadow: true
    evidence: [lex_urgency]
`

func TestEvaluate(t *testing.T) {
	rs, err := Parse("eval", []byte(evalRules))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		set      features.Set
		score    float64
		severity models.Severity
		cats     []models.Category
		rules    []string
	}{
		{"nothing fires on an empty set", features.Set{}, 0, models.SeverityNone, nil, nil},
		{"weights add up and map to a severity", features.Set{LexSafeAccount: 1, LexUrgency: 1, HasSender: true}, 8.5, models.SeverityHigh,
			[]models.Category{models.CategorySafeAccount, models.CategoryCredential, models.CategoryUnknownNumber}, []string{"a.safe", "b.urgency", "d.unknown"}},
		{"negative context lowers the score", features.Set{LexSafeAccount: 1, SenderKnown: true, HasSender: true}, 3, models.SeverityLow,
			[]models.Category{models.CategorySafeAccount}, []string{"a.safe", "c.known"}},
		{"unknown_number alone stays at none", features.Set{HasSender: true}, 1, models.SeverityNone,
			[]models.Category{models.CategoryUnknownNumber}, []string{"d.unknown"}},
		{"spam ranks after a specific category however heavy, before unknown_number", features.Set{LexSpam: 1, LexUrgency: 1, HasSender: true}, 6.5, models.SeverityMedium,
			[]models.Category{models.CategoryCredential, models.CategorySpam, models.CategoryUnknownNumber}, []string{"f.ads", "b.urgency", "d.unknown"}},
		{"shadow rules are listed last and never counted", features.Set{RepEmployees1h: 3, LexUrgency: 2, Evidence: map[string]string{"lex_urgency": "срочно"}}, 1.5, models.SeverityNone,
			[]models.Category{models.CategoryCredential}, []string{"b.urgency", "e.shadow"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := rs.Evaluate(&tc.set)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Score != tc.score || ev.Severity != tc.severity {
				t.Errorf("score %v severity %v, want %v %v", ev.Score, ev.Severity, tc.score, tc.severity)
			}
			if strings.Join(catStrings(ev.Categories), ",") != strings.Join(catStrings(tc.cats), ",") {
				t.Errorf("categories %v, want %v", ev.Categories, tc.cats)
			}
			var got []string
			for _, r := range ev.Reasons {
				got = append(got, r.Rule)
			}
			if strings.Join(got, ",") != strings.Join(tc.rules, ",") {
				t.Errorf("rules %v, want %v", got, tc.rules)
			}
		})
	}
	t.Run("shadow reasons are marked and carry their evidence", func(t *testing.T) {
		set := features.Set{RepEmployees1h: 3, Evidence: map[string]string{"lex_urgency": "срочно"}}
		ev, _ := rs.Evaluate(&set)
		if len(ev.Reasons) != 1 || !ev.Reasons[0].Shadow || ev.Reasons[0].Evidence != "срочно" {
			t.Errorf("reasons %+v", ev.Reasons)
		}
	})
	t.Run("advice follows the first category that has its own text", func(t *testing.T) {
		a := rs.Advice([]models.Category{models.CategoryUnknownNumber, models.CategorySafeAccount}, "8-800-100-00-00")
		if a.EN != "No safe accounts. 8-800-100-00-00" || a.RU != "Нет безопасных счетов. 8-800-100-00-00" {
			t.Errorf("advice %+v", a)
		}
		if d := rs.Advice(nil, "L"); d.EN != "Call L" {
			t.Errorf("default advice %+v", d)
		}
	})
}

func catStrings(cs []models.Category) []string {
	var out []string
	for _, c := range cs {
		out = append(out, string(c))
	}
	return out
}
