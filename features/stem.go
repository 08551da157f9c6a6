package features

import (
	"hash/maphash"
	"strings"
	"sync"
	"unicode/utf8"

	"fraudwatch/features/textmodel"

	"github.com/kljensen/snowball/english"
	"github.com/kljensen/snowball/russian"
)

// numberStem is the stem of every token made only of digits, so a
// lexicon phrase can say "any number" ("доход от # в день").
const numberStem = "#"

// gapStem in a lexicon phrase matches up to maxGap arbitrary tokens.
const gapStem = "*"

// maxGap is how many tokens a "*" in a phrase may skip.
const maxGap = 3

// wordInfo is what matching needs to know about one token.
type wordInfo struct {
	stem string // Russian stem for Cyrillic words, English for Latin, the word itself otherwise
	alt  string // for Latin words: the loose stem of their Cyrillic transliteration
	eng  bool   // for Latin words: looks like an English word (see looksEnglish)

	// What the extractor's lexicon and model make of the word, set by
	// the cache's annotate (Extractor.annotate) when ann: the phrases
	// that begin with stem and with alt, and the model's ids of stem.
	// Matching and scoring then look nothing up per token.
	ann        bool
	first      []int32
	firstLoose []int32
	sid, lid   int32 // stem and alt as numbered by the lexicon (lexicon.wordIDs)
	model      textmodel.TokenID
}

// stemWord computes the wordInfo of a normalised, folded word. It is pure;
// stemCache memoises it.
func stemWord(w string) wordInfo {
	var cyr, lat, dig, other int
	for _, r := range w {
		switch {
		case isCyrillic(r):
			cyr++
		case isLatin(r):
			lat++
		case r >= '0' && r <= '9':
			dig++
		default:
			other++
		}
	}
	switch {
	case dig > 0 && cyr == 0 && lat == 0 && other == 0:
		return wordInfo{stem: numberStem}
	case cyr > 0 && lat == 0 && dig == 0:
		return wordInfo{stem: russian.Stem(w, false)}
	case lat > 0 && cyr == 0 && dig == 0 && other == 0:
		info := wordInfo{stem: english.Stem(w, false), eng: looksEnglish(w)}
		if lat >= 2 {
			if t := transliterate(w); t != "" {
				info.alt = loose(russian.Stem(t, false))
			}
		}
		return info
	}
	return wordInfo{stem: w}
}

// loose folds the letters that Latin transliteration of Russian cannot
// tell apart (ь ъ dropped, э→е, й→и, ы→и), for matching transliterated
// words against Russian stems.
func loose(s string) string {
	if !strings.ContainsAny(s, "ьъэйы") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch r {
		case 'ь', 'ъ':
			continue
		case 'э':
			r = 'е'
		case 'й', 'ы':
			r = 'и'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// translitTable lists Latin spellings of Russian letters, longest first.
var translitTable = [...]struct {
	lat string
	cyr string
}{
	{"shch", "щ"}, {"sch", "щ"}, {"zh", "ж"}, {"kh", "х"}, {"ts", "ц"}, {"tz", "ц"},
	{"ch", "ч"}, {"sh", "ш"}, {"yu", "ю"}, {"ju", "ю"}, {"ya", "я"}, {"ja", "я"},
	{"yo", "е"}, {"jo", "е"}, {"ye", "е"}, {"je", "е"}, {"ck", "к"}, {"ks", "кс"},
	{"a", "а"}, {"b", "б"}, {"v", "в"}, {"g", "г"}, {"d", "д"}, {"e", "е"},
	{"z", "з"}, {"i", "и"}, {"j", "й"}, {"k", "к"}, {"l", "л"}, {"m", "м"},
	{"n", "н"}, {"o", "о"}, {"p", "п"}, {"r", "р"}, {"s", "с"}, {"t", "т"},
	{"u", "у"}, {"f", "ф"}, {"h", "х"}, {"c", "ц"}, {"w", "в"}, {"x", "кс"},
	{"q", "к"},
}

// transliterate reads a lower-case Latin word as Russian written in Latin
// letters ("vyigrali" → "выиграли"). "y" is ы after a consonant and й
// after a vowel. It returns "" for anything but ASCII letters.
func transliterate(w string) string {
	var b strings.Builder
	b.Grow(2 * len(w))
	prevVowel := false
	for i := 0; i < len(w); {
		c := w[i]
		if c >= utf8.RuneSelf || !isLatin(rune(c)) {
			return ""
		}
		if c == 'y' {
			rest := w[i+1:]
			if rest == "" || !(strings.HasPrefix(rest, "a") || strings.HasPrefix(rest, "u") ||
				strings.HasPrefix(rest, "o") || strings.HasPrefix(rest, "e")) {
				if prevVowel {
					b.WriteString("й")
				} else {
					b.WriteString("ы")
				}
				prevVowel = false
				i++
				continue
			}
		}
		matched := false
		for _, t := range translitTable {
			if strings.HasPrefix(w[i:], t.lat) {
				b.WriteString(t.cyr)
				i += len(t.lat)
				switch t.cyr {
				case "а", "е", "и", "о", "у", "ю", "я":
					prevVowel = true
				default:
					prevVowel = false
				}
				matched = true
				break
			}
		}
		if !matched {
			return ""
		}
	}
	return b.String()
}

// stemCache memoises stemWord. It is bounded: a shard that fills up is
// emptied, which keeps memory flat under a stream of unique junk words
// while the common vocabulary is re-learnt at once. Safe for concurrent use.
type stemCache struct {
	seed     maphash.Seed
	perShard int
	shards   [stemShards]stemShard
	annotate func(*wordInfo) // nil until setAnnotate
}

const stemShards = 32

type stemShard struct {
	mu sync.RWMutex
	m  map[string]wordInfo
}

func newStemCache(size int) *stemCache {
	c := &stemCache{seed: maphash.MakeSeed(), perShard: size/stemShards + 1}
	for i := range c.shards {
		c.shards[i].m = make(map[string]wordInfo)
	}
	return c
}

// get returns the wordInfo of w. w may alias a scratch buffer: it is
// copied before it is stored.
func (c *stemCache) get(w string) wordInfo {
	sh := &c.shards[maphash.String(c.seed, w)%stemShards]
	sh.mu.RLock()
	info, ok := sh.m[w]
	sh.mu.RUnlock()
	if ok {
		return info
	}
	return c.miss(sh, w)
}

// miss is get of a word not in the cache. It is apart from get so that
// only a miss moves its wordInfo to the heap for annotate.
func (c *stemCache) miss(sh *stemShard, w string) wordInfo {
	if len(w) > 64 { // junk: not worth caching, and never in a lexicon
		info := wordInfo{stem: strings.Clone(w)}
		if c.annotate != nil {
			c.annotate(&info)
		}
		return info
	}
	key := strings.Clone(w)
	info := stemWord(key)
	if c.annotate != nil {
		c.annotate(&info)
	}
	sh.mu.Lock()
	if len(sh.m) >= c.perShard {
		clear(sh.m)
	}
	sh.m[key] = info
	sh.mu.Unlock()
	return info
}

// setAnnotate makes every word the cache returns from now on carry what
// annotate adds, and forgets the words it holds, which do not. It is not
// safe for concurrent use: the extractor calls it once it is built.
func (c *stemCache) setAnnotate(annotate func(*wordInfo)) {
	c.annotate = annotate
	for i := range c.shards {
		clear(c.shards[i].m)
	}
}
