package rules_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
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

// scenarioDir holds one folder per rule, named by the rule id, with
//
//	fire.jsonl    events that must fire the rule
//	quiet.jsonl   hard negatives: events close to them that must not
//	rules.yaml    optional: a rule file to use instead of the built-in one
//
// See the README ("Rule scenarios") for the line format.
const scenarioDir = "testdata/scenarios"

// scenarioNow is the engine's clock; events without "ts" are placed a
// minute apart before it, in file order.
var scenarioNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// scenarioLine is what a scenario line adds to an inbound event.
type scenarioLine struct {
	// Given events only build up reputation (earlier calls, the same
	// text to other employees); they are scored but not judged.
	Given bool `json:"given"`
	// Reputation overrides fields of the reputation snapshot the store
	// returns for this event, by their JSON names (models.Snapshot):
	// {"fraud_reports": 2}, {"allowlisted": true}.
	Reputation map[string]json.RawMessage `json:"reputation"`
	// Note says why the event must (not) fire; for the reader only.
	Note string `json:"note"`
}

// Each rule scenario runs through the real extractor (sample directory of
// the fixtures), the real engine and in-memory reputation: every event in
// fire.jsonl fires the folder's rule and none in quiet.jsonl does.
func TestRuleScenarios(t *testing.T) {
	dirs, err := os.ReadDir(scenarioDir)
	if err != nil {
		t.Fatalf("reading %s: %v", scenarioDir, err)
	}
	x := scenarioExtractor(t)
	def, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		id := d.Name()
		t.Run(id, func(t *testing.T) {
			dir := filepath.Join(scenarioDir, id)
			rs := def
			if _, err := os.Stat(filepath.Join(dir, "rules.yaml")); err == nil {
				if rs, err = rules.LoadFile(filepath.Join(dir, "rules.yaml")); err != nil {
					t.Fatal(err)
				}
			}
			if !slices.ContainsFunc(rs.Rules(), func(r rules.Rule) bool { return r.ID == id }) {
				t.Fatalf("%s: no rule %q in %s: rename the folder after the rule, or remove it with the rule", dir, id, rulesName(dir, rs == def))
			}
			for _, part := range []struct {
				file string
				fire bool
			}{{"fire.jsonl", true}, {"quiet.jsonl", false}} {
				path := filepath.Join(dir, part.file)
				judged := runScenarioFile(t, x, rs, id, path, part.fire)
				if judged == 0 {
					t.Errorf("%s: no events to judge; every scenario needs events that fire the rule and hard negatives that do not", path)
				}
			}
		})
	}
}

// Every rule that counts towards the score has a scenario folder, so a
// rule cannot ship, nor change, without events that show what it does.
// Shadow rules are on trial and may go without.
func TestEveryBuiltInRuleHasAScenario(t *testing.T) {
	rs, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs.Rules() {
		if r.Shadow {
			continue
		}
		for _, f := range []string{"fire.jsonl", "quiet.jsonl"} {
			if _, err := os.Stat(filepath.Join(scenarioDir, r.ID, f)); err != nil {
				t.Errorf("rule %q has no %s: add %s/%s/%s (see the README, \"Rule scenarios\")", r.ID, f, "detector/rules/"+scenarioDir, r.ID, f)
			}
		}
	}
}

func rulesName(dir string, builtIn bool) string {
	if builtIn {
		return "the built-in rules"
	}
	return filepath.Join(dir, "rules.yaml")
}

func scenarioExtractor(t *testing.T) *features.Extractor {
	t.Helper()
	dir, err := features.ParseDirectory(fixtures.Directory())
	if err != nil {
		t.Fatal(err)
	}
	x, err := features.NewExtractor(features.Config{DefaultRegion: "RU", Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// runScenarioFile scores the events of path in order, each as its own
// batch with fresh reputation per file, and checks that rule id fires
// (fire) or not on every event that is not "given". It returns how many
// events it judged.
func runScenarioFile(t *testing.T, x *features.Extractor, rs *rules.Ruleset, id, path string, fire bool) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("%v", err)
		return 0
	}
	store, err := memrep.New(memrep.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var patch map[string]json.RawMessage // the reputation override of the event being scored
	rep := detector.ReputationFunc(func(ctx context.Context, obs []models.Observation) ([]models.Snapshot, error) {
		snaps, err := store.Observe(ctx, obs)
		if err != nil || patch == nil {
			return snaps, err
		}
		for i := range snaps {
			if snaps[i], err = patchSnapshot(snaps[i], patch); err != nil {
				return nil, err
			}
		}
		return snaps, nil
	})
	h, err := detector.NewSenderHasher("v1", []byte("scenario-test-secret-0123"))
	if err != nil {
		t.Fatal(err)
	}
	opts := models.DecodeOptions{NormalizeSender: features.NewNumberNormalizer("RU").Normalize}
	eng, err := detector.NewEngine(detector.EngineConfig{
		OfficialLines: []string{"+74951234567"},
		MinSeverity:   models.SeverityLow,
		Now:           func() time.Time { return scenarioNow },
	}, opts, x, rep, h, rs)
	if err != nil {
		t.Fatal(err)
	}

	lines := bytes.Split(b, []byte("\n"))
	judged := 0
	for n, raw := range lines {
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || raw[0] == '#' {
			continue
		}
		where := fmt.Sprintf("%s:%d", path, n+1)
		ev, meta, err := decodeScenarioLine(raw, scenarioNow.Add(time.Duration(n-len(lines))*time.Minute), opts)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		patch = meta.Reputation
		scored, err := eng.Score(context.Background(), []models.Event{ev})
		if err != nil {
			t.Errorf("%s: event %q: %v", where, ev.ID, err)
			continue
		}
		if meta.Given {
			continue
		}
		judged++
		s := scored[0]
		fired := slices.ContainsFunc(s.Verdict.Reasons, func(r models.Reason) bool { return r.Rule == id })
		if fired != fire {
			want := "must fire rule %q but did not"
			if !fire {
				want = "must not fire rule %q but did"
			}
			t.Errorf("%s: event %q "+want+"\n  note: %s\n  fired: %s\n  features: %s",
				where, ev.ID, id, meta.Note, reasonList(s.Verdict.Reasons), nonZeroFeatures(s.Features))
		}
	}
	return judged
}

// decodeScenarioLine reads one line: an inbound event (kind defaults to
// message, to to emp-1042, ts to the given time) and the scenario fields.
func decodeScenarioLine(raw []byte, ts time.Time, opts models.DecodeOptions) (models.Event, scenarioLine, error) {
	var meta scenarioLine
	if err := json.Unmarshal(raw, &meta); err != nil {
		return models.Event{}, meta, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return models.Event{}, meta, err
	}
	defaults := map[string]string{"kind": `"message"`, "to": `"emp-1042"`, "ts": `"` + ts.Format(time.RFC3339) + `"`}
	for k, v := range defaults {
		if _, ok := fields[k]; !ok {
			fields[k] = json.RawMessage(v)
		}
	}
	if _, ok := fields["id"]; !ok {
		return models.Event{}, meta, errors.New(`no "id": name every scenario event`)
	}
	full, err := json.Marshal(fields)
	if err != nil {
		return models.Event{}, meta, err
	}
	ev, err := models.DecodeEvent(full, opts)
	return ev, meta, err
}

// patchSnapshot overlays the fields of patch, by their JSON names, on s.
func patchSnapshot(s models.Snapshot, patch map[string]json.RawMessage) (models.Snapshot, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return s, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return s, err
	}
	for k, v := range patch {
		if _, ok := m[k]; !ok && k != "campaign" {
			return s, fmt.Errorf("reputation: unknown snapshot field %q (see models.Snapshot)", k)
		}
		m[k] = v
	}
	b, err = json.Marshal(m)
	if err != nil {
		return s, err
	}
	var out models.Snapshot
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&out); err != nil {
		return s, fmt.Errorf("reputation: %w", err)
	}
	return out, nil
}

func reasonList(rs []models.Reason) string {
	if len(rs) == 0 {
		return "(none)"
	}
	var parts []string
	for _, r := range rs {
		p := fmt.Sprintf("%s %+g", r.Rule, r.Weight)
		if r.Shadow {
			p += " (shadow)"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// nonZeroFeatures lists the features that are set, for the failure
// message: what the rule saw.
func nonZeroFeatures(s features.Set) string {
	v := reflect.ValueOf(s)
	t := v.Type()
	var parts []string
	for i := range t.NumField() {
		name := t.Field(i).Tag.Get("expr")
		if name == "" || name == "-" || v.Field(i).IsZero() {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s=%v", name, v.Field(i).Interface()))
	}
	return strings.Join(parts, " ")
}
