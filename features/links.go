package features

import (
	"strings"
	"unicode/utf8"
)

// link is a URL found in the text (rune-normalised, not folded: a
// homoglyph in a domain must stay visible).
type link struct {
	start, end int    // bytes of the text, path included
	host       string // lower case, "www." and trailing dot removed
}

// Link scanning. Scheme URLs ("https://", also glued to the word before
// it: "тут:https://…") and "www." hosts take any top-level domain; bare
// hosts ("bit.ly/x", "sber-bank.top") need a known top-level domain, so
// "т.е." or "file.txt" are not links. A host glued to a Russian word
// ("сайтsber-bank.top") is cut at the change of script; a host whose
// letters interleave scripts ("sberbanк.ru") is kept whole: that is a
// homoglyph domain. E-mail addresses are not links.

// isHostRune reports runes that can be part of a host as written in a chat.
func isHostRune(r rune) bool {
	return ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') || r == '-' || r == '.' || r == '_' ||
		isCyrillic(r) || r == 'ı'
}

func isPathByte(c byte) bool {
	switch c {
	case ' ', '\n', '\t', '"', '<', '>', '{', '}', '|', '\\', '^':
		return false
	}
	return c >= 0x21
}

// scanLinks appends the links of s to dst, in order.
func (x *Extractor) scanLinks(dst []link, s string) []link {
	i := 0
	for i < len(s) {
		// Find the next candidate: a scheme, or a dot inside a host run.
		k := strings.IndexAny(s[i:], ".:")
		if k < 0 {
			break
		}
		p := i + k
		if s[p] == ':' {
			if strings.HasPrefix(s[p:], "://") {
				if l, ok := x.schemeLink(s, p); ok {
					dst = append(dst, l)
					i = l.end
					continue
				}
			}
			i = p + 1
			continue
		}
		l, next, ok := x.bareLink(s, p)
		if ok {
			// A link may not start inside a previous one.
			if len(dst) == 0 || l.start >= dst[len(dst)-1].end {
				dst = append(dst, l)
			}
		}
		i = next
	}
	return dst
}

// schemeLink reads "scheme://[user@]host[:port][/path]" around p, the
// offset of "://".
func (x *Extractor) schemeLink(s string, p int) (link, bool) {
	// The scheme: ASCII letters just before "://".
	st := p
	for st > 0 && isLatin(rune(s[st-1])) {
		st--
	}
	scheme := s[st:p]
	switch {
	case strings.HasSuffix(scheme, "https"):
		st = p - 5
	case strings.HasSuffix(scheme, "http"):
		st = p - 4
	case scheme == "":
		return link{}, false
	}
	h := p + 3
	e := h
	for e < len(s) && isPathByte(s[e]) && s[e] != '/' && s[e] != '?' && s[e] != '#' {
		e++
	}
	auth := s[h:e]
	// "http://sberbank.ru@evil.top": the host is after the last '@'.
	if at := strings.LastIndexByte(auth, '@'); at >= 0 {
		auth = auth[at+1:]
	}
	if c := strings.IndexByte(auth, ':'); c >= 0 {
		auth = auth[:c]
	}
	host := cleanHost(auth)
	if host == "" || !strings.Contains(host, ".") && host != "localhost" {
		return link{}, false
	}
	end := e
	for end < len(s) && isPathByte(s[end]) {
		end++
	}
	end = trimURLTail(s, h, end)
	return link{start: st, end: end, host: host}, true
}

// bareLink tries to read a host around the dot at p. next is where
// scanning continues.
func (x *Extractor) bareLink(s string, p int) (link, int, bool) {
	// Extend left and right over host runes.
	st := p
	for st > 0 {
		r, size := utf8.DecodeLastRuneInString(s[:st])
		if !isHostRune(r) {
			break
		}
		st -= size
	}
	e := p
	for e < len(s) {
		r, size := utf8.DecodeRuneInString(s[e:])
		if !isHostRune(r) {
			break
		}
		e += size
	}
	next := e
	if next <= p {
		next = p + 1
	}
	if st > 0 && s[st-1] == '@' { // e-mail address
		return link{}, next, false
	}
	hostEnd := e
	for hostEnd > st && (s[hostEnd-1] == '.' || s[hostEnd-1] == '-' || s[hostEnd-1] == '_') {
		hostEnd--
	}
	raw := s[st:hostEnd]
	dot := strings.LastIndexByte(raw, '.')
	if dot <= 0 {
		return link{}, next, false
	}
	tld := raw[dot+1:]
	first := raw
	if d := strings.IndexByte(raw, '.'); d >= 0 {
		first = raw[:d]
	}
	// A Russian word glued before a Latin host: cut it off.
	if cut := gluedPrefix(first); cut > 0 {
		st += cut
		raw = raw[cut:]
		for len(raw) > 0 && (raw[0] == '-' || raw[0] == '_') {
			raw = raw[1:]
			st++
		}
	}
	host := cleanHost(raw)
	if host == "" || strings.HasPrefix(host, ".") || strings.Contains(host, "..") {
		return link{}, next, false
	}
	switch {
	case strings.HasPrefix(raw, "www.") && isAlphaTLD(tld):
	case x.lists.known(host):
	case x.lists.tlds[tld] && len(raw)-len(tld)-1 >= 2:
	case isIPv4(host) && e < len(s) && (s[e] == '/' || s[e] == ':'):
	default:
		return link{}, next, false
	}
	end := hostEnd
	if end < len(s) && (s[end] == '/' || s[end] == ':' || s[end] == '?') {
		for end < len(s) && isPathByte(s[end]) {
			end++
		}
		end = trimURLTail(s, hostEnd, end)
		next = end
	}
	return link{start: st, end: end, host: host}, next, true
}

// gluedPrefix returns the byte length of a Cyrillic prefix (two letters
// or more) glued to a Latin host label ("сайтsber-bank"), 0 if there is
// none. A label where the scripts interleave is a homoglyph label, not a
// glued one.
func gluedPrefix(label string) int {
	i := 0
	n := 0
	for i < len(label) {
		r, size := utf8.DecodeRuneInString(label[i:])
		if !isCyrillic(r) {
			break
		}
		i += size
		n++
	}
	if n < 2 || i == len(label) {
		return 0
	}
	rest := label[i:]
	for _, r := range rest {
		if isCyrillic(r) {
			return 0
		}
	}
	if !strings.ContainsAny(rest, "abcdefghijklmnopqrstuvwxyz0123456789") {
		return 0
	}
	return i
}

// cleanHost lower-cases nothing (the text is lower case already), strips
// "www." and dots at the ends.
func cleanHost(h string) string {
	h = strings.Trim(h, ".-_")
	h = strings.TrimPrefix(h, "www.")
	return h
}

func isAlphaTLD(t string) bool {
	if len(t) < 2 {
		return false
	}
	for _, r := range t {
		if !isLatin(r) && !isCyrillic(r) {
			return false
		}
	}
	return true
}

func trimURLTail(s string, min, end int) int {
	for end > min {
		switch s[end-1] {
		case '.', ',', '!', '?', ')', ']', '\'', ';', ':':
			end--
			continue
		}
		break
	}
	return end
}

func isIPv4(h string) bool {
	parts := 0
	n := 0
	for i := 0; i <= len(h); i++ {
		if i == len(h) || h[i] == '.' {
			if n == 0 || n > 3 {
				return false
			}
			parts++
			n = 0
			continue
		}
		if h[i] < '0' || h[i] > '9' {
			return false
		}
		n++
	}
	return parts == 4
}

// registrable splits a host into its registrable label and the labels
// before it: "online.sberbank.ru" → "sberbank"; "x.example.co.uk" →
// "example".
func registrable(host string) string {
	// Label by label from the right, without splitting: this runs for
	// every well-known domain against every link.
	last := strings.LastIndexByte(host, '.')
	if last < 0 {
		return host
	}
	prev := strings.LastIndexByte(host[:last], '.') // -1: two labels
	if prev >= 0 && secondLevel[host[prev+1:]] {
		return host[strings.LastIndexByte(host[:prev], '.')+1 : prev]
	}
	return host[prev+1 : last]
}

// secondLevel lists public suffixes of two labels that are common in our
// traffic; a full public suffix list is not needed to spot a lookalike.
var secondLevel = map[string]bool{
	"co.uk": true, "org.uk": true, "ac.uk": true, "gov.uk": true, "com.ru": true, "net.ru": true,
	"org.ru": true, "pp.ru": true, "msk.ru": true, "spb.ru": true, "gov.ru": true, "com.ua": true,
	"co.il": true, "com.au": true, "co.jp": true, "com.br": true, "co.in": true, "com.tr": true,
	"com.kz": true, "co.kr": true, "com.cn": true, "com.by": true, "msk.su": true,
}

// hostMatches reports whether host is d or a subdomain of d.
func hostMatches(host, d string) bool {
	return host == d || (len(host) > len(d) && strings.HasSuffix(host, d) && host[len(host)-len(d)-1] == '.')
}

// linkStats is what the links of one message add up to.
type linkStats struct {
	urls, unknown, official, shorteners, lookalike, ip, puny int
	lookalikeHost                                            string
}

// classify counts one link host.
func (x *Extractor) classify(st *linkStats, host string) {
	st.urls++
	if isIPv4(host) {
		st.ip++
		st.unknown++
		return
	}
	if x.isOfficial(host) {
		st.official++
		return
	}
	if x.lists.wellKnown(host) {
		return
	}
	st.unknown++
	if x.lists.shortener(host) {
		st.shorteners++
	}
	puny := strings.Contains(host, "xn--")
	if puny || !isASCII(host) && mixedScriptHost(host) {
		st.puny++
	}
	if x.isLookalike(host) {
		st.lookalike++
		if st.lookalikeHost == "" {
			st.lookalikeHost = host
		}
	}
}

func (x *Extractor) isOfficial(host string) bool {
	for _, d := range x.officialDomains {
		if hostMatches(host, d) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// mixedScriptHost reports a host with a label mixing Latin and Cyrillic,
// or a Cyrillic label under a Latin top-level domain: an IDN built to
// look like a Latin name.
func mixedScriptHost(host string) bool {
	labels := strings.Split(host, ".")
	tldLatin := isASCII(labels[len(labels)-1])
	for _, l := range labels {
		var c, a bool
		for _, r := range l {
			if isCyrillic(r) {
				c = true
			} else if isLatin(r) {
				a = true
			}
		}
		if c && a || c && tldLatin {
			return true
		}
	}
	return false
}

// foldHost decodes punycode labels and folds Cyrillic look-alikes to
// Latin, so "xn--sberbnk-…" and "sberbanк.ru" compare as what they show.
func foldHost(host string) string {
	if isASCII(host) && !strings.Contains(host, "xn--") {
		return host
	}
	labels := strings.Split(host, ".")
	for i, l := range labels {
		if strings.HasPrefix(l, "xn--") {
			if d, ok := punyDecode(l[4:]); ok {
				l = d
			}
		}
		var b strings.Builder
		for _, r := range l {
			if c, ok := toLatin(r); ok {
				r = c
			}
			b.WriteRune(r)
		}
		labels[i] = b.String()
	}
	return strings.Join(labels, ".")
}

// isLookalike reports whether a host that is not official imitates an
// official domain: a homoglyph or punycode spelling of it, the same
// registrable label under another suffix, a label one or two edits away,
// or the brand embedded in a longer name ("sberbank-online.top",
// "sberbank.ru.secure-login.top").
func (x *Extractor) isLookalike(host string) bool {
	folded := foldHost(host)
	if folded != host && x.isOfficial(folded) {
		return true
	}
	reg := registrable(folded)
	regNoHyphen := strings.ReplaceAll(reg, "-", "")
	for _, b := range x.brands {
		if reg == b || regNoHyphen == b {
			return true
		}
		if n := len(b); n >= 4 {
			maxD := 1
			if n >= 6 {
				maxD = 2
			}
			if d := editDistance(reg, b, maxD); d <= maxD {
				return true
			}
			if d := editDistance(regNoHyphen, b, maxD); d <= maxD {
				return true
			}
			for _, l := range strings.Split(folded, ".") {
				if strings.Contains(l, b) {
					return true
				}
			}
		}
	}
	if latin := cyrillicHostToLatin(host); latin != "" {
		// "востокбанк-онлайн.рф" reads as the brand to a Russian reader,
		// though no letter of it is a look-alike.
		for _, b := range x.brands {
			if len(b) < 4 {
				continue
			}
			for _, l := range strings.Split(latin, ".") {
				if strings.Contains(strings.ReplaceAll(l, "-", ""), b) {
					return true
				}
			}
		}
	}
	return imitatesWellKnown(folded, folded != host)
}

// cyrillicTranslit spells Russian letters in Latin the way brand names
// are usually romanised (й as y, х as kh and as h is covered by brands).
var cyrillicTranslit = map[rune]string{
	'а': "a", 'б': "b", 'в': "v", 'г': "g", 'д': "d", 'е': "e", 'ё': "e", 'ж': "zh", 'з': "z",
	'и': "i", 'й': "y", 'к': "k", 'л': "l", 'м': "m", 'н': "n", 'о': "o", 'п': "p", 'р': "r",
	'с': "s", 'т': "t", 'у': "u", 'ф': "f", 'х': "kh", 'ц': "ts", 'ч': "ch", 'ш': "sh", 'щ': "sch",
	'ъ': "", 'ы': "y", 'ь': "", 'э': "e", 'ю': "yu", 'я': "ya",
}

// cyrillicHostToLatin romanises a host written (after punycode decoding)
// in Cyrillic letters; "" when it has none.
func cyrillicHostToLatin(host string) string {
	labels := strings.Split(host, ".")
	found := false
	for i, l := range labels {
		if strings.HasPrefix(l, "xn--") {
			if d, ok := punyDecode(l[4:]); ok {
				l = d
			}
		}
		var b strings.Builder
		for _, r := range strings.ToLower(l) {
			if t, ok := cyrillicTranslit[r]; ok {
				found = true
				b.WriteString(t)
				continue
			}
			b.WriteRune(r)
		}
		labels[i] = b.String()
	}
	if !found {
		return ""
	}
	return strings.Join(labels, ".")
}

// genericLabels are well-known registrable labels that are also ordinary
// words, so finding them inside another domain means nothing.
var genericLabels = map[string]bool{"live": true, "office": true, "mail": true, "zoom": true, "booking": true}

// imitatesWellKnown reports a host (not itself well known: classify
// checks that first) that wears a well-known brand as a whole word of its
// name: "sberbank-secure.top", "ozon-vozvrat.site", "paypal.com.verify.io",
// "gosuslugi.site". Brands of under four letters and ordinary words are
// skipped; a brand merely inside a longer word ("amazonite") is not a hit,
// nor is plain brand.com/.org/.net beside the listed one (wikipedia.com);
// disguised says the host was spelt with look-alike characters or punycode.
func imitatesWellKnown(host string, disguised bool) bool {
	parts := strings.FieldsFunc(host, func(r rune) bool { return r == '.' || r == '-' })
	if !disguised && len(parts) == 2 && (parts[1] == "com" || parts[1] == "org" || parts[1] == "net") {
		return false // brand.com next to a listed brand.org is the brand's own, not a lookalike
	}
	for _, d := range wellKnownDomains {
		b := registrable(d)
		if len(b) < 4 || genericLabels[b] {
			continue
		}
		for _, p := range parts[:max(len(parts)-1, 0)] { // the last part is the TLD
			if p == b {
				return true
			}
		}
	}
	return false
}

// editDistance is the optimal-string-alignment (Damerau) distance of a
// and b over bytes, or max+1 when it exceeds max.
func editDistance(a, b string, max int) int {
	if d := len(a) - len(b); d > max || -d > max {
		return max + 1
	}
	if len(a) > 64 || len(b) > 64 {
		if a == b {
			return 0
		}
		return max + 1
	}
	var rows [3][65]int
	prev2, prev, cur := &rows[0], &rows[1], &rows[2]
	for j := 0; j <= len(b); j++ {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		best := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
			best = min(best, v)
		}
		if best > max {
			return max + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	if prev[len(b)] > max {
		return max + 1
	}
	return prev[len(b)]
}
