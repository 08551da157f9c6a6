// Package textmodel is fraudwatch's learned text model: a linear model over
// the normalised word stems of a message (unigrams and bigrams) and a few
// marks (a link, a phone number, a card number in the text), trained by
// logistic regression or naive Bayes and stored as a versioned JSON file.
//
// The model answers one question, "how much does this text read like the
// spam and scam it was trained on", as a calibrated probability. It knows
// words, not mechanics, and words do not carry over between corpora, so
// the detector treats it as one signal its rules weigh beside lexicons,
// links and the sender, never as the verdict.
//
// The package is pure: it reads and writes models through io.Reader and
// io.Writer and never touches files. Tokens come from the features
// package, so homoglyph, invisible-character and transliteration folding
// and stemming are those of the rules' lexicons.
package textmodel

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
)

// FormatVersion is the version of the JSON layout this package reads and
// writes. A file of another format version is rejected.
const FormatVersion = 1

// Doc is what the model sees of one message.
type Doc struct {
	// Tokens are the normalised stems in text order. They give unigram
	// features and bigram features ("a b") of neighbours.
	Tokens []string
	// Marks are unigram-only features for things the text contains but
	// that are not words ("_url", "_phone"); they take part in no bigram.
	Marks []string
}

// File is the JSON form of a model. Weights is a map, which encoding/json
// writes with sorted keys, so the same model always gives the same bytes.
type File struct {
	Format  int    `json:"format"`
	Version string `json:"version"` // "tm-" + 12 hex digits of the SHA-256 of the file with version ""
	// Algorithm is "logreg" or "naive_bayes"; both are stored as a bias
	// plus one weight per feature present in the message.
	Algorithm string   `json:"algorithm"`
	Features  string   `json:"features"` // what the features are, for the reader
	Training  Training `json:"training"`
	Bias      float64  `json:"bias"`
	// Weights maps a feature to its log-odds contribution when present.
	// Bigrams are "stem1 stem2"; marks begin with "_".
	Weights map[string]float64 `json:"weights"`
}

// Training records how the model was made, without timestamps or paths,
// so retraining on the same data gives the same file.
type Training struct {
	Files  []TrainingFile `json:"files"`
	Params Params         `json:"params"`
	// Docs and Positives count the training rows used.
	Docs      int `json:"docs"`
	Positives int `json:"positives"`
	// Vocabulary is the number of features before pruning by weight.
	Vocabulary int `json:"vocabulary"`
}

// TrainingFile identifies one training file by base name and content.
type TrainingFile struct {
	Name   string         `json:"name"`
	SHA256 string         `json:"sha256"`
	Rows   map[string]int `json:"rows"` // per label: ham, spam, scam
}

// Params are the training settings.
type Params struct {
	Algorithm string  `json:"algorithm"`
	Seed      uint64  `json:"seed"`
	MinDocs   int     `json:"min_docs"`   // a feature must occur in this many training rows
	Epochs    int     `json:"epochs"`     // logreg: passes over the data
	L2        float64 `json:"l2"`         // logreg: L2 penalty per row
	Rate      float64 `json:"rate"`       // logreg: AdaGrad base learning rate
	MinWeight float64 `json:"min_weight"` // features with |weight| below it are dropped
	Smoothing float64 `json:"smoothing"`  // naive Bayes: additive smoothing
}

// Model is a loaded text model. It is immutable and safe for concurrent use.
type Model struct {
	file    File
	index   map[string]int32
	weights []float64
	names   []string   // by id: the reverse of index
	pairs   *pairIndex // ids.go; nil: bigrams by their strings
}

// Version is the model's content hash id, carried by alerts.
func (m *Model) Version() string { return m.file.Version }

// Algorithm is the training algorithm, LogReg or NaiveBayes.
func (m *Model) Algorithm() string { return m.file.Algorithm }

// Training returns the training summary (the caller must not modify it).
func (m *Model) Training() Training { return m.file.Training }

// TrainedOn reports whether a file with this SHA-256 (hex) was part of the
// training data, and its recorded name.
func (m *Model) TrainedOn(sha string) (string, bool) {
	for _, f := range m.file.Training.Files {
		if f.SHA256 == sha {
			return f.Name, true
		}
	}
	return "", false
}

// Len is the number of features with a weight.
func (m *Model) Len() int { return len(m.weights) }

//go:embed default.json
var defaultModel []byte

// DefaultJSON returns the model built into the binary (a copy).
func DefaultJSON() []byte { return append([]byte(nil), defaultModel...) }

// Default parses the model built into the binary.
func Default() (*Model, error) {
	m, err := Read(bytes.NewReader(defaultModel))
	if err != nil {
		return nil, fmt.Errorf("built-in text model: %w", err)
	}
	return m, nil
}

// Read decodes and checks a model file: known format version, finite
// weights, and a version id that matches the content.
func Read(r io.Reader) (*Model, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decoding text model: %w", err)
	}
	if f.Format != FormatVersion {
		return nil, fmt.Errorf("text model format %d: this fraudwatch reads format %d (retrain with `fraudwatch train`)", f.Format, FormatVersion)
	}
	if math.IsNaN(f.Bias) || math.IsInf(f.Bias, 0) {
		return nil, errors.New("text model: bias is not a finite number")
	}
	for k, w := range f.Weights {
		if math.IsNaN(w) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("text model: weight of %q is not a finite number", k)
		}
	}
	want, err := contentVersion(f)
	if err != nil {
		return nil, err
	}
	if f.Version != want {
		return nil, fmt.Errorf("text model version %q does not match its content (%s): the file was edited by hand; retrain it", f.Version, want)
	}
	return newModel(f), nil
}

func newModel(f File) *Model {
	m := &Model{file: f, index: make(map[string]int32, len(f.Weights))}
	keys := make([]string, 0, len(f.Weights))
	for k := range f.Weights {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	m.weights = make([]float64, len(keys))
	for i, k := range keys {
		m.index[k] = int32(i)
		m.weights[i] = f.Weights[k]
	}
	m.names = keys
	m.pairs = newPairIndex(m.index)
	return m
}

// Write encodes the model as indented JSON with a final newline. The same
// model always gives the same bytes.
func (m *Model) Write(w io.Writer) error {
	b, err := encode(m.file)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func encode(f File) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("encoding text model: %w", err)
	}
	return buf.Bytes(), nil
}

// contentVersion is the version id of f: a hash of its encoding with the
// version left empty.
func contentVersion(f File) (string, error) {
	f.Version = ""
	b, err := encode(f)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return "tm-" + hex.EncodeToString(sum[:6]), nil
}

// Probability returns P(spam or scam | doc), from 0 to 1. A doc with no
// known feature gets the prior the bias encodes.
func (m *Model) Probability(d Doc) float64 {
	// Scratch on the stack: a typical message needs no allocation.
	var ids [128]int32
	var buf [96]byte
	return sigmoid(m.logOdds(m.featureIDs(d, ids[:0], buf[:0])))
}

// logOdds sums the bias and the weights of the features ids.
func (m *Model) logOdds(ids []int32) float64 {
	z := m.file.Bias
	for _, id := range ids {
		z += m.weights[id]
	}
	return z
}

// featureIDs appends the distinct known feature ids of d to ids, sorted.
// buf is scratch for bigram keys.
func (m *Model) featureIDs(d Doc, ids []int32, buf []byte) []int32 {
	for i, t := range d.Tokens {
		if id, ok := m.index[t]; ok {
			ids = append(ids, id)
		}
		if i > 0 {
			buf = append(buf[:0], d.Tokens[i-1]...)
			buf = append(buf, ' ')
			buf = append(buf, t...)
			if id, ok := m.index[string(buf)]; ok { // no allocation: the conversion is only a map key
				ids = append(ids, id)
			}
		}
	}
	for _, t := range d.Marks {
		if id, ok := m.index[t]; ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// Contribution is one feature's share of a prediction, in log-odds.
type Contribution struct {
	Feature string  `json:"feature"`
	Weight  float64 `json:"weight"`
}

// Explanation breaks a prediction down.
type Explanation struct {
	Probability float64        `json:"probability"`
	Bias        float64        `json:"bias"`
	LogOdds     float64        `json:"log_odds"`
	Top         []Contribution `json:"top"` // by |weight|, largest first
}

// Explain returns the probability of d and the n features that moved it
// most (in either direction).
func (m *Model) Explain(d Doc, n int) Explanation {
	ids := m.featureIDs(d, nil, nil)
	z := m.logOdds(ids)
	keys := m.keysOf(ids)
	top := make([]Contribution, len(ids))
	for i, id := range ids {
		top[i] = Contribution{Feature: keys[i], Weight: m.weights[id]}
	}
	sort.SliceStable(top, func(i, j int) bool {
		a, b := math.Abs(top[i].Weight), math.Abs(top[j].Weight)
		if a != b {
			return a > b
		}
		return top[i].Feature < top[j].Feature
	})
	if len(top) > n {
		top = top[:n]
	}
	return Explanation{Probability: sigmoid(z), Bias: m.file.Bias, LogOdds: z, Top: top}
}

// TopPositive returns up to n features of d that pushed towards spam,
// strongest first (ties in feature order), as short evidence for a rule.
// It allocates only the result.
func (m *Model) TopPositive(d Doc, n int) []string {
	var idArr [128]int32
	var buf [96]byte
	return m.topPositive(m.featureIDs(d, idArr[:0], buf[:0]), n)
}

// topPositive is TopPositive of the features ids.
func (m *Model) topPositive(ids []int32, n int) []string {
	var bestArr [8]int32
	best := bestArr[:0]
	if n > len(bestArr) {
		n = len(bestArr)
	}
	for _, id := range ids { // insertion into the n best, strongest first
		w := m.weights[id]
		if w <= 0 || len(best) == n && w <= m.weights[best[n-1]] {
			continue
		}
		if len(best) < n {
			best = append(best, id)
		}
		k := len(best) - 1
		for ; k > 0 && m.weights[best[k-1]] < w; k-- {
			best[k] = best[k-1]
		}
		best[k] = id
	}
	out := make([]string, len(best))
	for i, id := range best {
		out[i] = m.names[id]
	}
	return out
}

// keysOf maps ids back to feature names. TopPositive runs for every
// event the model finds likely spam, so this is a slice lookup, not a
// scan of the index.
func (m *Model) keysOf(ids []int32) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = m.names[id]
	}
	return out
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// Describe is a one-line summary for logs and eval output.
func (m *Model) Describe() string {
	var names []string
	for _, f := range m.file.Training.Files {
		names = append(names, f.Name)
	}
	return fmt.Sprintf("%s (%s, %d features, trained on %s)", m.file.Version, m.file.Algorithm, len(m.weights), strings.Join(names, ", "))
}
