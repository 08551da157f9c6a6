// Package features computes the Set of named features that rules and the
// text model see for one event. Extraction is pure: everything heavy
// (lexicons, directory, domain tables) is built by NewExtractor, and
// Extract does no I/O.
package features

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"fraudwatch/features/textmodel"
	"fraudwatch/models"
)

// Extractor computes feature sets. It is immutable after NewExtractor
// apart from its bounded caches, and Extract is safe for concurrent use.
type Extractor struct {
	region  string
	numbers *NumberNormalizer
	stems   *stemCache
	names   *nameCache // display names read (namecache.go)
	tok     tokenizer
	lists   domainLists
	lex     *lexicon
	model   *textmodel.Model // nil: no model_score

	officialDomains []string
	brands          []string        // registrable labels of official domains, ASCII bank names
	official        map[string]bool // official lines in E.164
	officialDigits  []string        // official lines of 7+ digits, for lookalikes
	staff           []staffEntry
	staffByNumber   map[string][]int
	staffByToken    map[string][]int
	customers       map[string]bool

	pool sync.Pool
}

type staffEntry struct {
	name   string
	tokens []string // loose Cyrillic forms of the name's words
}

// scratch is the per-call working memory, pooled.
type scratch struct {
	low, fold normText
	fpFold    normText // the unblanked pass2 for Analyze's fingerprint
	word      []rune
	links     []link
	phones    []span
	phoneNums []string
	cardSpans []span
	cardOrig  []span // cardSpans in bytes of the original text
	blank     []span
	ptoks     []span
	toks      []token
	buf       []byte
	seen      []int32
	amounts   []float64
	mdoc      textmodel.Doc
	mids      []textmodel.TokenID // the ids of mdoc.Tokens
}

func newScratch() *scratch { return &scratch{} }

// NewExtractor validates cfg, loads and compiles the lexicons, and
// indexes the directory. Errors name the file and entry at fault.
func NewExtractor(cfg Config) (*Extractor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	x := &Extractor{
		region:        cfg.DefaultRegion,
		numbers:       NewNumberNormalizer(cfg.DefaultRegion),
		stems:         newStemCache(cfg.StemCacheSize),
		names:         newNameCache(),
		tok:           tokenizer{opts: proseOpts()},
		lists:         newDomainLists(),
		official:      make(map[string]bool),
		staffByNumber: make(map[string][]int),
		staffByToken:  make(map[string][]int),
		customers:     make(map[string]bool),
	}
	x.pool.New = func() any { return newScratch() }

	name, data, err := cfg.lexiconSource()
	if err != nil {
		return nil, err
	}
	if x.lex, err = compileLexicon(name, data, x); err != nil {
		return nil, err
	}
	if x.model, err = cfg.textModel(); err != nil {
		return nil, err
	}

	dir := cfg.Directory
	if dir == nil {
		dir = &Directory{}
	}
	lines := append([]string(nil), cfg.OfficialLines...)
	for _, l := range dir.OfficialLines {
		lines = append(lines, l.Number)
	}
	for _, l := range lines {
		if err := x.addOfficialLine(l); err != nil {
			return nil, fmt.Errorf("%s: official line %q: %w", dir.name(), l, err)
		}
	}
	domains := append(append([]string(nil), cfg.OfficialDomains...), dir.OfficialDomains...)
	for _, d := range domains {
		d = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(d)), "www.")
		if err := checkDomain(d); err != nil {
			return nil, fmt.Errorf("%s: official domain %q: %w", dir.name(), d, err)
		}
		x.officialDomains = append(x.officialDomains, d)
		x.addBrand(registrable(d))
	}
	sc := newScratch()
	for _, n := range append(append([]string(nil), cfg.BankNames...), dir.BankNames...) {
		if err := x.addBankName(n, sc); err != nil {
			return nil, fmt.Errorf("bank name %q: %w", n, err)
		}
	}
	for i, s := range dir.Staff {
		if err := x.addStaff(s, sc); err != nil {
			return nil, fmt.Errorf("%s: staff[%d] %q: %w", dir.name(), i, s.Name, err)
		}
	}
	for i, c := range dir.Customers {
		e, ok := x.numbers.Normalize(c.Number)
		if !ok {
			return nil, fmt.Errorf("%s: customers[%d] %q: not a valid phone number", dir.name(), i, c.Number)
		}
		x.customers[e] = true
	}
	x.finishCaches() // model.go: the lexicon and model are final; cache their ids with the stems
	return x, nil
}

func (x *Extractor) addOfficialLine(l string) error {
	if e, ok := x.numbers.Normalize(l); ok {
		x.official[e] = true
		x.officialDigits = append(x.officialDigits, e[1:])
		return nil
	}
	digits := 0
	for _, r := range l {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == ' ' || r == '-' || r == '+':
		default:
			return fmt.Errorf("not a phone number")
		}
	}
	if digits == 0 || digits > 6 {
		return fmt.Errorf("not a valid phone number for region %s (short service numbers of up to 6 digits are allowed)", x.region)
	}
	return nil // a short line: nobody's WhatsApp number, nothing to compare
}

func (x *Extractor) addBrand(b string) {
	if b == "" {
		return
	}
	for _, have := range x.brands {
		if have == b {
			return
		}
	}
	x.brands = append(x.brands, b)
}

// addBankName makes the bank's name a "bank" and "name_claims" phrase,
// and an ASCII name ("Example Bank" → "examplebank") a brand for
// lookalike domains.
func (x *Extractor) addBankName(n string, sc *scratch) error {
	elems, err := x.compilePhrase(n, sc)
	if err != nil {
		return err
	}
	for _, cue := range []int{cueBank, cueNameClaims} {
		id := int32(len(x.lex.phrases))
		x.lex.phrases = append(x.lex.phrases, phrase{cue: cue, elems: elems})
		x.lex.byFirst[elems[0].stem] = append(x.lex.byFirst[elems[0].stem], id)
		if l := elems[0].loose; l != "" {
			x.lex.byLoose[l] = append(x.lex.byLoose[l], id)
		}
	}
	var b strings.Builder
	for _, r := range strings.ToLower(n) {
		if isLatin(r) || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	if b.Len() >= 4 {
		x.addBrand(b.String())
	}
	return nil
}

func (x *Extractor) addStaff(s StaffMember, sc *scratch) error {
	idx := len(x.staff)
	e := staffEntry{name: s.Name, tokens: x.nameTokens(s.Name, sc)}
	if len(e.tokens) == 0 {
		return fmt.Errorf("name has no letters")
	}
	x.staff = append(x.staff, e)
	for _, t := range e.tokens {
		x.staffByToken[t] = appendUnique(x.staffByToken[t], idx)
	}
	for _, n := range s.Numbers {
		en, ok := x.numbers.Normalize(n)
		if !ok {
			return fmt.Errorf("number %q is not a valid phone number", n)
		}
		x.staffByNumber[en] = appendUnique(x.staffByNumber[en], idx)
	}
	return nil
}

func appendUnique(s []int, v int) []int {
	for _, have := range s {
		if have == v {
			return s
		}
	}
	return append(s, v)
}

// textTokens runs the message pipeline on a short text (lexicon phrases,
// names) and returns its tokens. They alias sc.
func (x *Extractor) textTokens(text string, sc *scratch) []token {
	pass1(&sc.low, text)
	_, _, _, sc.word = pass2(&sc.fold, &sc.low, nil, sc.word)
	fold := string(sc.fold.s)
	sc.ptoks, sc.buf = x.tok.tokens(sc.ptoks[:0], fold, sc.buf)
	sc.toks = pieces(sc.toks[:0], fold, sc.ptoks, x.stems)
	return sc.toks
}

// nameTokens returns the words of a person's name in a form where
// "Иван Петров", "ИВАН ПЕТРОВ", "Ivan Petrov" and "Иван Пeтров" agree.
func (x *Extractor) nameTokens(name string, sc *scratch) []string {
	pass1(&sc.low, name)
	_, _, _, sc.word = pass2(&sc.fold, &sc.low, nil, sc.word)
	var out []string
	for _, w := range strings.FieldsFunc(string(sc.fold.s), func(r rune) bool { return !unicode.IsLetter(r) }) {
		if hasCyrillicRune(w) {
			out = append(out, loose(w))
		} else if t := transliterate(w); t != "" {
			out = append(out, loose(t))
		}
	}
	return out
}

// Extract computes the feature set of ev given its sender's reputation
// snapshot. It never fails and never panics: odd input (empty, only
// emoji, broken UTF-8, 64k characters) gives zero features, not errors.
// Evidence is nil when nothing needs explaining.
func (x *Extractor) Extract(ev *models.Event, rep models.Snapshot) Set {
	var s Set
	if ev == nil {
		return s
	}
	x.analyze(ev, &s, false) // analysis.go: Analyze and Complete split this
	x.complete(ev, rep, &s)
	return s
}

func (s *Set) evidence(k, v string) {
	if v == "" {
		return
	}
	if s.Evidence == nil {
		s.Evidence = make(map[string]string, 4)
	}
	if _, ok := s.Evidence[k]; !ok {
		s.Evidence[k] = v
	}
}

// lexFields returns pointers to the Lex* fields in cueNames order.
func lexFields(s *Set) [numTextCues]*int {
	return [numTextCues]*int{
		&s.LexLottery, &s.LexPrizeFee, &s.LexPurchase, &s.LexDelivery, &s.LexCredential,
		&s.LexCardRequest, &s.LexRemoteAccess, &s.LexBank, &s.LexSecurityService, &s.LexCentralBank,
		&s.LexPolice, &s.LexManager, &s.LexSafeAccount, &s.LexTransfer, &s.LexInvestment, &s.LexMule,
		&s.LexJobOffer, &s.LexSpam, &s.LexUrgency, &s.LexSecrecy, &s.LexWarning, &s.LexVictimReport,
		&s.LexContactDM,
	}
}

func (x *Extractor) text(text string, s *Set, sc *scratch) {
	if text == "" {
		return
	}
	s.InvisibleChars = pass1(&sc.low, text)
	low := string(sc.low.s)

	// Cards, links and phones are found on the rune-normalised text and
	// blanked before tokenizing: prose would split them into pieces.
	sc.cardSpans, sc.cardOrig = sc.cardSpans[:0], sc.cardOrig[:0]
	var cardDigits []string
	for _, c := range models.FindCardNumbers(low) {
		sc.cardSpans = append(sc.cardSpans, span{c.Start, c.End})
		sc.cardOrig = append(sc.cardOrig, span{sc.low.origOffset(c.Start), sc.low.origOffset(c.End)})
		cardDigits = append(cardDigits, c.Digits)
	}
	s.Cards = len(cardDigits)
	if len(cardDigits) > 0 {
		s.evidence("cards", strings.Join(cardDigits, ", "))
	}
	if accts := models.FindAccountNumbers(text); len(accts) > 0 {
		s.Accounts = len(accts)
		s.evidence("accounts", text[accts[0][0]:accts[0][1]])
	}

	sc.links = x.scanLinks(sc.links[:0], low)
	sc.blank = append(sc.blank[:0], sc.cardSpans...)
	for _, l := range sc.links {
		sc.blank = append(sc.blank, span{l.start, l.end})
	}
	sc.phones, sc.phoneNums = x.scanPhones(sc.phones[:0], sc.phoneNums[:0], low, sc.blank)
	s.PhonesInText = countDistinct(sc.phoneNums)
	if len(sc.phones) > 0 {
		p := sc.phones[0]
		s.evidence("phones_in_text", x.excerptOrig(text, &sc.low, p.start, p.end, nil, false))
	}
	sc.blank = append(sc.blank, sc.phones...)
	sortSpans(sc.blank)
	sc.blank = dropOverlaps(sc.blank)

	var moneyEv span
	sc.amounts = scanMoney(sc.amounts[:0], &moneyEv, low, sc.blank)
	s.MoneyAmounts = len(sc.amounts)
	for _, a := range sc.amounts {
		s.MaxAmount = max(s.MaxAmount, a)
	}
	if moneyEv.end > 0 {
		s.evidence("money_amounts", x.excerptOrig(text, &sc.low, moneyEv.start, moneyEv.end, nil, false))
	}

	x.linkFeatures(s, sc)

	var cyr, lat int
	s.HomoglyphWords, cyr, lat, sc.word = pass2(&sc.fold, &sc.low, sc.blank, sc.word)
	s.Lang = language(cyr, lat)
	fold := string(sc.fold.s)
	sc.ptoks, sc.buf = x.tok.tokens(sc.ptoks[:0], fold, sc.buf)
	s.Tokens = len(sc.ptoks)
	sc.toks = pieces(sc.toks[:0], fold, sc.ptoks, x.stems)

	var h lexHits
	sc.seen = x.lex.match(sc.toks, &h, sc.seen)
	fields := lexFields(s)
	for i, p := range fields {
		*p = h.counts[i]
		if h.counts[i] > 0 {
			sp := h.first[i]
			s.evidence("lex_"+cueNames[i], x.excerptOrig(text, &sc.fold, sp.start, sp.end, sc.cardOrig, true))
		}
	}
	s.TranslitHits = h.translit
	if s.HomoglyphWords > 0 {
		s.evidence("homoglyph_words", firstSuspectWord(text, true))
	}
	if s.InvisibleChars > 0 {
		s.evidence("invisible_chars", firstSuspectWord(text, false))
	}
	commercial(s, low)
	x.modelScore(s, sc)
}

// linkFeatures classifies the links found in the text.
func (x *Extractor) linkFeatures(s *Set, sc *scratch) {
	if len(sc.links) == 0 {
		return
	}
	var st linkStats
	var hosts, unknown []string
	for _, l := range sc.links {
		before := st
		x.classify(&st, l.host)
		if len(hosts) < 5 {
			hosts = append(hosts, l.host)
		}
		if st.unknown > before.unknown && len(unknown) < 5 {
			unknown = append(unknown, l.host)
		}
		// Evidence is the first host that was counted.
		if st.shorteners > before.shorteners {
			s.evidence("shorteners", l.host)
		}
		if st.ip > before.ip {
			s.evidence("ip_links", l.host)
		}
		if st.puny > before.puny {
			s.evidence("punycode_links", l.host)
		}
	}
	s.URLs, s.UnknownDomains, s.OfficialLinks = st.urls, st.unknown, st.official
	s.Shorteners, s.LookalikeDomain, s.IPLinks, s.PunycodeLinks = st.shorteners, st.lookalike, st.ip, st.puny
	s.evidence("urls", strings.Join(hosts, ", "))
	s.evidence("unknown_domains", strings.Join(unknown, ", "))
	s.evidence("lookalike_domain", st.lookalikeHost)
}

func language(cyr, lat int) string {
	total := cyr + lat
	switch {
	case total == 0:
		return ""
	case cyr*4 >= total && lat*4 >= total:
		return "mixed"
	case cyr > lat:
		return "ru"
	}
	return "en"
}

func countDistinct(ss []string) int {
	n := 0
	for i, s := range ss {
		dup := false
		for _, t := range ss[:i] {
			if s == t {
				dup = true
				break
			}
		}
		if !dup {
			n++
		}
	}
	return n
}

func sortSpans(sp []span) {
	for i := 1; i < len(sp); i++ {
		for k := i; k > 0 && sp[k].start < sp[k-1].start; k-- {
			sp[k], sp[k-1] = sp[k-1], sp[k]
		}
	}
}

// dropOverlaps keeps the first of overlapping spans (sorted input).
func dropOverlaps(sp []span) []span {
	out := sp[:0]
	for _, s := range sp {
		if len(out) > 0 && s.start < out[len(out)-1].end {
			if s.end > out[len(out)-1].end {
				out[len(out)-1].end = s.end
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// excerptOrig quotes the original text around normalised bytes [a, b):
// the hit and, when context is set, a couple of words either side, at
// most 80 characters, on one line. Context never takes part of a card
// number (cards: spans of the original text): the detector masks whole
// card numbers only, so a part would reach the employee in clear.
func (x *Extractor) excerptOrig(text string, n *normText, a, b int, cards []span, context bool) string {
	oa, ob := n.origOffset(a), n.origOffset(b)
	if ob < oa {
		ob = oa
	}
	if context {
		hitA, hitB := oa, ob
		oa = widen(text, oa, -1, 2, 30)
		ob = widen(text, ob, +1, 3, 40)
		for _, c := range cards {
			if oa > c.start && oa < c.end {
				oa = min(c.end, hitA)
			}
			if ob > c.start && ob < c.end {
				ob = max(c.start, hitB)
			}
		}
	}
	return oneLine(text[oa:ob], 80)
}

// oneLine collapses white space, replaces broken UTF-8 and cuts s to at
// most n runes, "…" included. The cut falls after a whole word, unless
// the first word alone is too long, and drops the numbers before it: a
// card number cut in half would escape masking.
func oneLine(s string, n int) string {
	var b strings.Builder
	b.Grow(min(len(s), 4*n) + 3)
	space, runes := false, 0
	fit, wordEnd := 0, 0 // bytes of b that leave room for "…": all of them, and up to the last whole word
	for _, r := range s {
		if isSpaceFast(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			if runes < n {
				wordEnd = b.Len()
			}
			b.WriteByte(' ')
			runes++
		}
		space = false
		if runes >= n {
			if wordEnd == 0 {
				return b.String()[:fit] + "…"
			}
			out := strings.TrimRightFunc(b.String()[:wordEnd], func(r rune) bool {
				return r >= '0' && r <= '9' || r == ' ' || r == '-'
			})
			return out + "…"
		}
		b.WriteRune(r)
		runes++
		if runes == n-1 {
			fit = b.Len()
		}
	}
	return b.String()
}

func isSpaceFast(r rune) bool {
	switch {
	case r < utf8.RuneSelf:
		return r == ' ' || r == '\n' || r == '\t' || r == '\r' || r == '\v' || r == '\f'
	case r >= 0x0400 && r <= 0x04FF:
		return false
	}
	return unicode.IsSpace(r)
}

// widen moves i over up to words words (at most maxBytes bytes) in dir.
func widen(text string, i, dir, words, maxBytes int) int {
	start, seen, inSpace := i, 0, false
	for {
		if dir < 0 && i <= 0 || dir > 0 && i >= len(text) {
			return i
		}
		var r rune
		var size int
		if dir < 0 {
			r, size = utf8.DecodeLastRuneInString(text[:i])
		} else {
			r, size = utf8.DecodeRuneInString(text[i:])
		}
		if isSpaceFast(r) {
			if !inSpace {
				seen++
				if seen > words {
					return i
				}
			}
			inSpace = true
		} else {
			inSpace = false
		}
		if (i-start)*dir+size > maxBytes {
			return wordBoundary(text, start, i, dir)
		}
		i += dir * size
	}
}

// wordBoundary pulls i (reached by widening from start in direction dir)
// back towards start until it no longer cuts a word in half, so evidence
// never begins or ends mid-word. With no boundary in between, start.
func wordBoundary(text string, start, i, dir int) int {
	for j := i; j != start; j -= dir {
		if dir < 0 && (j == 0 || isASCIISpace(text[j-1])) || dir > 0 && (j == len(text) || isASCIISpace(text[j])) {
			return j
		}
	}
	return start
}

func isASCIISpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

// firstSuspectWord quotes the first word that mixes scripts (mixed) or
// carries an invisible character that pass1 counts (!mixed), for the
// analyst.
func firstSuspectWord(text string, mixed bool) string {
	for _, w := range strings.Fields(text) {
		var c, l, inv bool
		var prev, next rune // visible runes around an invisible one
		nextPos := -1
		for i, r := range w {
			switch {
			case isCyrillic(r):
				c = true
			case isLatin(r):
				l = true
			case isInvisible(r):
				if !inv {
					if i >= nextPos { // once per run, as in pass1
						next, nextPos = nextVisible(w, i)
					}
					inv = countedInvisible(r, prev, next)
				}
				continue
			}
			prev = plainForm(r)
		}
		if mixed && c && l || !mixed && inv {
			w = strings.ToValidUTF8(w, "\uFFFD")
			w, _ = models.TruncateRunes(w, 40)
			return w
		}
	}
	return ""
}

// countedInvisible is pass1's rule for an invisible rune r between the
// visible runes prev and next: direction controls always count, emoji
// joiners and variation selectors only between letters, the others next
// to a letter or digit.
func countedInvisible(r, prev, next rune) bool {
	switch {
	case isBidiControl(r):
		return true
	case isSilentInvisible(r):
		return isWordRune(prev) && isWordRune(next)
	}
	return isWordRune(prev) || isWordRune(next)
}

// FeatureNames returns the expr names of Set's features in field order
// (Evidence excluded). Rule validation uses it to reject unknown names.
func FeatureNames() []string {
	t := reflect.TypeFor[Set]()
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		tag := t.Field(i).Tag.Get("expr")
		if tag == "" || tag == "-" {
			continue
		}
		names = append(names, tag)
	}
	return names
}
