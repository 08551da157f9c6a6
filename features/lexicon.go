package features

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed lexicons/default.yaml
var defaultLexicons []byte

// DefaultLexicons returns a copy of the embedded lexicon file, the one
// NewExtractor uses when Config gives none. It is the starting point for
// an analyst's own file.
func DefaultLexicons() []byte { return bytes.Clone(defaultLexicons) }

// cueNames lists the lexicon cues in Set field order. Each has a Lex*
// field in Set and an evidence key "lex_<name>". nameClaims is extra: it
// is matched against display names only (see NameImitatesBank).
var cueNames = [...]string{
	"lottery", "prize_fee", "purchase", "delivery", "credential", "card_request", "remote_access",
	"bank", "security_service", "central_bank", "police", "manager", "safe_account", "transfer",
	"investment", "mule", "job_offer", "spam", "urgency", "secrecy", "warning", "victim_report",
	"contact_dm", "name_claims",
}

const (
	cueBank          = 7
	cueSecurity      = 8
	cueCentralBank   = 9
	cuePolice        = 10
	cueNameClaims    = 23
	numCues          = len(cueNames)
	numTextCues      = numCues - 1
	maxPhraseStems   = 16
	maxLexiconPhrase = 20000
)

// lexiconFile is the YAML layout of a lexicon file:
//
//	cues:
//	  lottery:
//	    ru: ["вы выиграли", "ваш номер выиграл", ...]
//	    en: ["you have won", "claim your prize", ...]
//
// Every phrase is normalised like message text (case, ё, homoglyphs,
// invisible characters), tokenized and stemmed (Russian for Cyrillic
// words, English for Latin ones) at load time. A phrase matches contiguous
// tokens of a message; "*" in a phrase skips up to three tokens ("код *
// смс" matches "код из пришедшего смс"); "#" matches any number ("от #
// в день"). A phrase in Latin letters also matches its Russian reading
// through transliteration, and a Latin-letter message matches Russian
// phrases the same way ("vy vyigrali" → "вы выиграли").
type lexiconFile struct {
	Cues map[string]lexiconCue `yaml:"cues"`
}

type lexiconCue struct {
	RU []string `yaml:"ru"`
	EN []string `yaml:"en"`
}

// element is one position of a compiled phrase.
type element struct {
	stem  string // "*" gap, "#" number, or a stem
	loose string // loose(stem) for matching transliterated tokens
	// sid and lid number stem and loose (-1: loose is ""), once the
	// lexicon is final (assignIDs): tokens that carry the same numbers
	// (wordInfo) are compared without comparing strings.
	sid, lid int32
}

type phrase struct {
	cue   int
	elems []element
}

// lexicon is the compiled form: phrases indexed by their first stem.
type lexicon struct {
	phrases []phrase
	byFirst map[string][]int32 // first element's stem → phrases
	byLoose map[string][]int32 // first element's loose stem → phrases (Cyrillic phrases only)
	counts  [numCues]int       // phrases per cue, for reporting
	sids    map[string]int32   // the stems of all elements, numbered (assignIDs)
	lids    map[string]int32   // their non-empty loose forms, numbered
}

// assignIDs numbers the stems and loose stems of every element. It runs
// once no phrase will be added.
func (lx *lexicon) assignIDs() {
	lx.sids, lx.lids = make(map[string]int32), make(map[string]int32)
	number := func(m map[string]int32, s string) int32 {
		id, ok := m[s]
		if !ok {
			id = int32(len(m))
			m[s] = id
		}
		return id
	}
	for i := range lx.phrases {
		for k := range lx.phrases[i].elems {
			e := &lx.phrases[i].elems[k]
			e.sid, e.lid = number(lx.sids, e.stem), -1
			if e.loose != "" {
				e.lid = number(lx.lids, e.loose)
			}
		}
	}
}

// wordIDs sets w.sid and w.lid: the numbers of w's stem and alt among
// the elements', -1 when no element has them.
func (lx *lexicon) wordIDs(w *wordInfo) {
	w.sid, w.lid = -1, -1
	if id, ok := lx.sids[w.stem]; ok {
		w.sid = id
	}
	if w.alt == "" {
		return
	}
	if id, ok := lx.lids[w.alt]; ok {
		w.lid = id
	}
}

// compileLexicon parses and compiles a lexicon file. name is used in
// errors ("lexicons.yaml: cue \"urgency\" ru phrase 3: empty after
// normalisation").
func compileLexicon(name string, data []byte, x *Extractor) (*lexicon, error) {
	var f lexiconFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("lexicon %s: empty file (want a mapping with \"cues\")", name)
		}
		return nil, fmt.Errorf("lexicon %s: %w", name, err)
	}
	if len(f.Cues) == 0 {
		return nil, fmt.Errorf("lexicon %s: no cues (want \"cues:\" with one or more of %s)", name, strings.Join(cueNames[:], ", "))
	}
	cueIndex := make(map[string]int, numCues)
	for i, c := range cueNames {
		cueIndex[c] = i
	}
	names := make([]string, 0, len(f.Cues))
	for n := range f.Cues {
		names = append(names, n)
	}
	sort.Strings(names)
	lx := &lexicon{byFirst: make(map[string][]int32), byLoose: make(map[string][]int32)}
	sc := newScratch()
	for _, cueName := range names {
		ci, ok := cueIndex[cueName]
		if !ok {
			return nil, fmt.Errorf("lexicon %s: unknown cue %q (want one of %s)", name, cueName, strings.Join(cueNames[:], ", "))
		}
		cue := f.Cues[cueName]
		seen := make(map[string]bool)
		for _, lang := range []struct {
			code    string
			phrases []string
		}{{"ru", cue.RU}, {"en", cue.EN}} {
			for pi, text := range lang.phrases {
				where := fmt.Sprintf("lexicon %s: cue %q %s phrase %d (%q)", name, cueName, lang.code, pi+1, text)
				elems, err := x.compilePhrase(text, sc)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", where, err)
				}
				key := phraseKey(elems)
				if seen[key] {
					continue // the same stems as an earlier phrase: count once
				}
				seen[key] = true
				if len(lx.phrases) >= maxLexiconPhrase {
					return nil, fmt.Errorf("%s: more than %d phrases in all", where, maxLexiconPhrase)
				}
				id := int32(len(lx.phrases))
				lx.phrases = append(lx.phrases, phrase{cue: ci, elems: elems})
				lx.counts[ci]++
				first := elems[0]
				lx.byFirst[first.stem] = append(lx.byFirst[first.stem], id)
				if first.loose != "" && first.loose != numberStem {
					lx.byLoose[first.loose] = append(lx.byLoose[first.loose], id)
				}
			}
		}
	}
	return lx, nil
}

func phraseKey(elems []element) string {
	var b strings.Builder
	for i, e := range elems {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(e.stem)
	}
	return b.String()
}

// compilePhrase turns one lexicon phrase into elements, through exactly
// the pipeline message text goes through.
func (x *Extractor) compilePhrase(text string, sc *scratch) ([]element, error) {
	var elems []element
	for _, f := range strings.Fields(text) {
		switch f {
		case gapStem:
			if len(elems) == 0 {
				return nil, errors.New("starts with \"*\" (a gap must be between words)")
			}
			if elems[len(elems)-1].stem == gapStem {
				return nil, errors.New("two gaps in a row")
			}
			elems = append(elems, element{stem: gapStem})
			continue
		case numberStem:
			elems = append(elems, element{stem: numberStem, loose: numberStem})
			continue
		}
		toks := x.textTokens(f, sc)
		for _, t := range toks {
			e := element{stem: t.stem}
			if hasCyrillicRune(t.stem) {
				e.loose = loose(t.stem)
			}
			elems = append(elems, e)
		}
	}
	if len(elems) == 0 {
		return nil, errors.New("empty after normalisation (no letters or digits)")
	}
	if elems[len(elems)-1].stem == gapStem {
		return nil, errors.New("ends with \"*\" (a gap must be between words)")
	}
	words := 0
	for _, e := range elems {
		if e.stem != gapStem && e.stem != numberStem {
			words++
		}
	}
	if words == 0 {
		return nil, errors.New("no words, only numbers (it would match every number)")
	}
	if len(elems) > maxPhraseStems {
		return nil, fmt.Errorf("%d words, more than %d", len(elems), maxPhraseStems)
	}
	return elems, nil
}

func hasCyrillicRune(s string) bool {
	for _, r := range s {
		if isCyrillic(r) {
			return true
		}
	}
	return false
}

// lexHits is what matching found in one message.
type lexHits struct {
	counts   [numCues]int
	translit int
	first    [numCues]span // bytes of the folded text of each cue's first hit
}

// match finds every distinct phrase of the lexicon in toks. seen is
// scratch.
func (lx *lexicon) match(toks []token, h *lexHits, seen []int32) []int32 {
	seen = seen[:0]
	try := func(id int32, i int, viaAlt bool) {
		for _, s := range seen {
			if s == id {
				return
			}
		}
		p := &lx.phrases[id]
		end, usedAlt, ok := matchFrom(p.elems, 0, toks, i)
		if !ok {
			return
		}
		seen = append(seen, id)
		h.counts[p.cue]++
		if usedAlt || viaAlt {
			h.translit++
		}
		if h.first[p.cue].end == 0 {
			h.first[p.cue] = span{toks[i].start, toks[end-1].end}
		}
	}
	for i := range toks {
		t := &toks[i]
		first, firstLoose := t.first, t.firstLoose // annotated by the stem cache
		if !t.ann {
			first, firstLoose = lx.byFirst[t.stem], nil
			if t.alt != "" {
				firstLoose = lx.byLoose[t.alt]
			}
		}
		for _, id := range first {
			try(id, i, false)
		}
		if t.alt != "" {
			for _, id := range firstLoose {
				try(id, i, !sameStem(t, &lx.phrases[id].elems[0]))
			}
		}
	}
	return seen
}

// matchFrom matches elems[k:] against toks[i:], with gaps. It returns the
// end token index (exclusive) and whether a transliterated reading was
// needed.
//
// A match that needed transliterated readings only of words that look
// English ("bank", "security") is no match: it is English text that reads
// as Russian by accident, not Russian written in Latin letters.
func matchFrom(elems []element, k int, toks []token, i int) (end int, usedAlt, ok bool) {
	end, usedAlt, russian, ok := matchFromAlt(elems, k, toks, i)
	if ok && usedAlt && !russian {
		return 0, false, false
	}
	return end, usedAlt, ok
}

// matchFromAlt is matchFrom without the English check; russian reports
// whether a transliterated reading was used for a word that does not look
// English.
func matchFromAlt(elems []element, k int, toks []token, i int) (end int, usedAlt, russian, ok bool) {
	for k < len(elems) {
		e := elems[k]
		if e.stem == gapStem {
			for skip := 0; skip <= maxGap; skip++ {
				if end, alt, ru, ok := matchFromAlt(elems, k+1, toks, i+skip); ok {
					return end, usedAlt || alt, russian || ru, true
				}
			}
			return 0, false, false, false
		}
		if i >= len(toks) {
			return 0, false, false, false
		}
		t := &toks[i]
		switch {
		case sameStem(t, &e):
		case sameLoose(t, &e):
			usedAlt = true
			if !t.eng {
				russian = true
			}
		default:
			return 0, false, false, false
		}
		i++
		k++
	}
	return i, usedAlt, russian, true
}

// sameStem is t.stem == e.stem, by number when t carries them.
func sameStem(t *token, e *element) bool {
	if t.ann {
		return t.sid == e.sid && t.sid >= 0
	}
	return t.stem == e.stem
}

// sameLoose reports whether t's transliterated reading is e's loose stem
// (both present), by number when t carries them.
func sameLoose(t *token, e *element) bool {
	if t.ann {
		return t.lid == e.lid && t.lid >= 0
	}
	return t.alt != "" && e.loose != "" && t.alt == e.loose
}
