package features

import (
	"hash/maphash"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"fraudwatch/models"
)

// NumberNormalizer turns phone numbers as people write them ("8 916
// 123-45-67", "+7 (916) 123 45 67", "79161234567", "00 44 20 …") into
// E.164, using libphonenumber metadata (github.com/nyaruka/phonenumbers)
// and a default region for national forms. Only numbers that
// libphonenumber considers valid (an assigned range of a real numbering
// plan, not just parseable) are accepted. Results are cached, because a
// parse costs ~15 µs; the cache is bounded. Safe for concurrent use.
type NumberNormalizer struct {
	region string
	seed   maphash.Seed
	shards [numShards]numShard
	per    int
}

const numShards = 16

type numShard struct {
	mu sync.RWMutex
	m  map[string]numInfo
}

type numInfo struct {
	e164   string
	region string
	ok     bool
}

// NewNumberNormalizer returns a normaliser for numbers written in
// defaultRegion (ISO 3166 code such as "RU"; upper case). An unknown
// region only means national forms never parse; numbers with "+" still do.
func NewNumberNormalizer(defaultRegion string) *NumberNormalizer {
	n := &NumberNormalizer{region: strings.ToUpper(defaultRegion), seed: maphash.MakeSeed(), per: 4096}
	for i := range n.shards {
		n.shards[i].m = make(map[string]numInfo)
	}
	return n
}

// Normalize returns the E.164 form of raw and ok=true when raw is a valid
// phone number; ok=false for garbage, letters, too short or too long
// input. Its signature is models.SenderNormalizer's, so
// models.DecodeOptions{NormalizeSender: n.Normalize} uses it.
func (n *NumberNormalizer) Normalize(raw string) (e164 string, ok bool) {
	info := n.lookup(raw)
	return info.e164, info.ok
}

var _ models.SenderNormalizer = (*NumberNormalizer)(nil).Normalize

// Region returns the ISO region of a valid number ("RU"), "" otherwise.
func (n *NumberNormalizer) Region(raw string) string {
	return n.lookup(raw).region
}

func (n *NumberNormalizer) lookup(raw string) numInfo {
	if len(raw) > 40 {
		return numInfo{}
	}
	sh := &n.shards[maphash.String(n.seed, raw)%numShards]
	sh.mu.RLock()
	info, hit := sh.m[raw]
	sh.mu.RUnlock()
	if hit {
		return info
	}
	info = n.parse(raw)
	sh.mu.Lock()
	if len(sh.m) >= n.per {
		clear(sh.m)
	}
	sh.m[strings.Clone(raw)] = info
	sh.mu.Unlock()
	return info
}

// parse checks the characters cheaply before asking libphonenumber.
func (n *NumberNormalizer) parse(raw string) numInfo {
	s := strings.TrimSpace(raw)
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == ' ' || c == '-' || c == '(' || c == ')' || c == '.' || c == '/':
		case c == '+' && i == 0:
		default:
			return numInfo{} // letters, extensions, anything else
		}
	}
	if digits < 7 || digits > 15 {
		return numInfo{}
	}
	if strings.HasPrefix(s, "00") {
		s = "+" + strings.TrimLeft(s[2:], " ")
	}
	try := func(s string) (numInfo, bool) {
		num, err := phonenumbers.Parse(s, n.region)
		if err != nil || !phonenumbers.IsValidNumber(num) {
			return numInfo{}, false
		}
		return numInfo{
			e164:   phonenumbers.Format(num, phonenumbers.E164),
			region: phonenumbers.GetRegionCodeForNumber(num),
			ok:     true,
		}, true
	}
	if info, ok := try(s); ok {
		return info
	}
	if !strings.HasPrefix(s, "+") && digits >= 11 {
		// An international number written without "+": "4420…".
		if info, ok := try("+" + s); ok {
			return info
		}
	}
	return numInfo{}
}

// phoneCandidate scans a written phone number starting at i: an optional
// "+", then digits with single separators (space, -, ., parentheses).
// It returns the end and the digit count.
func phoneCandidate(s string, i int) (end, digits int) {
	j := i
	if j < len(s) && s[j] == '+' {
		j++
	}
	end = j
	sep := 0
	for j < len(s) {
		c := s[j]
		switch {
		case c >= '0' && c <= '9':
			digits++
			sep = 0
			j++
			end = j
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
			sep++
			if sep > 2 || (c == ' ' && j+1 < len(s) && s[j+1] == ' ') {
				return end, digits
			}
			j++
		default:
			return end, digits
		}
		if digits > 15 {
			return end, digits
		}
	}
	return end, digits
}

// scanPhones appends the spans of valid phone numbers in s, skipping the
// card-number spans. Numbers of fewer than 10 digits are not counted: they
// are codes, amounts and short lines. The digits are returned in E.164.
// leadingPhone tries the prefixes of the digit run s[i:end] that end at a
// space and hold 10–15 digits, longest first, and at most four of them,
// so a run of digits costs a bounded number of parses.
func (x *Extractor) leadingPhone(s string, start, i, end int) (cut int, e164 string, ok bool) {
	tries := 0
	for p := end - 1; p > i && tries < 4; p-- {
		if s[p] != ' ' || s[p-1] < '0' || s[p-1] > '9' {
			continue
		}
		digits := 0
		for k := i; k < p; k++ {
			if s[k] >= '0' && s[k] <= '9' {
				digits++
			}
		}
		if digits < 10 {
			return 0, "", false
		}
		if digits > 15 {
			continue
		}
		tries++
		if e, ok := x.numbers.Normalize(s[start:p]); ok {
			return p, e, true
		}
	}
	return 0, "", false
}

func (x *Extractor) scanPhones(dst []span, nums []string, s string, cards []span) ([]span, []string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '+' || c >= '0' && c <= '9') {
			continue
		}
		if i > 0 {
			if r, _ := utf8.DecodeLastRuneInString(s[:i]); isWordRune(r) || r == '+' {
				continue
			}
		}
		if c == '+' && (i+1 >= len(s) || s[i+1] < '1' || s[i+1] > '9') {
			continue
		}
		// "(916) 123…" with the opening parenthesis before: start there.
		start := i
		if i > 0 && s[i-1] == '(' {
			start = i - 1
		}
		end, digits := phoneCandidate(s, i)
		if digits > 15 && !inSpans(cards, start) {
			// Several numbers in a row ("89161234567 89031234567") read as
			// one run: take the longest valid prefix that ends at a space.
			if cut, e164, ok := x.leadingPhone(s, start, i, end); ok {
				dst = append(dst, span{start, cut})
				nums = append(nums, e164)
				i = cut
				continue
			}
		}
		if digits < 10 || digits > 15 || inSpans(cards, start) {
			i = max(i, end-1)
			continue
		}
		if r, _ := utf8.DecodeRuneInString(s[end:]); isWordRune(r) { // glued to letters: "5000000руб"
			i = end - 1
			continue
		}
		if e164, ok := x.numbers.Normalize(s[start:end]); ok {
			dst = append(dst, span{start, end})
			nums = append(nums, e164)
		}
		i = end - 1
	}
	return dst, nums
}

func inSpans(sp []span, i int) bool {
	for _, s := range sp {
		if i >= s.start && i < s.end {
			return true
		}
	}
	return false
}
