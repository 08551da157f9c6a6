package textmodel

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// judgeDocs are docs of the model's own words (as unigrams and as the
// parts of its bigrams), words it does not know, and the odd tokens a
// public Doc may hold: empty, with spaces.
func judgeDocs(m *Model, n int) []Doc {
	var vocab []string
	for _, k := range m.names {
		vocab = append(vocab, strings.Fields(k)...)
	}
	vocab = append(vocab, "", " ", "zzz", "a b", "_url")
	marks := []string{"_url", "_phone", "_card", "_none"}
	r := rand.New(rand.NewPCG(1, 2))
	docs := make([]Doc, n)
	for i := range docs {
		for range r.IntN(40) {
			if k := m.names[r.IntN(len(m.names))]; r.IntN(2) == 0 && strings.Count(k, " ") == 1 {
				docs[i].Tokens = append(docs[i].Tokens, strings.Fields(k)...) // a bigram the model knows
				continue
			}
			docs[i].Tokens = append(docs[i].Tokens, vocab[r.IntN(len(vocab))])
		}
		for range r.IntN(3) {
			docs[i].Marks = append(docs[i].Marks, marks[r.IntN(len(marks))])
		}
	}
	return docs
}

func TestJudgeIsProbabilityAndTopPositive(t *testing.T) {
	def, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if def.pairs == nil {
		t.Fatal("the built-in model has no pair index: Judge would test only the string path")
	}
	// A feature of two spaces has no unique split: bigrams go by strings.
	odd := newModel(File{Bias: -0.5, Weights: map[string]float64{"a": 1, "b": -1, "a b": 2, "a b c": 3, "b c": 0.5, "_url": 1}})
	if odd.pairs != nil {
		t.Fatal("a model with a two-space feature got a pair index")
	}
	for _, tt := range []struct {
		name string
		m    *Model
	}{{"the built-in model, by pairs of ids", def}, {"a model with a two-space feature, by strings", odd}} {
		t.Run(tt.name, func(t *testing.T) {
			for _, d := range judgeDocs(tt.m, 2000) {
				ids := make([]TokenID, len(d.Tokens))
				for i, tok := range d.Tokens {
					ids[i] = tt.m.TokenIDOf(tok)
				}
				wantP, wantTop := tt.m.Probability(d), tt.m.TopPositive(d, 4)
				for _, given := range [][]TokenID{nil, ids} {
					p, top := tt.m.Judge(d, given, 0, 4)
					if p != wantP || !slices.Equal(top, wantTop) {
						t.Fatalf("Judge(%q) = %v %v, want %v %v", d, p, top, wantP, wantTop)
					}
					if p, top := tt.m.Judge(d, given, 2, 4); p != wantP || top != nil {
						t.Fatalf("Judge(%q) above every probability = %v %v, want %v and no top", d, p, top, wantP)
					}
				}
			}
		})
	}
}
