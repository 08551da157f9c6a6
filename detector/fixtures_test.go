package detector_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"fraudwatch/detector"
	"fraudwatch/detector/rules"
	"fraudwatch/features"
	"fraudwatch/features/memrep"
	"fraudwatch/fixtures"
	"fraudwatch/models"
)

// scoreFixtures runs the real scoring path (features, built-in rules,
// in-memory reputation) over fixtures/events.jsonl in file order.
func scoreFixtures(t *testing.T) ([]models.LabeledEvent, []detector.Scored) {
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
	h, err := detector.NewSenderHasher("v1", []byte("fixture-test-secret-0123"))
	if err != nil {
		t.Fatal(err)
	}
	opts := models.DecodeOptions{NormalizeSender: features.NewNumberNormalizer("RU").Normalize}
	now := time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)
	rep, err := memrep.New(memrep.Config{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := detector.NewEngine(detector.EngineConfig{OfficialLines: officialNumbers(dir), Now: func() time.Time { return now }},
		opts, x, rep, h, rs)
	if err != nil {
		t.Fatal(err)
	}
	var rows []models.LabeledEvent
	sc := bufio.NewScanner(bytes.NewReader(fixtures.Events()))
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		row, err := models.DecodeCorpusRow(sc.Bytes(), opts)
		if err != nil {
			t.Fatalf("fixtures/events.jsonl:%d: %v", line, err)
		}
		rows = append(rows, row)
	}
	evs := make([]models.Event, len(rows))
	for i := range rows {
		evs[i] = rows[i].Event
	}
	scored, err := eng.Score(context.Background(), evs)
	if err != nil {
		t.Fatal(err)
	}
	return rows, scored
}

// Every scam and spam fixture is flagged, with its main category among the
// verdict's categories, and no legitimate fixture is flagged.
func TestFixturesAreJudgedAsLabelled(t *testing.T) {
	rows, scored := scoreFixtures(t)
	if len(rows) < 60 {
		t.Fatalf("only %d fixtures", len(rows))
	}
	for i, row := range rows {
		v := scored[i].Verdict
		t.Run(row.ID, func(t *testing.T) {
			if row.Label.Positive() != v.Flagged {
				t.Errorf("label %s but flagged=%v (score %.1f, %s): %s\n  %q", row.Label, v.Flagged, v.Score, v.Severity, reasons(v), row.Text)
				return
			}
			if v.Flagged && len(row.Categories) > 0 && !hasCategory(v.Categories, row.Categories[0]) {
				t.Errorf("main category %s missing from %v: %s\n  %q", row.Categories[0], v.Categories, reasons(v), row.Text)
			}
		})
	}
}

// The per-category table the README quotes: run with -v to print it.
func TestFixtureCategoryRecall(t *testing.T) {
	rows, scored := scoreFixtures(t)
	type tally struct{ n, caught int }
	per := map[models.Category]*tally{}
	hamN, hamFlagged := 0, 0
	for i, row := range rows {
		if !row.Label.Positive() {
			hamN++
			if scored[i].Verdict.Flagged {
				hamFlagged++
			}
			continue
		}
		for _, c := range row.Categories {
			if per[c] == nil {
				per[c] = &tally{}
			}
			per[c].n++
			if scored[i].Verdict.Flagged && hasCategory(scored[i].Verdict.Categories, c) {
				per[c].caught++
			}
		}
	}
	var cats []string
	for c := range per {
		cats = append(cats, string(c))
	}
	sort.Strings(cats)
	var b strings.Builder
	fmt.Fprintf(&b, "| category | fixtures | flagged with that category |\n|---|---|---|\n")
	for _, c := range cats {
		tl := per[models.Category(c)]
		fmt.Fprintf(&b, "| %s | %d | %d |\n", c, tl.n, tl.caught)
	}
	fmt.Fprintf(&b, "| legitimate (ham) | %d | %d flagged |\n", hamN, hamFlagged)
	t.Log("\n" + b.String())
}

func reasons(v models.Verdict) string {
	var parts []string
	for _, r := range v.Reasons {
		parts = append(parts, fmt.Sprintf("%s(%+.1f)", r.Rule, r.Weight))
	}
	return strings.Join(parts, " ")
}

func hasCategory(cs []models.Category, c models.Category) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

func officialNumbers(d *features.Directory) []string {
	var out []string
	for _, l := range d.OfficialLines {
		out = append(out, l.Number)
	}
	return out
}
