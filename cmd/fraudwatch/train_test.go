package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fraudwatch/features/textmodel"
)

// datasetsDir is where the public corpora live: $FW_DATASETS, else
// ../shared/datasets beside the checkout (the module root is two levels
// up from this package).
func datasetsDir() string {
	if d := os.Getenv("FW_DATASETS"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "shared", "datasets")
}

// shippedModelCommand is the README's command, from the module root.
const shippedModelCommand = "go run ./cmd/fraudwatch train --data ../shared/datasets/sms_phishing_en.dev.jsonl --data fixtures/events.jsonl --out features/textmodel/default.json"

func TestTrainReproducesTheShippedModel(t *testing.T) {
	en := filepath.Join(datasetsDir(), "sms_phishing_en.dev.jsonl")
	if _, err := os.Stat(en); err != nil {
		t.Skipf("the English SMS corpus is not at %s (set FW_DATASETS to the directory of sms_phishing_en.dev.jsonl): %v", en, err)
	}
	out := filepath.Join(t.TempDir(), "model.json")
	code, _, stderr := runCmd(t, "train", "--data", en, "--data", filepath.Join("..", "..", "fixtures", "events.jsonl"), "--out", out)
	if code != 0 {
		t.Fatalf("train exit %d: %s", code, stderr)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, textmodel.DefaultJSON()) {
		t.Fatalf("train does not reproduce features/textmodel/default.json byte for byte.\n"+
			"The training data (fixtures/events.jsonl), the tokenizer or the trainer changed since it was made.\n"+
			"Retrain it from the module root with:\n  %s\nand commit the new file.", shippedModelCommand)
	}
}

func TestTrainIsDeterministicAndRecordsItsData(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	for _, out := range []string{a, b} {
		if code, _, stderr := runCmd(t, "train", "--data", evalCorpus, "--min-docs", "1", "--seed", "7", "--out", out); code != 0 {
			t.Fatalf("train exit %d: %s", code, stderr)
		}
	}
	ab, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if !bytes.Equal(ab, bb) {
		t.Fatal("two trainings with the same data and seed differ")
	}
	m, err := textmodel.Read(bytes.NewReader(ab))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(evalCorpus)
	sum := sha256.Sum256(raw)
	tr := m.Training()
	if len(tr.Files) != 1 {
		t.Fatalf("files = %+v", tr.Files)
	}
	f := tr.Files[0]
	if f.Name != "corpus.jsonl" || f.SHA256 != hex.EncodeToString(sum[:]) || f.Rows["ham"] != 6 || f.Rows["spam"] != 3 || f.Rows["scam"] != 3 {
		t.Errorf("training file = %+v; want base name, the file's sha256 and rows per label 6/3/3", f)
	}
	if tr.Params.Seed != 7 || tr.Docs != 12 || tr.Positives != 6 {
		t.Errorf("summary = %+v", tr)
	}
	if strings.Contains(string(ab), dir) || strings.Contains(string(ab), "testdata") {
		t.Error("the model file names a path: only base names belong in it")
	}
	code, out, _ := runCmd(t, "train", "--data", evalCorpus, "--min-docs", "1", "--seed", "7", "--out", "-")
	if code != 0 || out != string(ab) {
		t.Error("--out - does not print the same model")
	}
}

func TestTrainRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte("{\"id\":\"a\",\"text\":\"hi\",\"label\":\"spam\"}\n{\"id\":\"b\",\"text\":\"yo\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"without --out it prints usage", []string{"train", "--data", evalCorpus}, 2, "Usage: fraudwatch train"},
		{"without --data it prints usage", []string{"train", "--out", filepath.Join(dir, "m.json")}, 2, "Usage"},
		{"a row without a label stops training at its line", []string{"train", "--data", bad, "--out", filepath.Join(dir, "m.json")}, 1, "bad.jsonl:2:"},
		{"an unknown algorithm is named", []string{"train", "--data", evalCorpus, "--algorithm", "svm", "--out", filepath.Join(dir, "m.json")}, 1, `algorithm "svm"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCmd(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d (want %d), stderr:\n%s\nwant it to contain %q", code, tc.code, stderr, tc.stderr)
			}
		})
	}
}

func TestScoreExplainShowsRulesModelAndSeverity(t *testing.T) {
	code, out, stderr := runCmd(t, "score", "--explain", "--rules", evalRules, "--model", evalModel, evalCorpus)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	blocks := strings.Split(strings.TrimSpace(out), "\n\n")
	if len(blocks) != 12 {
		t.Fatalf("%d explanations for 12 events:\n%s", len(blocks), out)
	}
	m, err := readModelFile(evalModel)
	if err != nil {
		t.Fatal(err)
	}
	var code04 string
	for _, b := range blocks {
		if strings.HasPrefix(b, "== t-04") {
			code04 = b
		}
	}
	for _, want := range []string{
		"from +7916***0001",       // masked sender
		"score 7 → high, FLAGGED", // final score and severity
		"+5       test.code [credential_request] Asks for a code.", // rule, weight, description
		`evidence: "`, // and its evidence
		"text model " + m.Version() + ": model_score 0.", // model probability
		"top features: ", // and what moved it
	} {
		if !strings.Contains(code04, want) {
			t.Errorf("explanation of t-04 lacks %q:\n%s", want, code04)
		}
	}
	if strings.Contains(out, "+79161230001") {
		t.Error("the explanation shows a raw phone number")
	}
}
