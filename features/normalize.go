package features

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text normalisation runs in two passes over the message:
//
//  1. runes: invisible and direction-control characters are removed (and
//     counted), exotic letter forms are mapped to plain ones (fullwidth,
//     mathematical bold/italic, circled), combining marks are dropped or
//     composed, spaces are unified, quotes made ASCII, everything is
//     lower-cased and ё becomes е. Links, numbers and money are scanned on
//     this text, where a homoglyph in a domain is still visible.
//  2. words: each run of letters and digits is folded to one script
//     (homoglyphs) and light leetspeak is undone; spans already taken by
//     links, phone numbers and cards are blanked. Tokens come from this text.
//
// Both passes keep, for every output byte, the offset of the input byte it
// came from, so evidence is quoted from the original text.

// normText is a normalised text with a map back to the original.
type normText struct {
	s   []byte  // normalised text
	off []int32 // off[i]: byte offset in the original of s[i]; len(off) == len(s)+1
}

func (n *normText) reset() {
	n.s = n.s[:0]
	n.off = n.off[:0]
}

func (n *normText) addRune(r rune, orig int) {
	start := len(n.s)
	n.s = utf8.AppendRune(n.s, r)
	for i := start; i < len(n.s); i++ {
		n.off = append(n.off, int32(orig))
	}
}

func (n *normText) finish(origLen int) {
	n.off = append(n.off, int32(origLen))
}

// origOffset maps a byte offset of the normalised text to the original.
func (n *normText) origOffset(i int) int {
	if i < 0 {
		return 0
	}
	if i >= len(n.off) {
		if len(n.off) == 0 {
			return 0
		}
		return int(n.off[len(n.off)-1])
	}
	return int(n.off[i])
}

// invisibleKind says how a format character is treated: dropped silently
// (variation selectors, emoji joiners between non-letters), or dropped and
// counted as obfuscation.
func isInvisible(r rune) bool {
	switch {
	case r == 0x00AD, r == 0x034F, r == 0x061C, r == 0x115F, r == 0x1160,
		r == 0x17B4, r == 0x17B5, r == 0x3164, r == 0xFEFF, r == 0xFFA0:
		return true
	case r >= 0x180B && r <= 0x180E:
		return true
	case r >= 0x200B && r <= 0x200F:
		return true
	case r >= 0x202A && r <= 0x202E:
		return true
	case r >= 0x2060 && r <= 0x206F:
		return true
	case r >= 0xFE00 && r <= 0xFE0F: // variation selectors
		return true
	case r >= 0x1D173 && r <= 0x1D17A:
		return true
	case r >= 0xE0000 && r <= 0xE0FFF: // tags, variation selectors supplement
		return true
	}
	return false
}

// isBidiControl reports direction controls, which are always counted:
// they reorder what the reader sees and have no place in a chat message
// to a bank employee.
func isBidiControl(r rune) bool {
	return r == 0x200E || r == 0x200F || r == 0x061C ||
		(r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}

// isSilentInvisible reports format characters with legitimate uses that
// are removed without counting unless they sit inside a word: variation
// selectors and the zero-width joiner of emoji sequences.
func isSilentInvisible(r rune) bool {
	return (r >= 0xFE00 && r <= 0xFE0F) || r == 0x200D || (r >= 0xE0000 && r <= 0xE0FFF)
}

func isSpaceLike(r rune) bool {
	switch r {
	case 0x00A0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, '\t', '\r', '\n', '\v', '\f':
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}

// plainForm maps presentation forms used to dodge matching to the plain
// letter: fullwidth ASCII, mathematical alphanumerics (𝐒𝐛𝐞𝐫), circled
// letters and digits.
func plainForm(r rune) rune {
	switch {
	case r < 0x2460:
		return r
	case r >= 0xFF01 && r <= 0xFF5E:
		return r - 0xFEE0
	case r >= 0x1D400 && r <= 0x1D6A3:
		k := (r - 0x1D400) % 52
		if k < 26 {
			return 'a' + k
		}
		return 'a' + k - 26
	case r >= 0x1D7CE && r <= 0x1D7FF:
		return '0' + (r-0x1D7CE)%10
	case r >= 0x24B6 && r <= 0x24CF:
		return 'a' + r - 0x24B6
	case r >= 0x24D0 && r <= 0x24E9:
		return 'a' + r - 0x24D0
	case r >= 0x2460 && r <= 0x2468:
		return '1' + r - 0x2460
	case r >= 0x1F130 && r <= 0x1F149: // squared latin capitals
		return 'a' + r - 0x1F130
	case r >= 0x1F170 && r <= 0x1F189: // negative squared latin capitals
		return 'a' + r - 0x1F170
	}
	return r
}

// pass1 is the rune pass (see the top of this file). It returns the
// number of invisible characters counted as obfuscation.
func pass1(dst *normText, text string) (invisible int) {
	dst.reset()
	var prev rune // previous kept rune
	var next rune // first visible rune after the current run of invisible ones
	nextPos := -1 // its position
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf && c != '`' && c != '\t' && c != '\r' && c != '\v' && c != '\f' {
			// ASCII fast path.
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c == '&' && strings.HasPrefix(text[i:], "&rsquo;") {
				// The HTML apostrophe that prose's sanitizer would
				// rewrite, shifting its tokens off the text: read it here.
				dst.s = append(dst.s, '\'')
				dst.off = append(dst.off, int32(i))
				prev = '\''
				i += len("&rsquo;")
				continue
			}
			dst.s = append(dst.s, c)
			dst.off = append(dst.off, int32(i))
			prev = rune(c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		pos := i
		i += size
		if r >= 0x0410 && r <= 0x044F { // Russian letters fast path
			r = lowerRune(r)
			dst.s = utf8.AppendRune(dst.s, r)
			dst.off = append(dst.off, int32(pos), int32(pos))
			prev = r
			continue
		}
		if r == utf8.RuneError && size <= 1 {
			dst.addRune(' ', pos)
			prev = ' '
			continue
		}
		if isInvisible(r) {
			// The next visible rune is looked up once per run of invisible
			// characters: a text of 64k zero-width spaces must stay linear.
			if i > nextPos {
				next, nextPos = nextVisible(text, i)
			}
			if countedInvisible(r, prev, next) { // "к\u200dод", not an emoji sequence
				invisible++
			}
			continue
		}
		if r >= 0x0300 && r <= 0x036F || r >= 0x0483 && isCombiningMark(r) { // combining diacritics
			if r == 0x0306 && prev == 'и' {
				// и + breve is й, quoted from the и on.
				orig := int(dst.off[len(dst.off)-1])
				dst.s = dst.s[:len(dst.s)-len("и")]
				dst.off = dst.off[:len(dst.off)-len("и")]
				dst.addRune('й', orig)
				prev = 'й'
			}
			// Stress marks and other diacritics carry no meaning here, and
			// marks outside the common block (Cyrillic titlo, enclosing
			// signs, combining marks for symbols) would split a word.
			continue
		}
		if r != '\n' && isSpaceLike(r) {
			r = ' '
		}
		switch r {
		case '\u2018', '\u2019', '\u201b', '\u02bc', '`':
			r = '\''
		case '\u201c', '\u201d', '\u201e', '\u00ab', '\u00bb':
			r = '"'
		case '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212':
			r = '-'
		case 'ё', 'Ё':
			r = 'е'
		}
		r = lowerRune(plainForm(r))
		if r == 'ё' {
			r = 'е'
		}
		dst.addRune(r, pos)
		prev = r
	}
	dst.finish(len(text))
	return invisible
}

// isCombiningMark reports non-spacing and enclosing marks (Unicode Mn,
// Me): drawn over the letter before them, they hide nothing from the
// reader but would cut the word in two for matching.
func isCombiningMark(r rune) bool {
	return unicode.In(r, unicode.Mn, unicode.Me)
}

// nextVisible returns the first rune at or after i that is not invisible,
// and its position (len(s) and 0 when there is none).
func nextVisible(s string, i int) (rune, int) {
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !isInvisible(r) {
			return r, i
		}
		i += size
	}
	return 0, len(s)
}

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')
	}
	if r >= 0x0400 && r <= 0x0481 { // Cyrillic letters: the common case, skip the tables
		return true
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// lowerRune is unicode.ToLower with fast paths for ASCII and Russian.
func lowerRune(r rune) rune {
	switch {
	case r < utf8.RuneSelf:
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	case r >= 0x0430 && r <= 0x045F:
		return r
	case r >= 0x0410 && r <= 0x042F:
		return r + 0x20
	case r >= 0x0400 && r <= 0x040F:
		return r + 0x50
	}
	return unicode.ToLower(r)
}

func isCyrillic(r rune) bool { return r >= 0x0400 && r <= 0x052F }

func isLatin(r rune) bool { return ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') }

// toCyrillic folds Latin look-alikes (lower case, and the lower case of
// Latin capitals that look like Cyrillic capitals) and leet digits into
// Cyrillic, for words that are mostly Cyrillic.
func toCyrillic(r rune) (rune, bool) {
	switch r {
	case 'a':
		return 'а', true
	case 'b':
		return 'в', true
	case 'c':
		return 'с', true
	case 'e':
		return 'е', true
	case 'h':
		return 'н', true
	case 'k':
		return 'к', true
	case 'm':
		return 'м', true
	case 'o':
		return 'о', true
	case 'p':
		return 'р', true
	case 't':
		return 'т', true
	case 'x':
		return 'х', true
	case 'y':
		return 'у', true
	case 'u':
		return 'и', true
	case 'n':
		return 'п', true
	}
	return r, false
}

// leetCyrillic undoes digits written for letters inside Cyrillic words.
func leetCyrillic(r rune) (rune, bool) {
	switch r {
	case '0':
		return 'о', true
	case '3':
		return 'з', true
	case '6':
		return 'б', true
	case '4':
		return 'ч', true
	}
	return r, false
}

// toLatin folds Cyrillic look-alikes into Latin, for words that are mostly
// Latin ("pаypal" with a Cyrillic а, "sberbanк").
func toLatin(r rune) (rune, bool) {
	switch r {
	case 'а':
		return 'a', true
	case 'в':
		return 'b', true
	case 'е', 'ё':
		return 'e', true
	case 'к':
		return 'k', true
	case 'м':
		return 'm', true
	case 'н', 'һ':
		return 'h', true
	case 'о':
		return 'o', true
	case 'р':
		return 'p', true
	case 'с':
		return 'c', true
	case 'т':
		return 't', true
	case 'у':
		return 'y', true
	case 'х':
		return 'x', true
	case 'і', 'ї':
		return 'i', true
	case 'ѕ':
		return 's', true
	case 'ј':
		return 'j', true
	case 'ԁ':
		return 'd', true
	case 'ԛ':
		return 'q', true
	case 'ԝ':
		return 'w', true
	case 'ӏ':
		return 'l', true
	case 'п':
		return 'n', true
	case 'и':
		return 'u', true
	}
	return r, false
}

// foldWord folds one word (a run of letters and digits) in place. It
// reports whether the word mixed Latin and Cyrillic look-alikes (a
// homoglyph word), whether any rune changed, and the Cyrillic and Latin
// letters after folding. Words that mix scripts with letters that have no
// look-alike ("iPhoneы") are left alone and not counted; so are words of
// one script with digits ("a1", "5000р").
func foldWord(w []rune) (homoglyph, changed bool, cyr, lat int) {
	var dig int
	for _, r := range w {
		switch {
		case isCyrillic(r):
			cyr++
		case isLatin(r):
			lat++
		case r >= '0' && r <= '9':
			dig++
		}
	}
	if cyr > 0 && lat > 0 {
		toCyr := cyr >= lat
		for _, r := range w {
			if toCyr && isLatin(r) {
				if _, ok := toCyrillic(r); !ok {
					return false, false, cyr, lat
				}
			} else if !toCyr && isCyrillic(r) {
				if _, ok := toLatin(r); !ok {
					return false, false, cyr, lat
				}
			}
		}
		for i, r := range w {
			if toCyr && isLatin(r) {
				w[i], _ = toCyrillic(r)
			} else if !toCyr && isCyrillic(r) {
				w[i], _ = toLatin(r)
			}
		}
		if toCyr {
			cyr, lat = cyr+lat, 0
		} else {
			cyr, lat = 0, cyr+lat
		}
		homoglyph, changed = true, true
	}
	// Leetspeak: "к0д", "пар0ль". Only a digit between two Cyrillic
	// letters, so amounts ("5000р", "3дня") and codes ("a1") stay.
	if dig > 0 && cyr >= 2 && lat == 0 {
		for i := 1; i+1 < len(w); i++ {
			if c, ok := leetCyrillic(w[i]); ok && isCyrillic(w[i-1]) && isCyrillic(w[i+1]) {
				w[i] = c
				changed = true
				cyr++
			}
		}
	}
	// The same for Latin words, with the unambiguous digit only:
	// "BL0CKED", "passw0rd".
	if dig > 0 && lat >= 2 && cyr == 0 {
		for i := 1; i+1 < len(w); i++ {
			if w[i] == '0' && isLatin(w[i-1]) && isLatin(w[i+1]) {
				w[i] = 'o'
				changed = true
				lat++
			}
		}
	}
	return homoglyph, changed, cyr, lat
}

// span is a byte range [start, end) of a normalised text.
type span struct{ start, end int }

// pass2 is the word pass: it folds each word of src into dst and blanks
// the given spans (sorted, non-overlapping) with a single space. It
// counts homoglyph words and the Cyrillic and Latin letters left, for the
// language guess.
func pass2(dst *normText, src *normText, blank []span, word []rune) (homoglyphs, cyr, lat int, _ []rune) {
	dst.reset()
	s := src.s
	bi := 0
	for i := 0; i < len(s); {
		if bi < len(blank) && i >= blank[bi].start {
			end := blank[bi].end
			dst.s = append(dst.s, ' ')
			dst.off = append(dst.off, src.off[i])
			if end > i {
				i = end
			}
			bi++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if !isWordRune(r) {
			dst.s = append(dst.s, s[i:i+size]...)
			for k := 0; k < size; k++ {
				dst.off = append(dst.off, src.off[i+k])
			}
			i += size
			continue
		}
		// Collect a word, stopping at a blanked span.
		start := i
		limit := len(s)
		if bi < len(blank) && blank[bi].start < limit {
			limit = blank[bi].start
		}
		word = word[:0]
		j := i
		for j < limit {
			r, size := utf8.DecodeRune(s[j:])
			if !isWordRune(r) {
				break
			}
			word = append(word, r)
			j += size
		}
		h, changed, c, l := foldWord(word)
		if h {
			homoglyphs++
		}
		cyr += c
		lat += l
		if !changed {
			dst.s = append(dst.s, s[start:j]...)
			dst.off = append(dst.off, src.off[start:j]...)
			i = j
			continue
		}
		// Emit, mapping each rune to the original offset of the rune it
		// replaced (runes are replaced one for one).
		k := start
		for _, r := range word {
			_, size := utf8.DecodeRune(s[k:])
			before := len(dst.s)
			dst.s = utf8.AppendRune(dst.s, r)
			for b := before; b < len(dst.s); b++ {
				dst.off = append(dst.off, src.off[k])
			}
			k += size
		}
		i = j
	}
	dst.off = append(dst.off, src.off[len(src.off)-1])
	return homoglyphs, cyr, lat, word
}
