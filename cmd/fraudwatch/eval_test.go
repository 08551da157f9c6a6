package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"fraudwatch/detector/rules"
)

var update = flag.Bool("update", false, "rewrite golden files")

const (
	evalCorpus = "testdata/eval/corpus.jsonl"
	evalRules  = "testdata/eval/rules.yaml"
	evalModel  = "testdata/eval/model.json"
)

// runCmd runs the binary's dispatch with args and returns exit code,
// stdout and stderr.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := dispatch(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

var secondsField = regexp.MustCompile(`"seconds": [0-9.e-]+`)

// TestEvalJSONMatchesGolden pins the documented JSON shape on a small
// corpus, with a fixed rule file and model so that tuning the built-in
// ones does not move it. Regenerate with: go test ./cmd/fraudwatch -run
// TestEvalJSONMatchesGolden -update
func TestEvalJSONMatchesGolden(t *testing.T) {
	code, out, stderr := runCmd(t, "eval", "--format", "json", "--rules", evalRules, "--model", evalModel, "--data", evalCorpus)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := secondsField.ReplaceAllString(out, `"seconds": 0`)
	golden := "testdata/eval/report.golden.json"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("eval --format json differs from %s (run with -update if the change is intended):\n%s", golden, got)
	}

	// The documented keys, whatever the golden says.
	var doc struct {
		Datasets []map[string]any `json:"datasets"`
		Rules    []map[string]any `json:"rules"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Datasets) != 1 || len(doc.Rules) == 0 {
		t.Fatalf("datasets %d, rules %d", len(doc.Datasets), len(doc.Rules))
	}
	for _, k := range []string{"path", "n", "tp", "fp", "tn", "fn", "precision", "recall", "f1", "fpr", "categories", "rules", "sweep", "in_model_training"} {
		if _, ok := doc.Datasets[0][k]; !ok {
			t.Errorf("dataset has no %q", k)
		}
	}
	if doc.Datasets[0]["in_model_training"] != true {
		t.Error("the corpus the test model was trained on is not marked as training data")
	}
	shadow := false
	for _, r := range doc.Rules {
		if r["id"] == "test.job" {
			shadow = r["shadow"] == true
		}
	}
	if !shadow {
		t.Error("the shadow rule is not listed as shadow")
	}
}

func TestEvalCountsAgreeWithScore(t *testing.T) {
	// eval must judge exactly what score prints: count score's verdicts.
	code, out, stderr := runCmd(t, "score", "--min-severity", "low", "--rules", evalRules, "--model", evalModel, evalCorpus)
	if code != 0 {
		t.Fatalf("score exit %d: %s", code, stderr)
	}
	flagged := strings.Count(out, `"flagged":true`)
	code, jout, stderr := runCmd(t, "eval", "--format", "json", "--rules", evalRules, "--model", evalModel, "--data", evalCorpus)
	if code != 0 {
		t.Fatalf("eval exit %d: %s", code, stderr)
	}
	var doc evalReport
	if err := json.Unmarshal([]byte(jout), &doc); err != nil {
		t.Fatal(err)
	}
	ds := doc.Datasets[0]
	if ds.TP+ds.FP != flagged || ds.N != 12 {
		t.Errorf("eval: tp %d + fp %d of %d; score flagged %d of 12", ds.TP, ds.FP, ds.N, flagged)
	}
}

func TestEvalFlagsAndExitCodes(t *testing.T) {
	dir := t.TempDir()
	badRow := filepath.Join(dir, "bad.jsonl")
	corpus, err := os.ReadFile(evalCorpus)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(badRow, append(corpus, []byte("{\"id\":\"x\",\"text\":\"hi\",\"label\":\"maybe\"}\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	fixed := []string{"--rules", evalRules, "--model", evalModel}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // substring
		stderr string // substring
		absent string
	}{
		{name: "without data it prints usage and exits 2", args: []string{"eval"}, code: 2, stderr: "Usage: fraudwatch eval"},
		{name: "an unknown format is a usage error", args: []string{"eval", "--format", "xml", "--data", evalCorpus}, code: 2},
		{name: "a file that meets the gates exits 0", args: append([]string{"eval", "--data", evalCorpus, "--min-f1", "0.9", "--max-fpr", "0.2"}, fixed...), code: 0, stdout: "F1 0.9231"},
		{name: "F1 below --min-f1 exits 1 naming the file", args: append([]string{"eval", "--data", evalCorpus, "--min-f1", "0.95"}, fixed...), code: 1, stderr: "corpus.jsonl: F1 0.9231 is below --min-f1 0.95"},
		{name: "FPR above --max-fpr exits 1", args: append([]string{"eval", "--data", evalCorpus, "--max-fpr", "0.1"}, fixed...), code: 1, stderr: "false-positive rate 0.1667 is above --max-fpr 0.1"},
		{name: "a broken rule file is rejected naming file, rule and problem", args: []string{"eval", "--data", evalCorpus, "--rules", "testdata/eval/bad_rules.yaml"}, code: 1, stderr: `bad_rules.yaml: rule "test.typo": when: unknown feature "model_scroe"`},
		{name: "a broken baseline rule file is rejected too", args: []string{"eval", "--data", evalCorpus, "--baseline-rules", "testdata/eval/bad_rules.yaml"}, code: 1, stderr: `baseline: rule file testdata/eval/bad_rules.yaml: rule "test.typo"`},
		{name: "a missing model file is an error", args: []string{"eval", "--data", evalCorpus, "--model", filepath.Join(dir, "nope.json")}, code: 1, stderr: "text model"},
		{name: "bad rows are reported with their line and exit 2, the rest still judged", args: append([]string{"eval", "--data", badRow}, fixed...), code: 2, stdout: "n 12", stderr: "bad.jsonl:13:"},
		{name: "the training data of the model is marked", args: append([]string{"eval", "--data", evalCorpus}, fixed...), code: 0, stdout: "IN THE MODEL'S TRAINING DATA"},
		{name: "--cv trains a model per fold and says so", args: []string{"eval", "--data", evalCorpus, "--rules", evalRules, "--cv", "3"}, code: 0, stdout: "3-fold cross-validated", absent: "TRAINING DATA"},
		{name: "--show-errors lists the rows eval got wrong", args: append([]string{"eval", "--data", evalCorpus, "--show-errors", "5"}, fixed...), code: 0, stdout: "false positive t-09 (ham) low 2.50"},
		{name: "--progress N reports rows scored on stderr", args: append([]string{"eval", "--data", evalCorpus, "--progress", "5"}, fixed...), code: 0, stderr: "eval: testdata/eval/corpus.jsonl: done, 12 rows"},
		{name: "small files print no progress by default", args: append([]string{"eval", "--data", evalCorpus}, fixed...), code: 0, absent: "rows ("},
		{name: "--cv 1 is a usage error", args: []string{"eval", "--data", evalCorpus, "--cv", "1"}, code: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCmd(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, stderr)
			}
			if tc.stdout != "" && !strings.Contains(out, tc.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tc.stdout, out)
			}
			if tc.stderr != "" && !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, stderr)
			}
			if tc.absent != "" && (strings.Contains(out, tc.absent) || strings.Contains(stderr, tc.absent)) {
				t.Errorf("output has %q:\nstdout:\n%s\nstderr:\n%s", tc.absent, out, stderr)
			}
		})
	}
}

func TestEvalBaselineShowsFlipsAndDeltas(t *testing.T) {
	// The candidate drops the model rule: events only the model caught
	// flip from flagged to not flagged.
	b, err := os.ReadFile(evalRules)
	if err != nil {
		t.Fatal(err)
	}
	cand := strings.Replace(string(b), "when: model_score >= 0.7", "when: model_score >= 2", 1)
	if cand == string(b) {
		t.Fatal("test rule file changed: the model rule was not found")
	}
	path := filepath.Join(t.TempDir(), "candidate.yaml")
	if err := os.WriteFile(path, []byte(cand), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := rules.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCmd(t, "eval", "--format", "json", "--model", evalModel, "--rules", path, "--baseline-rules", evalRules, "--data", evalCorpus)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc evalReport
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	bl := doc.Datasets[0].Baseline
	if bl == nil || bl.FlipsTotal == 0 || len(bl.Flips) != bl.FlipsTotal {
		t.Fatalf("baseline = %+v, want flips", bl)
	}
	for _, f := range bl.Flips {
		if f.Before == "none" || f.After != "none" && f.After != "low" {
			t.Errorf("flip %+v: dropping a rule can only lower verdicts", f)
		}
	}
	if bl.Delta.Recall == nil || *bl.Delta.Recall >= 0 {
		t.Errorf("recall delta %v, want negative", bl.Delta.Recall)
	}
	code, text, _ := runCmd(t, "eval", "--model", evalModel, "--rules", path, "--baseline-rules", evalRules, "--data", evalCorpus)
	if code != 0 || !strings.Contains(text, "verdicts flip") || !strings.Contains(text, "flip t-") {
		t.Errorf("text output lacks the flips:\n%s", text)
	}
}
