package textmodel

import (
	"slices"
	"strings"
)

// Scoring a message looks every token up twice, as a unigram and inside
// a bigram key built by concatenation, and the evidence for a likely spam
// repeats it all. Judge does it once, and a caller that sees the same
// tokens again and again (the features package caches them with their
// stems) can look each token up once for good with TokenIDOf: bigrams are
// then found by a pair of integer ids instead of a built string.

// TokenID is what a model knows of one token: the id of its unigram
// feature and its id as a part of bigram features, each -1 when none.
// It is valid for the model that gave it only.
type TokenID struct {
	Unigram, Part int32
}

// pairIndex maps the parts of the bigram features to ids and each bigram
// to its feature id by its parts. A model with a feature of more than one
// space has none: such a key has no unique split, so its bigrams are
// looked up as strings.
type pairIndex struct {
	parts map[string]int32
	pairs map[uint64]int32
}

func newPairIndex(index map[string]int32) *pairIndex {
	p := &pairIndex{parts: make(map[string]int32), pairs: make(map[uint64]int32)}
	for k, id := range index {
		sp := strings.IndexByte(k, ' ')
		if sp < 0 {
			continue
		}
		if strings.IndexByte(k[sp+1:], ' ') >= 0 {
			return nil
		}
		p.pairs[pairKey(p.part(k[:sp]), p.part(k[sp+1:]))] = id
	}
	return p
}

func (p *pairIndex) part(s string) int32 {
	if id, ok := p.parts[s]; ok {
		return id
	}
	id := int32(len(p.parts))
	p.parts[s] = id
	return id
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// TokenIDOf returns what m knows of tok.
func (m *Model) TokenIDOf(tok string) TokenID {
	id := TokenID{Unigram: -1, Part: -1}
	if u, ok := m.index[tok]; ok {
		id.Unigram = u
	}
	if m.pairs != nil {
		if p, ok := m.pairs.parts[tok]; ok {
			id.Part = p
		}
	}
	return id
}

// Judge returns Probability(d) and, when that is at least topFrom,
// TopPositive(d, n); d's features are found once for both. ids is nil or
// holds TokenIDOf(d.Tokens[i]) for every token of d, which spares looking
// them up again.
func (m *Model) Judge(d Doc, ids []TokenID, topFrom float64, n int) (float64, []string) {
	var arr [128]int32
	var fids []int32
	if m.pairs == nil {
		var buf [96]byte
		fids = m.featureIDs(d, arr[:0], buf[:0])
	} else {
		fids = m.featureIDsByPair(d, ids, arr[:0])
	}
	p := sigmoid(m.logOdds(fids))
	if p < topFrom {
		return p, nil
	}
	return p, m.topPositive(fids, n)
}

// featureIDsByPair is featureIDs through the pair index.
func (m *Model) featureIDsByPair(d Doc, ids []TokenID, out []int32) []int32 {
	prev := TokenID{Unigram: -1, Part: -1}
	for i, t := range d.Tokens {
		var id TokenID
		if ids != nil {
			id = ids[i]
		} else {
			id = m.TokenIDOf(t)
		}
		if id.Unigram >= 0 {
			out = append(out, id.Unigram)
		}
		if i > 0 && prev.Part >= 0 && id.Part >= 0 {
			if f, ok := m.pairs.pairs[pairKey(prev.Part, id.Part)]; ok {
				out = append(out, f)
			}
		}
		prev = id
	}
	for _, t := range d.Marks {
		if id, ok := m.index[t]; ok {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
