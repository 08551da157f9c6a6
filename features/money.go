package features

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Money: an amount counts only with a currency, written before ("$500",
// "€ 200", "usd 50") or after ("50 000 руб", "5000р", "1 млн рублей",
// "1.5k$", "300 usdt"). "3000 в день" is not an amount: too many
// harmless numbers look like that.

var currencyPrefixes = []string{"$", "€", "£", "₽", "usd", "eur", "rub"}

// currencySuffixes are matched as word prefixes: "рубл" covers рубль,
// рубля, рублей. Entries ending in '.' are written forms of one-letter
// abbreviations.
var currencySuffixes = []string{
	"₽", "$", "€", "£", "₸", "₴", "руб", "рубл", "р", "rub", "rur", "usd", "usdt", "долл", "доллар",
	"dollar", "бакс", "eur", "euro", "евро", "gbp", "фунт", "pound", "btc", "биткоин", "bitcoin", "eth",
	"грн", "гривен", "uah", "тенге", "kzt", "сум",
}

// wordCurrencies must end at a word boundary exactly ("р" but not "рабочих");
// the others may be followed by letters (inflections).
var inflectedCurrencies = map[string]bool{
	"рубл": true, "доллар": true, "dollar": true, "бакс": true, "фунт": true, "pound": true, "биткоин": true,
	"bitcoin": true, "гривен": true, "долл": true, "euro": true,
}

var multipliers = []struct {
	word string
	mul  float64
}{
	{"тысяч", 1e3}, {"тыс", 1e3}, {"thousand", 1e3}, {"k", 1e3}, {"к", 1e3},
	{"миллиард", 1e9}, {"млрд", 1e9}, {"billion", 1e9}, {"bn", 1e9},
	{"миллион", 1e6}, {"млн", 1e6}, {"million", 1e6}, {"mln", 1e6},
}

// scanMoney appends the amounts found in s to dst, skipping numbers that
// start inside one of the skip spans (phones, cards).
func scanMoney(dst []float64, evid *span, s string, skip []span) []float64 {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			continue
		}
		if i > 0 {
			r, _ := utf8.DecodeLastRuneInString(s[:i])
			if isWordRune(r) || r == '.' || r == ',' {
				for i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
					i++
				}
				continue
			}
		}
		if inSpans(skip, i) {
			continue
		}
		v, end := readNumber(s, i)
		cur, prefixed := currencyBefore(s, i)
		mul, end2 := readMultiplier(s, end)
		suffixEnd, suffixed := currencyAfter(s, end2)
		switch {
		case suffixed:
			dst = append(dst, v*mul)
			if evid.end == 0 {
				*evid = span{i, suffixEnd}
			}
			i = suffixEnd - 1
		case prefixed:
			dst = append(dst, v*mul)
			if evid.end == 0 {
				*evid = span{cur, end2}
			}
			i = end2 - 1
		default:
			i = end - 1
		}
	}
	return dst
}

// readNumber reads "50 000", "1,500.50", "1.5", "5000" at i.
func readNumber(s string, i int) (float64, int) {
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	intPart := s[i:j]
	var b strings.Builder
	b.WriteString(intPart)
	// Thousands groups: a separator and exactly three digits.
	if len(intPart) <= 3 {
		for j+4 <= len(s) && (s[j] == ' ' || s[j] == ',' || s[j] == '.') &&
			isDigits(s[j+1:j+4]) && (j+4 == len(s) || s[j+4] < '0' || s[j+4] > '9') {
			// "1.500" is fifteen hundred only when another group or no
			// decimals follow; "1.5" stays a decimal.
			b.WriteString(s[j+1 : j+4])
			j += 4
		}
	}
	// Decimals: a separator and one or two digits.
	if j+1 < len(s) && (s[j] == '.' || s[j] == ',') && s[j+1] >= '0' && s[j+1] <= '9' {
		k := j + 1
		for k < len(s) && s[k] >= '0' && s[k] <= '9' && k-j <= 2 {
			k++
		}
		if k == len(s) || s[k] < '0' || s[k] > '9' {
			b.WriteByte('.')
			b.WriteString(s[j+1 : k])
			j = k
		}
	}
	v, err := strconv.ParseFloat(b.String(), 64)
	if err != nil {
		return 0, j
	}
	return v, j
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}

// currencyBefore reads a currency written before the amount at i and
// returns where it starts.
func currencyBefore(s string, i int) (int, bool) {
	k := i
	if k > 0 && s[k-1] == ' ' {
		k--
	}
	for _, p := range currencyPrefixes {
		if strings.HasSuffix(s[:k], p) {
			st := k - len(p)
			if st == 0 {
				return st, true
			}
			r, _ := utf8.DecodeLastRuneInString(s[:st])
			return st, !isWordRune(r)
		}
	}
	return i, false
}

// readMultiplier reads "k", " тыс.", " млн" after a number.
func readMultiplier(s string, i int) (float64, int) {
	j := i
	if j < len(s) && s[j] == ' ' {
		j++
	}
	for _, m := range multipliers {
		if !strings.HasPrefix(s[j:], m.word) {
			continue
		}
		e := j + len(m.word)
		// Inflections: тысяч-и, миллион-ов, million-s.
		for e < len(s) {
			r, size := utf8.DecodeRuneInString(s[e:])
			if !(isLatin(r) || isCyrillic(r)) || len(m.word) <= 2 {
				break
			}
			e += size
		}
		if r, _ := utf8.DecodeRuneInString(s[e:]); isWordRune(r) {
			continue
		}
		if e < len(s) && s[e] == '.' {
			e++
		}
		return m.mul, e
	}
	return 1, i
}

// currencyAfter reads a currency right after an amount.
func currencyAfter(s string, i int) (int, bool) {
	j := i
	if j < len(s) && s[j] == ' ' {
		j++
	}
	for _, c := range currencySuffixes {
		if !strings.HasPrefix(s[j:], c) {
			continue
		}
		e := j + len(c)
		if inflectedCurrencies[c] {
			for e < len(s) {
				r, size := utf8.DecodeRuneInString(s[e:])
				if !isCyrillic(r) && !isLatin(r) {
					break
				}
				e += size
			}
		}
		if r, _ := utf8.DecodeRuneInString(s[e:]); isLatin(r) || isCyrillic(r) {
			continue
		}
		if e < len(s) && s[e] == '.' && (c == "р" || c == "руб" || c == "долл") {
			e++
		}
		return e, true
	}
	return i, false
}
