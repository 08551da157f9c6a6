package features

import (
	"strings"
	"unicode/utf8"

	"github.com/jdkato/prose/v2"
)

// Tokenizing: prose (github.com/jdkato/prose/v2, tagging, segmentation
// and extraction off) is the reference tokenizer. It splits on white
// space and then peels prefixes ($ ( " [), suffixes (, ) " ] ! ; . ? : ')
// and English clitics ('ll 's 're 'm n't) off each span, looking every
// span up in an emoticon table and a regular expression on the way.
// Measured on this project's machines it costs ~40 µs for a 200-character
// message, more than the whole budget of Extract. So spans whose prose
// tokens are known without asking — a span with no apostrophe that is
// plain, or a run of letters and digits followed by suffix punctuation —
// are split here, and only the remaining spans go through prose, joined
// into one document per message. TestTokenizerMatchesProse checks that
// the result is exactly prose's on every span (lower-cased text, which is
// all Extract ever tokenizes).
//
// After prose, a token is cut into word pieces at every character that is
// not a letter or digit and at every change between digits and letters
// ("пин-код" → пин, код; "3000р" → 3000, р), because lexicons and stems
// work on words.

// proseOpts turns off everything but tokenization: no model is loaded.
func proseOpts() []prose.DocOpt {
	return []prose.DocOpt{prose.WithTagging(false), prose.WithSegmentation(false), prose.WithExtraction(false)}
}

const (
	prosePrefixes = "$(\"["
	proseSuffixes = ",)\"]!;.?:'"
)

// tokenizer produces prose-level tokens as byte spans of the text.
type tokenizer struct {
	opts     []prose.DocOpt
	proseAll bool // send every span through prose (tests, benchmarks)
}

// spanKind says how a white-space separated span is tokenized.
func fastSpan(s string) (bodyEnd int, ok bool) {
	if strings.IndexByte(s, '\'') >= 0 || strings.Contains(s, "&rsquo;") {
		return 0, false // clitics, and the entity prose's sanitizer turns into one
	}
	if strings.IndexByte(prosePrefixes, s[0]) >= 0 && len(s) > 1 {
		return 0, false
	}
	end := len(s)
	for end > 1 && strings.IndexByte(proseSuffixes, s[end-1]) >= 0 {
		end--
	}
	if end == len(s) {
		return end, true // plain: prose keeps it whole
	}
	// body + suffix punctuation: prose peels the suffixes one by one
	// unless the body is special (an emoticon), which a body of letters
	// and digits in lower case never is.
	for _, r := range s[:end] {
		if !isWordRune(r) {
			return 0, false
		}
	}
	return end, true
}

// tokens appends to dst the spans of the prose tokens of text that
// contain a letter or digit (punctuation tokens carry nothing for us).
// buf is scratch for the prose document.
func (t *tokenizer) tokens(dst []span, text string, buf []byte) ([]span, []byte) {
	type pending struct{ start, end, joined int }
	var slow [16]pending
	pend := slow[:0]
	buf = buf[:0]
	n := len(text)
	for i := 0; i < n; {
		r, size := utf8.DecodeRuneInString(text[i:])
		if isSpaceFast(r) {
			i += size
			continue
		}
		j := i
		hasWord := false
		for j < n {
			r, size := utf8.DecodeRuneInString(text[j:])
			if isSpaceFast(r) {
				break
			}
			if !hasWord && isWordRune(r) {
				hasWord = true
			}
			j += size
		}
		if !hasWord {
			i = j
			continue
		}
		if !t.proseAll {
			if end, ok := fastSpan(text[i:j]); ok {
				dst = append(dst, span{i, i + end})
				i = j
				continue
			}
		}
		if len(buf) > 0 {
			buf = append(buf, ' ')
		}
		pend = append(pend, pending{i, j, len(buf)})
		buf = append(buf, text[i:j]...)
		i = j
	}
	if len(pend) == 0 {
		return dst, buf
	}
	joined := string(buf)
	doc, err := prose.NewDocument(joined, t.opts...)
	if err != nil { // prose never fails without a model; keep the spans whole if it does
		for _, p := range pend {
			dst = append(dst, span{p.start, p.end})
		}
		return dst, buf
	}
	// Re-insert the prose tokens in text order: slow spans interleave
	// with fast ones, so collect and merge.
	toks := doc.Tokens()
	var extra [32]span
	slowSpans := extra[:0]
	cursor, pi := 0, 0
	for _, tk := range toks {
		if tk.Text == "" {
			continue
		}
		k := strings.Index(joined[cursor:], tk.Text)
		if k < 0 {
			continue // the sanitizer changed it ("&rsquo;"): punctuation only
		}
		start := cursor + k
		end := start + len(tk.Text)
		cursor = end
		for pi+1 < len(pend) && start >= pend[pi+1].joined {
			pi++
		}
		p := pend[pi]
		if !hasWordRune(tk.Text) {
			continue
		}
		s := p.start + (start - p.joined)
		e := p.start + (end - p.joined)
		if e > p.end {
			e = p.end
		}
		slowSpans = append(slowSpans, span{s, e})
	}
	return mergeSpans(dst, slowSpans), buf
}

func hasWordRune(s string) bool {
	for _, r := range s {
		if isWordRune(r) {
			return true
		}
	}
	return false
}

// mergeSpans merges two sorted span lists into dst (which holds the first;
// b must not share its memory), in linear time: fast and slow spans may
// alternate thousands of times.
func mergeSpans(a, b []span) []span {
	if len(b) == 0 {
		return a
	}
	i, j := len(a)-1, len(b)-1
	a = append(a, b...)
	// Merge from the back into the room b's copy made; on equal starts a's
	// span comes first.
	for k := len(a) - 1; j >= 0; k-- {
		if i >= 0 && a[i].start > b[j].start {
			a[k] = a[i]
			i--
		} else {
			a[k] = b[j]
			j--
		}
	}
	return a
}

// token is one word piece with its stems.
type token struct {
	start, end int // bytes of the folded text
	wordInfo
}

// pieces cuts prose tokens into word pieces and stems them. Runs of
// number pieces become one number token ("50 000" is one amount).
func pieces(dst []token, text string, toks []span, cache *stemCache) []token {
	for _, tk := range toks {
		s := text[tk.start:tk.end]
		i := 0
		for i < len(s) {
			r, size := utf8.DecodeRuneInString(s[i:])
			if !isWordRune(r) {
				i += size
				continue
			}
			digit := r >= '0' && r <= '9'
			j := i + size
			for j < len(s) {
				r2, size2 := utf8.DecodeRuneInString(s[j:])
				if !isWordRune(r2) || (r2 >= '0' && r2 <= '9') != digit {
					break
				}
				j += size2
			}
			info := cache.get(s[i:j])
			if info.stem == numberStem && len(dst) > 0 && dst[len(dst)-1].stem == numberStem &&
				onlySeparators(text[dst[len(dst)-1].end:tk.start+i]) {
				dst[len(dst)-1].end = tk.start + j
			} else {
				dst = append(dst, token{start: tk.start + i, end: tk.start + j, wordInfo: info})
			}
			i = j
		}
	}
	return dst
}

// onlySeparators reports whether s holds only what may sit inside a
// written number: spaces, dots, commas.
func onlySeparators(s string) bool {
	if len(s) > 2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '.', ',':
		default:
			return false
		}
	}
	return true
}
