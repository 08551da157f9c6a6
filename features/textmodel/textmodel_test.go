package textmodel

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
)

// toyCorpus is a small labelled corpus where "prize"/"claim" mark spam
// and "lunch"/"meeting" mark ham, with noise words on both sides.
func toyCorpus() []Example {
	var ex []Example
	spam := [][]string{{"you", "won", "a", "prize"}, {"claim", "your", "prize", "now"}, {"prize", "claim", "call", "#"}, {"free", "prize", "claim"}}
	ham := [][]string{{"see", "you", "at", "lunch"}, {"the", "meeting", "is", "at", "#"}, {"lunch", "now", "?"}, {"call", "me", "after", "the", "meeting"}}
	for i := 0; i < 10; i++ {
		for _, s := range spam {
			ex = append(ex, Example{Doc: Doc{Tokens: s, Marks: []string{"_url"}}, Positive: true})
		}
		for _, h := range ham {
			ex = append(ex, Example{Doc: Doc{Tokens: h}})
		}
	}
	return ex
}

var toyFiles = []TrainingFile{{Name: "toy.jsonl", SHA256: "ab12", Rows: map[string]int{"ham": 40, "spam": 40}}}

func modelBytes(t *testing.T, m *Model) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := m.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestTrainingIsDeterministicForASeed(t *testing.T) {
	for _, algo := range []string{LogReg, NaiveBayes} {
		t.Run(algo, func(t *testing.T) {
			p := DefaultParams()
			p.Algorithm = algo
			a, err := Train(toyCorpus(), toyFiles, p)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Train(toyCorpus(), toyFiles, p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(modelBytes(t, a), modelBytes(t, b)) {
				t.Fatal("two trainings on the same data and seed differ")
			}
			if algo == LogReg {
				p.Seed = 99
				c, err := Train(toyCorpus(), toyFiles, p)
				if err != nil {
					t.Fatal(err)
				}
				if c.Version() == a.Version() {
					t.Error("another seed gave the very same model: the seed is not used")
				}
			}
		})
	}
}

func TestModelSeparatesAndExplains(t *testing.T) {
	for _, algo := range []string{LogReg, NaiveBayes} {
		t.Run(algo, func(t *testing.T) {
			p := DefaultParams()
			p.Algorithm = algo
			m, err := Train(toyCorpus(), toyFiles, p)
			if err != nil {
				t.Fatal(err)
			}
			spam := Doc{Tokens: []string{"claim", "your", "prize"}, Marks: []string{"_url"}}
			ham := Doc{Tokens: []string{"lunch", "meeting"}}
			ps, ph := m.Probability(spam), m.Probability(ham)
			if !(ps > 0.8 && ps < 1 && ph < 0.2 && ph > 0) {
				t.Errorf("P(spam doc) = %v, P(ham doc) = %v; want > 0.8 and < 0.2, strictly inside (0, 1)", ps, ph)
			}
			e := m.Explain(spam, 3)
			if math.Abs(e.Probability-ps) > 1e-12 {
				t.Errorf("Explain gives %v, Probability %v", e.Probability, ps)
			}
			if len(e.Top) != 3 {
				t.Fatalf("top = %v, want 3 features", e.Top)
			}
			var sum float64
			for _, c := range m.Explain(spam, 100).Top {
				sum += c.Weight
			}
			if math.Abs(e.Bias+sum-e.LogOdds) > 1e-9 {
				t.Errorf("bias %v + contributions %v != log-odds %v", e.Bias, sum, e.LogOdds)
			}
			top := m.TopPositive(spam, 2)
			if len(top) == 0 || !strings.Contains("claim prize claim your your prize _url", top[0]) {
				t.Errorf("top positive features = %v, want claim/prize/_url first", top)
			}
		})
	}
}

func TestRepeatedWordsCountOnce(t *testing.T) {
	m, err := Train(toyCorpus(), toyFiles, DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	once := m.Probability(Doc{Tokens: []string{"prize"}})
	many := m.Probability(Doc{Tokens: []string{"prize", "x", "prize", "y", "prize"}})
	if once != many {
		t.Errorf("P(prize) = %v but P(prize ×3 with unknown words) = %v: features are binary", once, many)
	}
}

func TestWrittenModelReadsBackIdentically(t *testing.T) {
	m, err := Train(toyCorpus(), toyFiles, DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	b := modelBytes(t, m)
	r, err := Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(modelBytes(t, r), b) {
		t.Error("write → read → write changed the bytes")
	}
	if name, ok := r.TrainedOn("ab12"); !ok || name != "toy.jsonl" {
		t.Errorf("TrainedOn(ab12) = %q, %v", name, ok)
	}
	if _, ok := r.TrainedOn("ffff"); ok {
		t.Error("TrainedOn reports a file that was not trained on")
	}
	// No JSON string may start with "/" (an absolute path of the
	// training machine), and no key may name a time or date.
	for _, bad := range []string{"/", "time", "date"} {
		if bytes.Contains(b, []byte(`"`+bad)) {
			t.Errorf("the model file contains a string starting with %q: no paths or timestamps", bad)
		}
	}
}

func TestReadRejectsBrokenModels(t *testing.T) {
	m, err := Train(toyCorpus(), toyFiles, DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	good := string(modelBytes(t, m))
	edited := m.file
	edited.Bias += 1
	eb, err := encode(edited)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, file, want string }{
		{"a weight edited by hand", string(eb), "does not match its content"},
		{"another format version", strings.Replace(good, `"format": 1`, `"format": 2`, 1), "format 2"},
		{"an unknown key", strings.Replace(good, `"format": 1,`, `"format": 1, "extra": 1,`, 1), "unknown field"},
		{"not JSON", "weights: {}", "decoding"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tc.file))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestTrainRefusesOneClassData(t *testing.T) {
	ex := toyCorpus()
	var ham []Example
	for _, e := range ex {
		if !e.Positive {
			ham = append(ham, e)
		}
	}
	if _, err := Train(ham, nil, DefaultParams()); err == nil || !strings.Contains(err.Error(), "need both") {
		t.Errorf("error %v, want one asking for both classes", err)
	}
	p := DefaultParams()
	p.Algorithm = "svm"
	if _, err := Train(ex, nil, p); err == nil || !strings.Contains(err.Error(), "svm") {
		t.Errorf("error %v, want one naming the unknown algorithm", err)
	}
}

func TestFoldsAreBalancedAndDeterministic(t *testing.T) {
	a, b := Folds(103, 5, 7), Folds(103, 5, 7)
	sizes := map[int]int{}
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("same seed, different folds")
		}
		sizes[a[i]]++
	}
	for k := 0; k < 5; k++ {
		if sizes[k] < 20 || sizes[k] > 21 {
			t.Errorf("fold %d has %d rows, want 20 or 21", k, sizes[k])
		}
	}
	if fmt.Sprint(Folds(103, 5, 8)) == fmt.Sprint(a) {
		t.Error("another seed gave the same folds")
	}
}

func TestDefaultModelLoads(t *testing.T) {
	m, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if m.Len() < 1000 || m.Len() > 50000 {
		t.Errorf("built-in model has %d features; want a real but small model", m.Len())
	}
	for _, f := range m.Training().Files {
		if strings.Contains(f.Name, "telegram") || strings.Contains(f.Name, "/") {
			t.Errorf("built-in model trained on %q: only licence-compatible files, by base name", f.Name)
		}
	}
}

func TestDetExpAgreesWithMathExp(t *testing.T) {
	for _, x := range []float64{-745, -700, -50, -10, -1.5, -0.3466, -1e-9, 0, 1e-9, 0.3466, 0.5, 1, 2.5, 10, 50, 700} {
		got, want := detExp(x), math.Exp(x)
		if want == 0 && got == 0 {
			continue
		}
		if rel := math.Abs(got-want) / want; rel > 1e-14 {
			t.Errorf("detExp(%v) = %v, math.Exp = %v (relative error %g)", x, got, want, rel)
		}
	}
	if !math.IsInf(detExp(1000), 1) || detExp(-1000) != 0 || !math.IsNaN(detExp(math.NaN())) {
		t.Error("detExp does not saturate like math.Exp")
	}
}

// BenchmarkProbability scores a typical message with the built-in model.
func BenchmarkProbability(b *testing.B) {
	m, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	d := Doc{Tokens: strings.Fields("urgent you have won a # prize to claim call # now or visit our site"), Marks: []string{"_url", "_phone"}}
	b.ReportAllocs()
	for b.Loop() {
		_ = m.Probability(d)
	}
}
