package textmodel

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// The algorithms Train knows.
const (
	LogReg     = "logreg"
	NaiveBayes = "naive_bayes"
)

// featureDescription is written into every model file.
const featureDescription = "distinct unigrams and bigrams of normalised stems (features package: case, ё, invisible characters, homoglyphs, leetspeak, Snowball stems; no transliteration; numbers as #) plus marks _url, _phone, _card; binary presence"

// DefaultParams are the settings the shipped model is trained with.
func DefaultParams() Params {
	return Params{Algorithm: LogReg, Seed: 1, MinDocs: 3, Epochs: 12, L2: 1e-3, Rate: 0.2, MinWeight: 0.2, Smoothing: 1}
}

// Validate reports a setting Train cannot use.
func (p Params) Validate() error {
	var errs []error
	if p.Algorithm != LogReg && p.Algorithm != NaiveBayes {
		errs = append(errs, fmt.Errorf("algorithm %q: want %s or %s", p.Algorithm, LogReg, NaiveBayes))
	}
	if p.MinDocs < 1 {
		errs = append(errs, fmt.Errorf("min_docs %d: want at least 1", p.MinDocs))
	}
	if p.Algorithm == LogReg && (p.Epochs < 1 || !(p.Rate > 0) || p.L2 < 0) {
		errs = append(errs, errors.New("logreg needs epochs ≥ 1, rate > 0 and l2 ≥ 0"))
	}
	if p.Algorithm == NaiveBayes && !(p.Smoothing > 0) {
		errs = append(errs, errors.New("naive Bayes needs smoothing > 0"))
	}
	if p.MinWeight < 0 || math.IsNaN(p.MinWeight) {
		errs = append(errs, errors.New("min_weight must be ≥ 0"))
	}
	return errors.Join(errs...)
}

// Example is one training row.
type Example struct {
	Doc      Doc
	Positive bool // spam or scam
}

// Train learns a model from examples. The result depends only on the
// examples (in order), files and p: the same inputs give the same bytes.
// files is recorded in the training summary as given.
func Train(examples []Example, files []TrainingFile, p Params) (*Model, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("training parameters: %w", err)
	}
	pos := 0
	for _, ex := range examples {
		if ex.Positive {
			pos++
		}
	}
	if pos == 0 || pos == len(examples) {
		return nil, fmt.Errorf("training data: %d rows, %d positive: need both positive (spam, scam) and negative (ham) rows", len(examples), pos)
	}
	vocab, docs := vectorize(examples, p.MinDocs)
	var bias float64
	var w []float64
	switch p.Algorithm {
	case LogReg:
		bias, w = trainLogReg(docs, examples, len(vocab), p)
	case NaiveBayes:
		bias, w = trainNaiveBayes(docs, examples, len(vocab), p.Smoothing)
	}
	f := File{
		Format:    FormatVersion,
		Algorithm: p.Algorithm,
		Features:  featureDescription,
		Training: Training{
			Files: files, Params: p, Docs: len(examples), Positives: pos, Vocabulary: len(vocab),
		},
		Bias:    round4(bias),
		Weights: make(map[string]float64),
	}
	for i, k := range vocab {
		if r := round4(w[i]); math.Abs(r) >= p.MinWeight && r != 0 {
			f.Weights[k] = r
		}
	}
	v, err := contentVersion(f)
	if err != nil {
		return nil, err
	}
	f.Version = v
	return newModel(f), nil
}

// round4 keeps four decimals: smaller files, and last-bit differences of
// floating point between machines do not reach the bytes.
func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

// features lists the distinct feature strings of d, unsorted.
func features(d Doc) []string {
	out := make([]string, 0, 2*len(d.Tokens)+len(d.Marks))
	for i, t := range d.Tokens {
		out = append(out, t)
		if i > 0 {
			out = append(out, d.Tokens[i-1]+" "+t)
		}
	}
	out = append(out, d.Marks...)
	slices.Sort(out)
	return slices.Compact(out)
}

// vectorize keeps the features found in at least minDocs rows, sorted,
// and turns each row into its sorted feature ids.
func vectorize(examples []Example, minDocs int) ([]string, [][]int32) {
	df := map[string]int{}
	all := make([][]string, len(examples))
	for i, ex := range examples {
		all[i] = features(ex.Doc)
		for _, f := range all[i] {
			df[f]++
		}
	}
	var vocab []string
	for f, n := range df {
		if n >= minDocs {
			vocab = append(vocab, f)
		}
	}
	sort.Strings(vocab)
	index := make(map[string]int32, len(vocab))
	for i, f := range vocab {
		index[f] = int32(i)
	}
	docs := make([][]int32, len(examples))
	for i, fs := range all {
		for _, f := range fs {
			if id, ok := index[f]; ok {
				docs[i] = append(docs[i], id)
			}
		}
	}
	return vocab, docs
}

// trainLogReg fits L2-regularised logistic regression by AdaGrad SGD, the
// rows visited in an order drawn from the seed each epoch. The arithmetic
// is the same on every machine, so `train` reproduces a model byte for
// byte: explicit float64 conversions keep compilers from fusing
// multiply-adds, and the sigmoid uses detExp rather than math.Exp, whose
// assembly uses FMA on some CPUs and not others.
func trainLogReg(docs [][]int32, examples []Example, n int, p Params) (float64, []float64) {
	const eps = 1e-8
	w := make([]float64, n)
	g2 := make([]float64, n)
	var b, gb float64
	order := make([]int, len(docs))
	for i := range order {
		order[i] = i
	}
	for epoch := 0; epoch < p.Epochs; epoch++ {
		rng := rand.New(rand.NewPCG(p.Seed, uint64(epoch)))
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			z := b
			for _, id := range docs[i] {
				z += w[id]
			}
			y := 0.0
			if examples[i].Positive {
				y = 1
			}
			g := detSigmoid(z) - y
			gb += float64(g * g)
			b -= float64(p.Rate*g) / math.Sqrt(gb+eps)
			for _, id := range docs[i] {
				gi := g + float64(p.L2*w[id])
				g2[id] += float64(gi * gi)
				w[id] -= float64(p.Rate*gi) / math.Sqrt(g2[id]+eps)
			}
		}
	}
	return b, w
}

// detSigmoid is the logistic function on detExp.
func detSigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + detExp(-z))
	}
	e := detExp(z)
	return e / (1 + e)
}

// detExp is e^x to about 1e-16 relative error, computed only with
// operations that IEEE 754 rounds the same everywhere (every product is
// rounded by a conversion before it is added, so no fused multiply-add).
func detExp(x float64) float64 {
	const (
		ln2Hi  = 6.93147180369123816490e-01
		ln2Lo  = 1.90821492927058770002e-10
		invLn2 = 1.44269504088896338700e+00
	)
	switch {
	case x != x:
		return x
	case x > 709.78:
		return math.Inf(1)
	case x < -745.13:
		return 0
	}
	k := math.Floor(float64(x*invLn2) + 0.5)
	r := x - float64(k*ln2Hi)
	r -= float64(k * ln2Lo) // |r| ≤ ln2/2
	// Taylor series in Horner form: 1 + r + r²/2! + … + r¹³/13!.
	p := 1.0 / 6227020800
	for i := 12; i >= 1; i-- {
		p = float64(p*r) + invFact[i]
	}
	p = float64(p*r) + 1
	return math.Ldexp(p, int(k))
}

// invFact[i] = 1/i!.
var invFact = [...]float64{1, 1, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320,
	1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600}

// trainNaiveBayes computes multinomial naive Bayes over binary features
// as a linear model: each feature's weight is its log-likelihood ratio,
// the bias the log prior odds. (Absent features do not count, as in
// multinomial NB.)
func trainNaiveBayes(docs [][]int32, examples []Example, n int, alpha float64) (float64, []float64) {
	cp := make([]float64, n)
	cn := make([]float64, n)
	var tp, tn, np, nn float64
	for i, d := range docs {
		c, t := cn, &tn
		if examples[i].Positive {
			c, t = cp, &tp
			np++
		} else {
			nn++
		}
		for _, id := range d {
			c[id]++
			*t++
		}
	}
	w := make([]float64, n)
	v := float64(n)
	for i := range w {
		w[i] = math.Log((cp[i]+alpha)/(tp+float64(alpha*v))) - math.Log((cn[i]+alpha)/(tn+float64(alpha*v)))
	}
	return math.Log(np / nn), w
}

// Folds assigns n rows to k folds (0..k-1) of equal size (±1), in an order
// drawn from seed: the same n, k and seed give the same folds.
func Folds(n, k int, seed uint64) []int {
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	rng.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	out := make([]int, n)
	for pos, i := range perm {
		out[i] = pos % k
	}
	return out
}
